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

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <cstdint>
#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "softfino/dataplane/clock.h"
#include "softfino/dataplane/ports.h"
#include "softfino/dataplane/stats.h"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/pktgen.h"
#include "softfino/pipe/program.h"
#include "softfino/pipe/versioned.h"
#include "softfino/tm/egress_port.h"
#include "softfino/tm/replication.h"

namespace softfino::dataplane {

// What travels with a packet handed to another pipe's traffic manager, in an
// mbuf dynamic field.
struct TmTag {
  tm::Picoseconds arrival;
  pipe::PortId egress_port;
  tm::PacketInfo info;
};

struct PipeSetup {
  uint16_t id = 0;  // also the TX queue this pipe owns on every port
  const pipe::Program* program = nullptr;
  std::vector<RxQueueRef> rx_queues;
  uint16_t port_count = 0;
  std::vector<uint16_t> ethdev;  // per port: DPDK's port id
  std::vector<uint16_t> tx_queue;  // per port: the TX queue its owner pipe sends on
  // Per port: an internal link to another switch in this process. In
  // virtual time a packet sent on one carries the time it is fully across
  // (its rx timestamp field), so the switch at the far end receives it then.
  std::vector<bool> internal_link;
  ClockMode clock = ClockMode::kReal;
  std::optional<RxTimestamp> rx_timestamp;  // for virtual time
  std::vector<uint64_t> port_rate_bps;      // per port
  // Per port: its TM when this pipe owns it, else null.
  std::vector<std::unique_ptr<tm::EgressPort>> owned_ports;
  // Per port: the inbox of the pipe that owns it (null when it is this one).
  std::vector<rte_ring*> owner_inbox;
  // Per pipe: its inbox (null for this one; empty with one pipe), for
  // packets sent to another pipe's recirculation port.
  std::vector<rte_ring*> pipe_inbox;
  rte_ring* inbox = nullptr;  // packets other pipes hand to this pipe's TMs
  uint16_t pipe_count = 1;    // pipes in the switch (each other one may fill an inbox)
  int tm_tag_offset = -1;
  // Multicast groups and mirror sessions: one version per poll (see rep_).
  const pipe::Versioned<tm::Replication>* replication = nullptr;
  rte_mempool* pool = nullptr;                   // for copies
  tm::EgressPortConfig recirculation;            // this pipe's recirculation port's TM
  // Table versions (pipe/versioned.h): this pipe reports a quiescent state
  // after every poll, as reader `id`. Null: no reporting.
  rte_rcu_qsbr* qsbr = nullptr;
  std::vector<pipe::PktgenApp> pktgen;  // the packet generator's timer apps
};

class alignas(RTE_CACHE_LINE_SIZE) PipeWorker {
 public:
  explicit PipeWorker(PipeSetup setup);
  ~PipeWorker();  // frees packets still queued

  // One round: receive, ingress, TM, egress, TX. Returns packets received.
  uint32_t PollOnce();
  // Sends everything still queued in this pipe's TMs (at shutdown).
  void Flush();
  // Holds no packet: its TMs, inbox, recirculation port and RX stages are
  // empty, and no packet generator runs (idle_backoff.h may let it sleep).
  bool Quiet() const;
  // Counts a sleep of the idle pipe (PipeStats::idle_sleeps).
  void CountIdleSleep() { stats_.idle_sleeps.Add(1); }

  uint16_t id() const { return s_.id; }
  // The pipe's clock (ns): the latest arrival in virtual time, the TSC else.
  uint64_t NowNs() const {
    return (s_.clock == ClockMode::kReal ? real_clock_.Now() : virtual_now_) / tm::kPsPerNs;
  }
  const PipeStats& stats() const { return stats_; }
  // The TM of `port` when this pipe owns it, else null.
  const tm::EgressPort* tm_port(pipe::PortId port) const { return s_.owned_ports[port].get(); }

