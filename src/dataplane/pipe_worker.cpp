#include "softfino/dataplane/pipe_worker.h"

#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

namespace softfino::dataplane {

using pipe::DropReason;

PipeWorker::PipeWorker(PipeSetup setup)
    : s_(std::move(setup)),
      rx_stages_(s_.rx_queues.size()),
      ingress_free_(s_.port_count, 0),
      arrival_(pipe::kBurstSize, 0),
      egress_(s_.port_count) {}

PipeWorker::~PipeWorker() {
  for (auto& port : s_.owned_ports) {
    if (port) port->AdvanceTo(tm::kNever, [](const tm::Dequeued& d) { rte_pktmbuf_free(d.pkt); });
  }
  for (RxStage& stage : rx_stages_) {
    for (uint16_t i = stage.next; i < stage.count; ++i) rte_pktmbuf_free(stage.pkts[i]);
  }
}

void PipeWorker::Drop(rte_mbuf* pkt, DropReason reason) {
  stats_.drops[static_cast<size_t>(reason)].Add(1);
  rte_pktmbuf_free(pkt);
}

void PipeWorker::CountRx(pipe::PortId port, rte_mbuf* const* pkts, uint16_t n) {
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) bytes += pkts[i]->pkt_len;
  stats_.ports[port].rx_packets.Add(n);
  stats_.ports[port].rx_bytes.Add(bytes);
}

uint32_t PipeWorker::PollOnce() {
  const uint32_t received =
      s_.clock == ClockMode::kReal ? ReceiveReal() : ReceiveVirtual();
  DrainInbox();
  if (s_.clock == ClockMode::kReal) {
    AdvanceEgress(real_clock_.Now());
  } else {
    // Nothing new arrived: in a replay that means the input is drained, so
    // time runs on until every queue is empty.
    AdvanceEgress(received ? virtual_now_ : tm::kNever);
  }
  stats_.polls.Add(1);
  if (received) stats_.busy_polls.Add(1);
  return received;
}

void PipeWorker::Flush() {
  DrainInbox();
  AdvanceEgress(tm::kNever);
}

uint32_t PipeWorker::ReceiveReal() {
  uint32_t received = 0;
  for (const RxQueueRef& q : s_.rx_queues) {
    const uint16_t n = rte_eth_rx_burst(q.port, q.queue, burst_.pkts, pipe::kBurstSize);
    if (n == 0) continue;
    received += n;
    const tm::Picoseconds now = real_clock_.Now();
    burst_.Reset(n, q.port, now / tm::kPsPerNs);
    CountRx(q.port, burst_.pkts, n);
    IngressAndEnqueue(now);
  }
  return received;
}

// Virtual time: packets must reach the TM in arrival order across all RX
// queues, so the heads of one staged burst per queue are merged by arrival
// (the stamp, delayed while the ingress wire is still busy with the previous
// packet; ties go to the lower port). A burst ends when a stage runs dry,
// since its next packets, not yet received, might be earlier than the rest.
uint32_t PipeWorker::ReceiveVirtual() {
  for (size_t i = 0; i < rx_stages_.size(); ++i) {
    RxStage& stage = rx_stages_[i];
    if (stage.next < stage.count) continue;
    const RxQueueRef& q = s_.rx_queues[i];
    stage.count = rte_eth_rx_burst(q.port, q.queue, stage.pkts, pipe::kBurstSize);
    stage.next = 0;
    CountRx(q.port, stage.pkts, stage.count);
  }
  burst_.count = 0;
  while (burst_.count < pipe::kBurstSize) {
    size_t best = rx_stages_.size();
    tm::Picoseconds best_arrival = tm::kNever;
    for (size_t i = 0; i < rx_stages_.size(); ++i) {
      const RxStage& stage = rx_stages_[i];
      if (stage.next == stage.count) continue;
      const pipe::PortId port = s_.rx_queues[i].port;
      const tm::Picoseconds stamp = s_.rx_timestamp->Of(stage.pkts[stage.next]);
      const tm::Picoseconds arrival = stamp > ingress_free_[port] ? stamp : ingress_free_[port];
      if (arrival < best_arrival ||
          (arrival == best_arrival && port < s_.rx_queues[best].port)) {
        best = i;
        best_arrival = arrival;
      }
    }
    if (best == rx_stages_.size()) break;
    RxStage& stage = rx_stages_[best];
    const pipe::PortId port = s_.rx_queues[best].port;
    rte_mbuf* pkt = stage.pkts[stage.next++];
    ingress_free_[port] =
        best_arrival + (pkt->pkt_len + tm::kWireOverheadBytes) * (8'000'000'000'000 / s_.port_rate_bps[port]);
    arrival_[burst_.count] = best_arrival;
    burst_.Append(pkt, port, best_arrival / tm::kPsPerNs);
    virtual_now_ = best_arrival;
    if (stage.next == stage.count) break;
  }
  const uint16_t taken = burst_.count;
  if (taken) IngressAndEnqueue(0);
  return taken;
}

