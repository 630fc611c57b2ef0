// The traffic manager of one egress port: per-queue (qid) FIFOs with depth
// counted in bytes and 80-byte cells, tail drop at a per-queue limit, and a
// serializer that drains them at the port's rate, strict priority by qid
// (higher qid first among the packets present when the port is free). Time is whatever the caller says it is (picoseconds):
// the TSC when live, pcap timestamps when replaying, so the same code gives
// exact, repeatable queueing in tests.
//
// Same-instant rule: when a packet arrives at the very moment another one
// could start leaving, the arrival happens first (and is counted in the
// leaving packet's deq_qdepth).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "softfino/pipe/counter.h"
#include "softfino/pipe/intrinsic_metadata.h"
#include "softfino/tm/time.h"

namespace softfino::tm {

struct EgressPortConfig {
  uint64_t rate_bps = 10'000'000'000;  // line rate
  uint8_t queues = 1;                  // qids 0 .. queues-1
  uint32_t queue_limit_cells = 25000;  // tail drop beyond this depth (2 MB)
  uint32_t queue_capacity_packets = 4096;
};

// Per-queue statistics, written by the owning pipe, readable from any thread.
struct QueueStats {
  pipe::Counter enqueued_packets, enqueued_bytes, tail_drops;
  pipe::Counter depth_cells;      // now
  pipe::Counter watermark_cells;  // the deepest it has been
};

// What the TM keeps about a packet besides its bytes.
struct PacketInfo {
  uint8_t qid = 0;
  uint16_t rid = 0;
  pipe::InstanceType instance = pipe::InstanceType::kNormal;
  pipe::MirrorSessionId mirror_session = 0;
};

// A packet leaving the TM with the egress intrinsic metadata it gets there.
struct Dequeued {
  rte_mbuf* pkt;
  Picoseconds departure;  // when it starts onto the wire
  pipe::EgressIntrinsicMetadata md;
};

class EgressPort {
 public:
  static absl::StatusOr<std::unique_ptr<EgressPort>> Create(pipe::PortId port,
                                                            const EgressPortConfig& config);

  // Wire time of a frame of `pkt_len` bytes (no FCS) at this port's rate.
  Picoseconds WireTime(uint32_t pkt_len) const { return (pkt_len + kWireOverheadBytes) * ps_per_byte_; }

  // Enqueues `pkt` arriving at `now` into queue `info.qid` (clamped to the
  // last queue). Returns false, leaving the packet to the caller, when the
  // queue is over its limit or out of slots (tail drop). Call
  // AdvanceTo(now, ...) first so packets that left before `now` no longer count.
  bool Enqueue(rte_mbuf* pkt, const PacketInfo& info, Picoseconds now) {
    const uint8_t qid = info.qid < queue_count_ ? info.qid : static_cast<uint8_t>(queue_count_ - 1);
    Queue& q = queues_[qid];
    const uint32_t len = pkt->pkt_len;
    const uint32_t cells = Cells(len);
    if (q.depth_cells + cells > limit_cells_ || q.count == q.slots.size()) {
      q.stats.tail_drops.Add(1);
      return false;
    }
    q.depth_cells += cells;
    q.depth_bytes += len;
    q.stats.enqueued_packets.Add(1);
    q.stats.enqueued_bytes.Add(len);
    q.stats.depth_cells.Set(q.depth_cells);
    if (q.depth_cells > q.stats.watermark_cells.value()) q.stats.watermark_cells.Set(q.depth_cells);
    Slot& s = q.slots[(q.head + q.count++) & q.mask];
    s.pkt = pkt;
    s.arrival = now;
    s.enq_qdepth_cells = q.depth_cells;
    s.info = info;
    ++backlog_;
    return true;
  }

  // Sends to `emit(const Dequeued&)` every packet that starts leaving before
  // `now` (or at it, when `now` is kNever), in the order the port sends them.
  template <typename Emit>
  void AdvanceTo(Picoseconds now, Emit&& emit) {
    while (backlog_ != 0) {
      // The next packet to leave: of the queue heads, the one that can start
      // first (none before the serializer is free); on a tie the highest qid.
      Queue* q = nullptr;
      Picoseconds start = kNever;
      for (size_t i = queue_count_; i-- > 0;) {
        if (queues_[i].count == 0) continue;
        const Picoseconds arrival = queues_[i].slots[queues_[i].head].arrival;
        const Picoseconds ready = arrival > port_free_ ? arrival : port_free_;
        if (ready < start) {
          start = ready;
          q = &queues_[i];
        }
      }
      if (start >= now && now != kNever) return;
      const Slot& s = q->slots[q->head];
      const uint32_t len = s.pkt->pkt_len;
      Dequeued out;
      out.pkt = s.pkt;
      out.departure = start;
      out.md.egress_rid = s.info.rid;
      out.md.instance_type = s.info.instance;
      out.md.mirror_session = s.info.mirror_session;
      out.md.egress_port = port_;
      out.md.egress_qid = q->qid;
      out.md.pkt_length = static_cast<uint16_t>(len);
      out.md.enq_qdepth = s.enq_qdepth_cells;
      out.md.enq_tstamp = static_cast<uint32_t>(s.arrival / kPsPerNs);
      out.md.deq_qdepth = q->depth_cells;
      out.md.deq_timedelta = static_cast<uint32_t>((start - s.arrival) / kPsPerNs);
      q->depth_cells -= Cells(len);
      q->depth_bytes -= len;
      q->stats.depth_cells.Set(q->depth_cells);
      q->head = (q->head + 1) & q->mask;
      --q->count;
      --backlog_;
      port_free_ = start + WireTime(len);
      emit(out);
    }
  }

  pipe::PortId port() const { return port_; }
  uint32_t backlog() const { return backlog_; }
  uint32_t depth_cells(uint8_t qid) const { return queues_[qid].depth_cells; }
  uint32_t depth_bytes(uint8_t qid) const { return queues_[qid].depth_bytes; }
  uint8_t queue_count() const { return queue_count_; }
  // Safe to read from another thread while the owning pipe runs.
  const QueueStats& stats(uint8_t qid) const { return queues_[qid].stats; }

 private:
  struct Slot {
    rte_mbuf* pkt;
    Picoseconds arrival;
    uint32_t enq_qdepth_cells;
    PacketInfo info;
  };
  struct Queue {
    std::vector<Slot> slots;  // ring, power-of-two size
    uint8_t qid = 0;
    uint32_t mask = 0;
    uint32_t head = 0;
    uint32_t count = 0;
    uint32_t depth_cells = 0;
    uint32_t depth_bytes = 0;
    QueueStats stats;
  };

  EgressPort() = default;

  pipe::PortId port_ = 0;
  Picoseconds ps_per_byte_ = 0;
  uint32_t limit_cells_ = 0;
  uint32_t backlog_ = 0;
  Picoseconds port_free_ = 0;  // when the serializer finishes the last packet
  std::unique_ptr<Queue[]> queues_;  // an array: QueueStats' atomics cannot move
  uint8_t queue_count_ = 0;
};

}  // namespace softfino::tm