 private:
  struct RxStage {  // virtual time: one received burst per RX queue, consumed in order
    rte_mbuf* pkts[pipe::kBurstSize];
    uint16_t count = 0;
    uint16_t next = 0;
  };
  // Packets that left the recirculation port, on their way back to ingress.
  struct Recirculated {
    rte_mbuf* pkt;
    tm::Picoseconds arrival;
  };

  uint32_t ReceiveReal();
  uint32_t ReceiveVirtual();  // returns the packets taken into burst_
  // Software RSS over the n packets read into burst_: keeps this pipe's at
  // its front (returns how many), hands the others to their pipes, drops
  // (and counts) what their full rings refuse.
  uint16_t Spread(SoftRss& rss, uint16_t n);
  // ReceiveVirtual when RX stage `i` is the only source with packets: takes
  // the rest of its burst and runs ingress; returns the packets taken.
  uint32_t ReceiveVirtualFrom(size_t i);
  void CountRx(pipe::PortId port, rte_mbuf* const* pkts, uint16_t n);
  void RunIngress();
  // Fires the packet generator's timer apps that are due at `now`.
  void Generate(tm::Picoseconds now);
  // One firing of app `index` at `now`; returns the packets it made.
  uint32_t Fire(const pipe::PktgenApp& app, size_t index, tm::Picoseconds now);
  // Virtual time: when the next timer is due (starting timers that have not
  // started at `first_arrival`), remembered in next_timer_bound_.
  tm::Picoseconds NextTimerPs(tm::Picoseconds first_arrival);
  // What the deparser and TM do with one packet after ingress.
  void Dispose(rte_mbuf* pkt, const pipe::IngressMetadata& md, tm::Picoseconds arrival,
               uint16_t index);
  void Resubmit(rte_mbuf* pkt, const pipe::IngressMetadata& md, tm::Picoseconds arrival,
                uint16_t index);
  void Enqueue(rte_mbuf* pkt, pipe::PortId port, tm::PacketInfo info,
               tm::Picoseconds arrival);
  // Packets that leave `tm_port` before `arrival` must not count in its
  // depth then: they are taken out into the port's egress burst.
  void ReleaseBefore(tm::EgressPort& tm_port, tm::Picoseconds arrival);
  enum class Fate : uint8_t;
  Fate FateOf(const pipe::IngressMetadata& md) const;
  bool SameRun(Fate fate, const pipe::IngressMetadata& a, const pipe::IngressMetadata& b) const;
  void EnqueueRun(Fate fate, uint16_t first, uint16_t n);
  void EnqueueTogether(rte_mbuf* const* pkts, uint16_t n, pipe::PortId port, tm::PacketInfo info,
                       tm::Picoseconds arrival);
  // A packet ingress sent to another pipe's recirculation port: as on
  // Tofino, it crosses the TM to that pipe, whose egress sends it back into
  // that pipe's ingress. False: no such pipe.
  bool RecirculateInPipe(rte_mbuf* pkt, pipe::PortId port, tm::PacketInfo info,
                         tm::Picoseconds arrival);
  // A copy of `pkt` for mirror session `session` and where it goes (the
  // caller enqueues it); pkt is null (and the drop counted) when the
  // session does not exist or no buffer is left.
  struct MirrorCopy {
    rte_mbuf* pkt = nullptr;
    pipe::PortId port = 0;
    tm::PacketInfo info;
  };
  // `header` (header_len bytes, 0: none) goes in front of the copy.
  MirrorCopy MakeMirrorCopy(rte_mbuf* pkt, pipe::MirrorSessionId session,
                            pipe::InstanceType instance, const uint8_t* header = nullptr,
                            uint8_t header_len = 0);
  void Multicast(rte_mbuf* const* pkts, uint16_t n, uint16_t group, bool keep_originals,
                 tm::Picoseconds arrival);
  void DrainInbox();
  // Whether every ring this pipe hands packets to has room for what one
  // poll may put there (see PollOnce).
  bool OutboxesHaveRoom() const;
  void AdvanceEgress(tm::Picoseconds now);
  // Releases what the TM sends by `now` into the port's egress burst, and
  // runs egress and TX over it (Enqueue collects without running egress,
  // but for a full burst).
  void AdvancePort(tm::EgressPort& tm_port, tm::Picoseconds now);
  void RunEgress(const tm::EgressPort& tm_port);
  void Drop(rte_mbuf* pkt, pipe::DropReason reason);
  // Index into the per-port arrays: front-panel ports, then the recirculation port.
  size_t Slot(pipe::PortId port) const { return port == recirc_port_ ? s_.port_count : port; }

