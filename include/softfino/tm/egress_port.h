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

#include <rte_common.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <memory>

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

// What the TM keeps about a packet besides its bytes. Eight bytes, passed
// by value (in a register): by reference it lived on Dispose's stack, built
// there by four narrow stores and read back whole into the queue's slot, a
// load that cannot be forwarded from those stores (l3fwd +2% by value, 5
// of 5 alternating runs).
struct PacketInfo {
  uint8_t qid = 0;
  uint16_t rid = 0;
  pipe::InstanceType instance = pipe::InstanceType::kNormal;
  pipe::MirrorSessionId mirror_session = 0;
};
static_assert(sizeof(PacketInfo) == 8);

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
  // AdvanceTo(now, ...) or Dequeue(now, ...) first so packets that left
  // before `now` no longer count.
  bool Enqueue(rte_mbuf* pkt, PacketInfo info, Picoseconds now) {
    rte_mbuf* refused;
    return EnqueueBurst(&pkt, 1, info, now, &refused) == 0;
  }

  // Enqueue for `n` packets arriving together at `now`, in order, into one
  // queue: each is taken or refused on its own (a short packet may fit
  // after a long one did not). The refused go to `refused`, in order;
  // returns how many. The queue's state lives in locals for the burst and
  // its statistics are written once (per packet they were ~3.5% of l3fwd).
  uint32_t EnqueueBurst(rte_mbuf* const* pkts, uint32_t n, PacketInfo info, Picoseconds now,
                        rte_mbuf** refused) {
    const uint8_t qid = info.qid < queue_count_ ? info.qid : static_cast<uint8_t>(queue_count_ - 1);
    Queue& q = queues_[qid];
    Slot* const slots = q.slots;
    const uint32_t mask = slot_mask_, limit = limit_cells_;
    uint32_t tail = q.tail, queued = q.count(), refused_count = 0, deepest = 0;
    uint64_t depth = q.depth, bytes = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t len = pkts[i]->pkt_len;
      const uint32_t cells = static_cast<uint32_t>(depth) + Cells(len);
      if (cells > limit || queued > mask) {
        refused[refused_count++] = pkts[i];
        continue;
      }
      depth += Cells(len) + (uint64_t{len} << 32);
      deepest = cells;  // depth only grows within the burst
      bytes += len;
      ++queued;
      // The slot holds all the dequeue needs (the length too), so that it
      // does not touch the mbuf again, long gone from the cache in a deep
      // queue.
      Slot& s = slots[tail++ & mask];
      s.pkt = pkts[i];
      s.arrival = now;
      s.depth_len = uint64_t{cells} | uint64_t{len} << 32;
      s.info = info;
    }
    if (refused_count != 0) q.stats.tail_drops.Add(refused_count);
    const uint32_t taken = n - refused_count;
    if (taken == 0) return refused_count;
    q.tail = tail;
    q.depth = depth;
    q.stats.enqueued_packets.Add(taken);
    q.stats.enqueued_bytes.Add(bytes);
    q.stats.depth_cells.Set(q.cells());
    if (deepest > q.stats.watermark_cells.value()) q.stats.watermark_cells.Set(deepest);
    backlog_ += taken;
    // They may start leaving at `now` (an idle port) but no earlier.
    if (now < no_start_before_) no_start_before_ = now;
    return refused_count;
  }

  // Takes the next packet if it starts leaving before `now` (or at all, when
  // `now` is kNever): into pkt/md/departure, returning true. Packets come
  // out in the order the port sends them.
  bool DequeueOne(Picoseconds now, rte_mbuf*& pkt, pipe::EgressIntrinsicMetadata& md,
                  Picoseconds& departure) {
    if (backlog_ == 0 || now <= no_start_before_) return false;
    Picoseconds start;
    const uint32_t qid = NextQueue(start);
    if (start >= now && now != kNever) {
      no_start_before_ = start;
      return false;
    }
    Pop(qid, start, pkt, md);
    departure = start;
    return true;
  }

  // DequeueOne for up to `room` packets, into arrays; returns how many.
  // A port of one queue (the usual one) is taken in one loop over locals:
  // through DequeueOne every packet stored and reloaded the port's state,
  // since the caller's arrays might alias it as far as the compiler knows.
  uint32_t Dequeue(Picoseconds now, uint32_t room, rte_mbuf** pkts, pipe::EgressIntrinsicMetadata* md,
                   Picoseconds* departure) {
    if (queue_count_ != 1) {
      uint32_t n = 0;
      while (n < room && DequeueOne(now, pkts[n], md[n], departure[n])) ++n;
      return n;
    }
    if (backlog_ == 0 || now <= no_start_before_) return 0;
    Queue& q = queues_[0];
    const Slot* const slots = q.slots;
    const uint32_t mask = slot_mask_, tail = q.tail;
    const Picoseconds ps_per_byte = ps_per_byte_;
    const bool identity = fills_identity_, queueing = fills_queueing_;
    uint32_t head = q.head, n = 0;
    uint64_t depth = q.depth;
    Picoseconds free = port_free_;
    for (; n < room && head != tail; ++n, ++head) {
      const Slot& s = slots[head & mask];
      const Picoseconds start = s.arrival > free ? s.arrival : free;
      if (start >= now && now != kNever) {
        no_start_before_ = start;
        break;
      }
      const uint32_t len = static_cast<uint32_t>(s.depth_len >> 32);
      pkts[n] = s.pkt;
      departure[n] = start;
      if (identity) FillIdentity(md[n], 0, s);
      if (queueing) FillQueueing(md[n], s, start, static_cast<uint32_t>(depth));
      depth -= Cells(len) + (uint64_t{len} << 32);
      free = start + (len + kWireOverheadBytes) * ps_per_byte;
    }
    if (n == 0) return 0;
    // As Pop: an emptied queue starts over at its first slot.
    if (head == tail) head = q.tail = 0;
    q.head = head;
    q.depth = depth;
    q.stats.depth_cells.Set(q.cells());
    backlog_ -= n;
    port_free_ = free;
    return n;
  }

  // Sends to `emit(const Dequeued&)` every packet that starts leaving before
  // `now` (or at it, when `now` is kNever), in the order the port sends them.
  // For the slow path (shutdown) and tests; the pipes use DequeueOne.
  template <typename Emit>
  void AdvanceTo(Picoseconds now, Emit&& emit) {
    Dequeued out;
    while (DequeueOne(now, out.pkt, out.md, out.departure)) emit(out);
  }

  // How much of the egress metadata dequeues fill in; the rest is left as
  // it was, for a program whose egress reads less
  // (pipe::Program::EgressMetadataRead). Its ten fields were 27 of l3fwd's
  // ~530 instructions a packet (callgrind).
  void set_metadata_use(pipe::EgressMetadataUse use) {
    fills_identity_ = use != pipe::EgressMetadataUse::kNone;
    fills_queueing_ = use == pipe::EgressMetadataUse::kAll;
  }

  pipe::PortId port() const { return port_; }
  uint32_t backlog() const { return backlog_; }
  uint32_t depth_cells(uint8_t qid) const { return queues_[qid].cells(); }
  uint32_t depth_bytes(uint8_t qid) const { return queues_[qid].bytes(); }
  uint8_t queue_count() const { return queue_count_; }
  // Safe to read from another thread while the owning pipe runs.
  const QueueStats& stats(uint8_t qid) const { return queues_[qid].stats; }

 private:
  struct Slot {  // 32 bytes: two to a cache line
    rte_mbuf* pkt;
    Picoseconds arrival;
    uint64_t depth_len;  // enq_qdepth (cells) low, pkt_len high: one word (see Queue)
    PacketInfo info;
  };
  // What enqueue and dequeue touch of a queue, statistics included, in one
  // cache line. No two adjacent 32-bit fields are written together: GCC
  // merges such stores into one vector store, and with that a one-queue
  // port took 11 ns per packet instead of 7 in tm_bench (most likely the
  // next packet's scalar read of one field stalling store forwarding).
  // Hence free-running head and tail instead of head and count (both set
  // to 0 together only when the queue empties, not once a packet), and
  // depth in cells and bytes packed into one word.
  struct alignas(RTE_CACHE_LINE_SIZE) Queue {
    Slot* slots = nullptr;  // a ring of slot_mask_ + 1 (a power of two)
    uint32_t head = 0;      // free-running: the slot is head & slot_mask_
    uint32_t tail = 0;      // free-running; tail - head packets queued
    uint64_t depth = 0;     // cells in the low half, bytes in the high half
    QueueStats stats;

    uint32_t count() const { return tail - head; }
    uint32_t cells() const { return static_cast<uint32_t>(depth); }
    uint32_t bytes() const { return static_cast<uint32_t>(depth >> 32); }
  };
  static_assert(sizeof(Slot) == 32);
  static_assert(sizeof(Queue) == RTE_CACHE_LINE_SIZE);

  // The queue whose head leaves next, and when it starts (`start`); call
  // only with a backlog. Of the queue heads, the one that can start first
  // (none before the serializer is free); on a tie the highest qid.
  uint32_t NextQueue(Picoseconds& start) const {
    if (queue_count_ == 1) {
      const Picoseconds arrival = queues_[0].slots[queues_[0].head & slot_mask_].arrival;
      start = arrival > port_free_ ? arrival : port_free_;
      return 0;
    }
    uint32_t best = 0;
    start = kNever;
    for (uint32_t i = queue_count_; i-- > 0;) {  // highest qid first
      const Queue& q = queues_[i];
      if (q.count() == 0) continue;
      const Picoseconds arrival = q.slots[q.head & slot_mask_].arrival;
      if (arrival <= port_free_) {
        // Ready the moment the serializer is free, which nothing beats; a
        // lower qid would only tie.
        start = port_free_;
        return i;
      }
      if (arrival < start) {
        start = arrival;
        best = i;
      }
    }
    return best;
  }

  // Takes the head of queue `qid`, which starts leaving at `start`, with the
  // egress metadata it leaves with.
  void Pop(uint32_t qid, Picoseconds start, rte_mbuf*& pkt, pipe::EgressIntrinsicMetadata& md) {
    Queue& q = queues_[qid];
    const Slot& s = q.slots[q.head & slot_mask_];
    const uint32_t len = static_cast<uint32_t>(s.depth_len >> 32);
    pkt = s.pkt;
    if (fills_identity_) FillIdentity(md, qid, s);
    if (fills_queueing_) FillQueueing(md, s, start, q.cells());
    q.depth -= Cells(len) + (uint64_t{len} << 32);
    q.stats.depth_cells.Set(q.cells());
    // A queue that empties starts over at its first slot: a port that
    // keeps up (the usual case) then reuses a few slots that stay in L1,
    // instead of walking its whole ring (128 KB for 4,096 slots) and
    // missing L1 on every second packet's slot. The indices are only
    // ever used masked and subtracted, so moving both together is free.
    if (++q.head == q.tail) q.head = q.tail = 0;
    --backlog_;
    port_free_ = start + WireTime(len);
  }

  // The egress metadata of the packet in slot `s` of queue `qid`: what it
  // is, then how it queued, leaving at `start` from a queue `deq_cells`
  // deep (itself included).
  void FillIdentity(pipe::EgressIntrinsicMetadata& md, uint32_t qid, const Slot& s) const {
    md.egress_port = port_;
    md.egress_qid = static_cast<uint8_t>(qid);
    md.pkt_length = static_cast<uint16_t>(s.depth_len >> 32);
    md.egress_rid = s.info.rid;
    md.instance_type = s.info.instance;
    md.mirror_session = s.info.mirror_session;
  }
  void FillQueueing(pipe::EgressIntrinsicMetadata& md, const Slot& s, Picoseconds start,
                    uint32_t deq_cells) const {
    md.enq_qdepth = static_cast<uint32_t>(s.depth_len);
    md.enq_tstamp = static_cast<uint32_t>(s.arrival / kPsPerNs);
    md.deq_qdepth = deq_cells;
    // An idle port sends the packet the moment it arrives: no division.
    md.deq_timedelta = start == s.arrival ? 0 : static_cast<uint32_t>((start - s.arrival) / kPsPerNs);
  }

  EgressPort() = default;

  // The hot fields first: what every enqueue and dequeue reads. (C++17's
  // aligned new gives the queues their cache lines.)
  std::unique_ptr<Queue[]> queues_;  // an array: QueueStats' atomics cannot move
  Picoseconds port_free_ = 0;        // when the serializer finishes the last packet
  // No queue's head starts leaving before this: DequeueOne(now) for a `now`
  // at or before it has nothing to take and looks at no queue. The packets
  // of a burst arrive at one time, so all but the first find the port
  // checked already. Kept by Enqueue (a new head may start as it arrives),
  // set when a look finds the earliest start; a Pop only delays the heads
  // left (the port is busy until after what it sent, which started no
  // earlier than this).
  Picoseconds no_start_before_ = 0;
  Picoseconds ps_per_byte_ = 0;
  uint32_t backlog_ = 0;
  uint32_t slot_mask_ = 0;
  uint32_t limit_cells_ = 0;
  uint8_t queue_count_ = 0;
  bool fills_identity_ = true, fills_queueing_ = true;
  pipe::PortId port_ = 0;
  std::unique_ptr<Slot[]> slot_storage_;    // queue_count_ rings, one after the other
};

}  // namespace softfino::tm
