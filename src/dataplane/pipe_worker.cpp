#include "softfino/dataplane/pipe_worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

namespace softfino::dataplane {

using pipe::DropReason;

PipeWorker::PipeWorker(uint16_t id, const pipe::Program& program,
                       std::vector<RxQueueRef> rx_queues, uint16_t port_count)
    : id_(id),
      program_(program),
      rx_queues_(std::move(rx_queues)),
      port_count_(port_count),
      ns_per_tsc_(1e9 / static_cast<double>(rte_get_tsc_hz())) {}

uint32_t PipeWorker::PollOnce() {
  uint32_t received = 0;
  for (const RxQueueRef& q : rx_queues_) {
    const uint16_t n = rte_eth_rx_burst(q.port, q.queue, burst_.pkts, pipe::kBurstSize);
    if (n == 0) continue;
    received += n;
    const uint64_t now_ns = static_cast<uint64_t>(static_cast<double>(rte_rdtsc()) * ns_per_tsc_);
    burst_.Reset(n, q.port, now_ns);
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) bytes += burst_.pkts[i]->pkt_len;
    stats_.ports[q.port].rx_packets.Add(n);
    stats_.ports[q.port].rx_bytes.Add(bytes);
    program_.Ingress(burst_);
    Deliver(burst_);
  }
  stats_.polls.Add(1);
  if (received) stats_.busy_polls.Add(1);
  return received;
}

void PipeWorker::Deliver(pipe::PacketBurst& burst) {
  rte_mbuf* dropped[pipe::kBurstSize];
  uint16_t n_dropped = 0;
  uint16_t touched[pipe::kBurstSize];
  uint16_t n_touched = 0;

  for (uint16_t i = 0; i < burst.count; ++i) {
    const pipe::IngressMetadata& md = burst.md[i];
    const uint16_t port = md.ig_intr_md_for_tm.ucast_egress_port;
    DropReason reason = md.ig_intr_md_for_dprsr.drop_reason;
    if (!md.dropped() && port >= port_count_) reason = DropReason::kBadEgressPort;
    if (md.dropped() || reason != DropReason::kNone) {
      // A program that sets drop_ctl without a reason is still counted.
      if (reason == DropReason::kNone) reason = DropReason::kProgramDrop;
      stats_.drops[static_cast<size_t>(reason)].Add(1);
      dropped[n_dropped++] = burst.pkts[i];
      continue;
    }
    if (tx_count_[port] == 0) touched[n_touched++] = port;
    tx_[port][tx_count_[port]++] = burst.pkts[i];
  }
  if (n_dropped) rte_pktmbuf_free_bulk(dropped, n_dropped);

  for (uint16_t t = 0; t < n_touched; ++t) {
    const uint16_t port = touched[t];
    const uint16_t n = tx_count_[port];
    tx_count_[port] = 0;
    rte_mbuf** pkts = tx_[port];
    // Lengths are read before sending: once sent, an mbuf is the driver's.
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) bytes += pkts[i]->pkt_len;
    const uint16_t sent = rte_eth_tx_burst(port, id_, pkts, n);
    if (sent < n) {
      for (uint16_t i = sent; i < n; ++i) bytes -= pkts[i]->pkt_len;
      stats_.drops[static_cast<size_t>(DropReason::kTxFull)].Add(n - sent);
      rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
    stats_.ports[port].tx_packets.Add(sent);
    stats_.ports[port].tx_bytes.Add(bytes);
  }
}

}  // namespace softfino::dataplane