  PipeSetup s_;
  const pipe::PortId recirc_port_;
  std::unique_ptr<tm::EgressPort> recirc_tm_;
  const bool recirculates_;
  const bool stamp_links_;  // virtual time and an internal link among the ports
  RealClock real_clock_;
  pipe::PacketBurst burst_;
  std::array<tm::Picoseconds, pipe::kBurstSize> arrival_{};  // of each packet in burst_
  // Resubmit: the packets' first bytes as they arrived, and a burst of one.
  std::vector<std::array<uint8_t, pipe::Program::kResubmitBytes>> original_;
  std::array<uint32_t, pipe::kBurstSize> original_len_{};
  pipe::PacketBurst resubmit_burst_;
  std::vector<RxStage> rx_stages_;
  std::vector<Recirculated> recirc_;  // ring of kRecircSlots
  static constexpr uint32_t kRecircSlots = 1024;
  uint32_t recirc_head_ = 0, recirc_count_ = 0;
  std::vector<tm::Picoseconds> ingress_free_;  // per port: when its wire is free again
  // Per port: a byte's time on its wire, kPsBitsPerSecond / its rate, worked
  // out once rather than divided for every packet received.
  std::vector<tm::Picoseconds> ingress_ps_per_byte_;
  tm::Picoseconds virtual_now_ = 0;
  std::vector<pipe::EgressBurst> egress_;  // per port slot
  std::vector<std::array<tm::Picoseconds, pipe::kBurstSize>> departure_;  // of egress_ packets
  std::vector<uint64_t> next_fire_ns_;  // per pktgen app; kNotStarted until the first poll
  std::vector<uint16_t> pktgen_batch_;  // per pktgen app: the next batch_id
  tm::Picoseconds next_timer_bound_ = 0;
  // Back-pressure: the software RSS spreaders of the ports this pipe reads,
  // whose rings (like the other pipes' inboxes in handoffs_) must have room
  // for a poll's packets before this pipe receives (OutboxesHaveRoom).
  std::vector<const SoftRss*> spreads_;
  // Packets for another pipe's TMs, gathered per poll and handed over a
  // burst at a time: one atomic update of the shared ring per burst, not
  // per packet.
  struct HandOff {
    rte_ring* ring;
    uint16_t count = 0;
    std::array<rte_mbuf*, pipe::kBurstSize> pkts{};
  };
  std::vector<HandOff> handoffs_;        // one per other pipe
  std::vector<int16_t> handoff_of_port_;  // per port: index into handoffs_, -1: owned here
  std::vector<int16_t> handoff_of_pipe_;  // per pipe: index into handoffs_, -1: this one
  // Tags `pkt` for port `port` of another pipe's TM and adds it to `h`.
  void HandOver(HandOff& h, rte_mbuf* pkt, pipe::PortId port, tm::PacketInfo info,
                tm::Picoseconds arrival);
  void FlushHandOff(HandOff& h);
  void FlushHandOffs() {
    for (HandOff& h : handoffs_) {
      if (h.count != 0) FlushHandOff(h);
    }
  }
  PipeStats stats_;
  // The replication version of the current poll: loaded once at its start
  // and held until its quiescent state, so a control-plane change (a mirror
  // session added, a group deleted) reaches each poll whole.
  const tm::Replication* rep_ = nullptr;
};

}  // namespace softfino::dataplane
