// tm::EgressPort against a naive model of a port (per-queue FIFOs, tail
// drop, a strict-priority serializer that looks at every queue each time),
// and with less of its egress metadata filled in (set_metadata_use, for
// programs whose egress reads less): the same packets leave in the same
// order at the same times as with all of it, and what is not asked for is
// left as it was.
#include "softfino/tm/egress_port.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <vector>

namespace softfino::tm {
namespace {

struct Departure {
  const rte_mbuf* pkt;
  Picoseconds at;
  bool operator==(const Departure&) const = default;
};

TEST(EgressPort, LessMetadataChangesNoScheduleAndLeavesTheRestAlone) {
  EgressPortConfig config;
  config.rate_bps = 10'000'000'000;
  config.queues = 4;
  config.queue_limit_cells = 200;  // small: some tail drops too
  using Use = pipe::EgressMetadataUse;
  const Use uses[] = {Use::kAll, Use::kIdentity, Use::kNone};
  std::vector<std::unique_ptr<EgressPort>> ports;
  for (const Use use : uses) {
    auto port = EgressPort::Create(1, config);
    ASSERT_TRUE(port.ok());
    (*port)->set_metadata_use(use);
    ports.push_back(*std::move(port));
  }

  std::vector<rte_mbuf> pkts(5000);
  std::mt19937 rng(3);
  std::vector<Departure> left[3];
  uint64_t as_asked[3] = {};
  Picoseconds now = 0;
  const auto drain = [&](int k, Picoseconds until) {
    rte_mbuf* pkt;
    Picoseconds at;
    pipe::EgressIntrinsicMetadata md;
    md.enq_qdepth = 0xdeadbeef;  // sentinels a dequeue that fills them never writes
    md.egress_rid = 0xbeef;
    while (ports[k]->DequeueOne(until, pkt, md, at)) {
      left[k].push_back({pkt, at});
      const bool identity = md.egress_port == 1 && md.egress_rid == 0 &&
                            md.pkt_length == (pkt->pkt_len & 0xffff);
      const bool queueing = md.enq_qdepth != 0xdeadbeef;
      switch (uses[k]) {
        case Use::kAll:
          as_asked[k] += identity && queueing;
          break;
        case Use::kIdentity:
          as_asked[k] += identity && !queueing;
          break;
        case Use::kNone:
          as_asked[k] += md.egress_port == 0 && md.egress_rid == 0xbeef && !queueing;
          break;
      }
      md.enq_qdepth = 0xdeadbeef;
      md.egress_rid = 0xbeef;
      md.egress_port = 0;
    }
  };
  size_t dropped = 0;
  for (rte_mbuf& m : pkts) {
    m.pkt_len = 64 + rng() % 1400;
    now += rng() % 600'000;  // bursts and gaps around the port's rate
    for (int k = 0; k < 3; ++k) drain(k, now);
    PacketInfo info;
    info.qid = static_cast<uint8_t>(rng() % 4);
    const bool a = ports[0]->Enqueue(&m, info, now);
    for (int k = 1; k < 3; ++k) ASSERT_EQ(ports[k]->Enqueue(&m, info, now), a);
    dropped += !a;
  }
  for (int k = 0; k < 3; ++k) drain(k, kNever);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(left[0].size() + dropped, pkts.size());
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(left[k], left[0]) << k;
    EXPECT_EQ(as_asked[k], left[0].size()) << k;
  }
}

// What leaves, with the metadata the model can tell apart, and the time of
// the call that took it (the first whose time is past its departure).
struct Left {
  const rte_mbuf* pkt;
  Picoseconds at, taken_at;
  uint32_t qid, enq_qdepth, deq_qdepth, deq_timedelta;
  bool operator==(const Left&) const = default;
};

// The port as its header describes it, written for clarity: every dequeue
// looks at every queue's head. Depths in cells, including the packet.
class NaivePort {
 public:
  NaivePort(const EgressPortConfig& c)
      : ps_per_byte_(8'000'000'000'000 / c.rate_bps), limit_(c.queue_limit_cells),
        capacity_(c.queue_capacity_packets), queues_(c.queues) {}

  bool Enqueue(const rte_mbuf* pkt, uint8_t qid, Picoseconds now) {
    Queue& q = queues_[std::min<size_t>(qid, queues_.size() - 1)];
    const uint32_t cells = Cells(pkt->pkt_len);
    if (q.cells + cells > limit_ || q.fifo.size() >= capacity_) return false;
    q.cells += cells;
    q.fifo.push_back({pkt, now, q.cells});
    return true;
  }

  // Everything that starts leaving before `now` (at all: kNever).
  void Dequeue(Picoseconds now, std::vector<Left>& out) {
    for (;;) {
      size_t best = queues_.size();
      Picoseconds best_start = kNever;
      for (size_t i = 0; i < queues_.size(); ++i) {
        if (queues_[i].fifo.empty()) continue;
        const Picoseconds start = std::max(queues_[i].fifo.front().arrival, port_free_);
        if (start < best_start || (start == best_start && i > best)) best = i, best_start = start;
      }
      if (best == queues_.size() || (now != kNever && best_start >= now)) return;
      Queue& q = queues_[best];
      const Entry e = q.fifo.front();
      q.fifo.pop_front();
      out.push_back({e.pkt, best_start, now, static_cast<uint32_t>(best), e.enq_cells, q.cells,
                     static_cast<uint32_t>((best_start - e.arrival) / kPsPerNs)});
      q.cells -= Cells(e.pkt->pkt_len);
      port_free_ = best_start + (e.pkt->pkt_len + kWireOverheadBytes) * ps_per_byte_;
    }
  }