void PipeWorker::IngressAndEnqueue(tm::Picoseconds arrival_of_burst) {
  s_.program->Ingress(burst_);
  for (uint16_t i = 0; i < burst_.count; ++i) {
    const pipe::IngressMetadata& md = burst_.md[i];
    if (md.dropped()) {
      const DropReason reason = md.ig_intr_md_for_dprsr.drop_reason;
      Drop(burst_.pkts[i], reason == DropReason::kNone ? DropReason::kProgramDrop : reason);
      continue;
    }
    const pipe::PortId port = md.ig_intr_md_for_tm.ucast_egress_port;
    if (port >= s_.port_count) {
      Drop(burst_.pkts[i], DropReason::kBadEgressPort);
      continue;
    }
    const tm::Picoseconds arrival =
        s_.clock == ClockMode::kReal ? arrival_of_burst : arrival_[i];
    Enqueue(burst_.pkts[i], port, md.ig_intr_md_for_tm.qid, arrival);
  }
}

void PipeWorker::Enqueue(rte_mbuf* pkt, pipe::PortId port, uint8_t qid, tm::Picoseconds arrival) {
  tm::EgressPort* tm_port = s_.owned_ports[port].get();
  if (tm_port == nullptr) {
    TmTag* tag = RTE_MBUF_DYNFIELD(pkt, s_.tm_tag_offset, TmTag*);
    tag->arrival = arrival;
    tag->egress_port = port;
    tag->qid = qid;
    if (rte_ring_mp_enqueue(s_.owner_inbox[port], pkt) != 0) Drop(pkt, DropReason::kTmHandoffFull);
    return;
  }
  // Packets that left before this one arrived must not count in its depth.
  tm_port->AdvanceTo(arrival, [&](const tm::Dequeued& d) { Collect(port, d); });
  if (!tm_port->Enqueue(pkt, qid, arrival)) Drop(pkt, DropReason::kTmQueueFull);
}

void PipeWorker::DrainInbox() {
  if (s_.inbox == nullptr) return;
  rte_mbuf* pkts[pipe::kBurstSize];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst(s_.inbox, reinterpret_cast<void**>(pkts), pipe::kBurstSize,
                                        nullptr)) != 0) {
    for (unsigned i = 0; i < n; ++i) {
      const TmTag* tag = RTE_MBUF_DYNFIELD(pkts[i], s_.tm_tag_offset, const TmTag*);
      Enqueue(pkts[i], tag->egress_port, tag->qid, tag->arrival);
    }
  }
}

void PipeWorker::AdvanceEgress(tm::Picoseconds now) {
  for (pipe::PortId port = 0; port < s_.port_count; ++port) {
    tm::EgressPort* tm_port = s_.owned_ports[port].get();
    if (tm_port == nullptr) continue;
    tm_port->AdvanceTo(now, [&](const tm::Dequeued& d) { Collect(port, d); });
    if (egress_[port].count) RunEgress(port);
  }
}

// Gathers what the TM releases into egress bursts, one per port.
void PipeWorker::Collect(pipe::PortId port, const tm::Dequeued& d) {
  pipe::EgressBurst& eb = egress_[port];
  eb.pkts[eb.count] = d.pkt;
  eb.eg_intr_md[eb.count] = d.md;
  eb.eg_intr_md_for_dprsr[eb.count] = {};
  if (++eb.count == pipe::kBurstSize) RunEgress(port);
}

void PipeWorker::RunEgress(pipe::PortId port) {
  pipe::EgressBurst& eb = egress_[port];
  s_.program->Egress(eb);
  rte_mbuf* tx[pipe::kBurstSize];
  uint16_t n = 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < eb.count; ++i) {
    const auto& dprsr = eb.eg_intr_md_for_dprsr[i];
    if (dprsr.drop_ctl) {
      Drop(eb.pkts[i], dprsr.drop_reason == DropReason::kNone ? DropReason::kEgressDrop
                                                              : dprsr.drop_reason);
      continue;
    }
    bytes += eb.pkts[i]->pkt_len;  // read before sending: a sent mbuf is the driver's
    tx[n++] = eb.pkts[i];
  }
  eb.count = 0;
  if (n == 0) return;
  const uint16_t sent = rte_eth_tx_burst(port, s_.id, tx, n);
  for (uint16_t i = sent; i < n; ++i) {
    bytes -= tx[i]->pkt_len;
    Drop(tx[i], DropReason::kTxFull);
  }
  stats_.ports[port].tx_packets.Add(sent);
  stats_.ports[port].tx_bytes.Add(bytes);
}

}  // namespace softfino::dataplane
