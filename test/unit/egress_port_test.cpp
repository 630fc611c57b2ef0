// tm::EgressPort with its egress metadata off (set_fills_metadata(false),
// for programs whose egress reads none of it): the same packets leave in the
// same order at the same times as with it on, and the metadata given is
// left as it was.
#include "softfino/tm/egress_port.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace softfino::tm {
namespace {

struct Departure {
  const rte_mbuf* pkt;
  Picoseconds at;
  bool operator==(const Departure&) const = default;
};

TEST(EgressPort, MetadataOffChangesNoScheduleAndLeavesTheMetadataAlone) {
  EgressPortConfig config;
  config.rate_bps = 10'000'000'000;
  config.queues = 4;
  config.queue_limit_cells = 200;  // small: some tail drops too
  auto on = EgressPort::Create(1, config);
  auto off = EgressPort::Create(1, config);
  ASSERT_TRUE(on.ok() && off.ok());
  (*off)->set_fills_metadata(false);

  std::vector<rte_mbuf> pkts(5000);
  std::mt19937 rng(3);
  std::vector<Departure> left_on, left_off;
  uint64_t untouched = 0, filled = 0;
  Picoseconds now = 0;
  const auto drain = [&](EgressPort& port, Picoseconds until, std::vector<Departure>& out,
                         bool expect_filled) {
    rte_mbuf* pkt;
    Picoseconds at;
    pipe::EgressIntrinsicMetadata md;
    md.enq_qdepth = 0xdeadbeef;  // a sentinel a dequeue never writes
    while (port.DequeueOne(until, pkt, md, at)) {
      out.push_back({pkt, at});
      if (expect_filled) {
        filled += md.enq_qdepth != 0xdeadbeef && md.egress_port == 1;
      } else {
        untouched += md.enq_qdepth == 0xdeadbeef && md.egress_port == 0;
      }
    }
  };
  size_t dropped = 0;
  for (rte_mbuf& m : pkts) {
    m.pkt_len = 64 + rng() % 1400;
    now += rng() % 600'000;  // bursts and gaps around the port's rate
    drain(**on, now, left_on, true);
    drain(**off, now, left_off, false);
    PacketInfo info;
    info.qid = static_cast<uint8_t>(rng() % 4);
    const bool a = (*on)->Enqueue(&m, info, now);
    const bool b = (*off)->Enqueue(&m, info, now);
    ASSERT_EQ(a, b);
    dropped += !a;
  }
  drain(**on, kNever, left_on, true);
  drain(**off, kNever, left_off, false);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(left_on.size() + dropped, pkts.size());
  EXPECT_EQ(left_on, left_off);
  EXPECT_EQ(filled, left_on.size());
  EXPECT_EQ(untouched, left_off.size());
}

}  // namespace
}  // namespace softfino::tm