 private:
  struct Entry {
    const rte_mbuf* pkt;
    Picoseconds arrival;
    uint32_t enq_cells;
  };
  struct Queue {
    std::deque<Entry> fifo;
    uint32_t cells = 0;
  };
  Picoseconds ps_per_byte_, port_free_ = 0;
  uint32_t limit_, capacity_;
  std::vector<Queue> queues_;
};

// Random traffic in bursts (several packets at one instant, as a received
// burst arrives in real time) and gaps, through EgressPort and NaivePort.
// Before each arrival whatever left before it is taken: from EgressPort as
// the pipes take it, in bursts of random room (Dequeue) with the packets
// of a burst for one queue enqueued together (EnqueueBurst), or one packet
// at a time (DequeueOne, Enqueue). A small ring (16 slots) wraps and
// empties often.
void CompareWithNaive(uint8_t queues, bool one_at_a_time) {
  EgressPortConfig config;
  config.rate_bps = 10'000'000'000;
  config.queues = queues;
  config.queue_limit_cells = 150;
  config.queue_capacity_packets = 16;
  auto made = EgressPort::Create(3, config);
  ASSERT_TRUE(made.ok());
  EgressPort& port = **made;
  NaivePort naive(config);
  std::vector<rte_mbuf> pkts(20000);
  std::vector<Picoseconds> arrival(pkts.size());
  std::vector<uint8_t> qid(pkts.size());
  std::mt19937 rng(queues * 2 + one_at_a_time);
  size_t burst_left = 0;
  Picoseconds now = 0;
  uint8_t burst_qid = 0;
  for (size_t i = 0; i < pkts.size(); ++i) {
    pkts[i].pkt_len = 64 + rng() % 1400;
    if (burst_left == 0) {
      now += rng() % 8'000'000;  // bursts of 1-8 packets, ~0.7 of the rate on average
      burst_left = 1 + rng() % 8;
      burst_qid = static_cast<uint8_t>(rng() % (queues + 1));  // one past the last: clamped
    }
    --burst_left;
    // Now and then one arrives late, as from another pipe's hand-off: its
    // time is before the last one's, and it may start before what the port
    // saw waiting then.
    arrival[i] = rng() % 8 == 0 ? now - std::min<Picoseconds>(now, rng() % 2'000'000) : now;
    qid[i] = rng() % 4 == 0 ? static_cast<uint8_t>(rng() % (queues + 1)) : burst_qid;
  }

  std::vector<Left> got, want;
  const auto take = [&](Picoseconds until) {
    rte_mbuf* out[32];
    pipe::EgressIntrinsicMetadata md[32];
    Picoseconds at[32];
    for (;;) {
      const uint32_t room = one_at_a_time ? 1 : 1 + rng() % 32;
      const uint32_t n = one_at_a_time ? port.DequeueOne(until, out[0], md[0], at[0])
                                       : port.Dequeue(until, room, out, md, at);
      for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(md[i].egress_port, 3);
        got.push_back({out[i], at[i], until, md[i].egress_qid, md[i].enq_qdepth, md[i].deq_qdepth,
                       md[i].deq_timedelta});
      }
      if (n < room) break;
    }
    naive.Dequeue(until, want);
  };
  size_t dropped = 0, together = 0;
  for (size_t i = 0; i < pkts.size();) {
    size_t end = i + 1;
    while (!one_at_a_time && end < pkts.size() && arrival[end] == arrival[i] && qid[end] == qid[i]) ++end;
    take(arrival[i]);
    std::vector<rte_mbuf*> burst, refused(end - i), naive_refused;
    for (size_t k = i; k < end; ++k) {
      burst.push_back(&pkts[k]);
      if (!naive.Enqueue(&pkts[k], qid[k], arrival[k])) naive_refused.push_back(&pkts[k]);
    }
    if (one_at_a_time) {
      refused.clear();
      if (!port.Enqueue(burst[0], PacketInfo{qid[i]}, arrival[i])) refused.push_back(burst[0]);
    } else {
      refused.resize(port.EnqueueBurst(burst.data(), static_cast<uint32_t>(burst.size()),
                                       PacketInfo{qid[i]}, arrival[i], refused.data()));
    }
    ASSERT_EQ(refused, naive_refused) << "packet " << i;
    dropped += refused.size();
    together += end - i > 1 ? end - i : 0;
    i = end;
  }
  take(kNever);
  EXPECT_GT(dropped, 20u);  // the bursts overflow the queues now and then
  if (!one_at_a_time) {
    EXPECT_GT(together, pkts.size() / 4);
  }
  EXPECT_GT(got.size(), pkts.size() / 2);
  EXPECT_EQ(got.size() + dropped, pkts.size());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "departure " << i;
  EXPECT_EQ(port.backlog(), 0u);
}

TEST(EgressPort, OneQueueInBurstsMatchesANaivePort) { CompareWithNaive(1, false); }
TEST(EgressPort, OneQueueOneAtATimeMatchesANaivePort) { CompareWithNaive(1, true); }
TEST(EgressPort, FourQueuesInBurstsMatchANaivePort) { CompareWithNaive(4, false); }
TEST(EgressPort, FourQueuesOneAtATimeMatchANaivePort) { CompareWithNaive(4, true); }

}  // namespace
}  // namespace softfino::tm
