// One Tofino pipe on one lcore. Each poll it
//   receives bursts from its RX queues (in virtual time, merged across
//     queues in arrival order),
//   runs the program's ingress pipeline over each burst,
//   hands every surviving packet to the traffic manager of its egress port
//     (the pipe that owns that port; others get it through an rte_ring),
//   advances the TM of the ports it owns to the current time, and runs the
//     egress pipeline and TX over what the TM releases.
// Every packet that does not leave is freed and counted under one reason.
#pragma once

#include <rte_ring.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "softfino/dataplane/clock.h"
#include "softfino/dataplane/ports.h"
#include "softfino/dataplane/stats.h"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/program.h"
#include "softfino/tm/egress_port.h"

namespace softfino::dataplane {

// What travels with a packet handed to another pipe's traffic manager, in an
// mbuf dynamic field.
struct TmTag {
  tm::Picoseconds arrival;
  pipe::PortId egress_port;
  uint8_t qid;
};

struct PipeSetup {
  uint16_t id = 0;  // also the TX queue this pipe owns on every port
  const pipe::Program* program = nullptr;
  std::vector<RxQueueRef> rx_queues;
  uint16_t port_count = 0;
  ClockMode clock = ClockMode::kReal;
  std::optional<RxTimestamp> rx_timestamp;  // for virtual time
  std::vector<uint64_t> port_rate_bps;      // per port
  // Per port: its TM when this pipe owns it, else null.
  std::vector<std::unique_ptr<tm::EgressPort>> owned_ports;
  // Per port: the inbox of the pipe that owns it (null when it is this one).
  std::vector<rte_ring*> owner_inbox;
  rte_ring* inbox = nullptr;  // packets other pipes hand to this pipe's TMs
  int tm_tag_offset = -1;
};

class alignas(RTE_CACHE_LINE_SIZE) PipeWorker {
 public:
  explicit PipeWorker(PipeSetup setup);
  ~PipeWorker();  // frees packets still queued

  // One round: receive, ingress, TM, egress, TX. Returns packets received.
  uint32_t PollOnce();
  // Sends everything still queued in this pipe's TMs (at shutdown).
  void Flush();

  uint16_t id() const { return s_.id; }
  const PipeStats& stats() const { return stats_; }
  // The TM of `port` when this pipe owns it, else null.
  const tm::EgressPort* tm_port(pipe::PortId port) const { return s_.owned_ports[port].get(); }

 private:
  struct RxStage {  // virtual time: one received burst per RX queue, consumed in order
    rte_mbuf* pkts[pipe::kBurstSize];
    uint16_t count = 0;
    uint16_t next = 0;
  };

  uint32_t ReceiveReal();
  uint32_t ReceiveVirtual();  // returns the packets taken into burst_
  void CountRx(pipe::PortId port, rte_mbuf* const* pkts, uint16_t n);
  void IngressAndEnqueue(tm::Picoseconds arrival_of_burst);
  void Enqueue(rte_mbuf* pkt, pipe::PortId port, uint8_t qid, tm::Picoseconds arrival);
  void DrainInbox();
  void AdvanceEgress(tm::Picoseconds now);
  void Collect(pipe::PortId port, const tm::Dequeued& d);
  void RunEgress(pipe::PortId port);
  void Drop(rte_mbuf* pkt, pipe::DropReason reason);

  PipeSetup s_;
  RealClock real_clock_;
  pipe::PacketBurst burst_;
  std::vector<RxStage> rx_stages_;
  std::vector<tm::Picoseconds> ingress_free_;  // per port: when its wire is free again
  std::vector<tm::Picoseconds> arrival_;       // of each packet in burst_ (virtual time)
  tm::Picoseconds virtual_now_ = 0;
  std::vector<pipe::EgressBurst> egress_;  // per owned port
  PipeStats stats_;
};

}  // namespace softfino::dataplane
