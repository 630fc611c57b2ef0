// NatPortPool against a plain enumeration of the pool: addresses in the
// order given, each with every port of the range; a flow asked again gets
// its first answer; nothing once the pool is used up.
#include "pipelines/tea_nat/nat_port_pool.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

namespace softfino::pipelines {
namespace {

tea::Key Flow(uint32_t n) {
  tea::Key k{};
  k[0] = static_cast<uint8_t>(n >> 24);
  k[1] = static_cast<uint8_t>(n >> 16);
  k[2] = static_cast<uint8_t>(n >> 8);
  k[3] = static_cast<uint8_t>(n);
  k[12] = 6;
  return k;
}

TEST(NatPortPoolTest, HandsOutEveryEndpointOnceThenNothing) {
  const std::vector<uint32_t> addresses = {0xCB007107, 0x64400001};  // 203.0.113.7, 100.64.0.1
  NatPortPool pool(addresses, 1000, 1009);
  ASSERT_EQ(pool.size(), 20u);
  std::vector<std::pair<uint32_t, uint16_t>> expected;  // written out, not computed the pool's way
  for (uint32_t a : addresses) {
    for (uint16_t p = 1000; p <= 1009; ++p) expected.emplace_back(a, p);
  }
  std::set<std::pair<uint32_t, uint16_t>> seen;
  for (uint32_t n = 0; n < 20; ++n) {
    const auto e = pool.For(Flow(n));
    ASSERT_TRUE(e.has_value()) << n;
    EXPECT_EQ(std::make_pair(e->address, e->port), expected[n]) << n;
    EXPECT_TRUE(seen.emplace(e->address, e->port).second) << n;
    // Asked again (an insert retried): the same endpoint, nothing used up.
    const auto again = pool.For(Flow(n));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->address, e->address);
    EXPECT_EQ(again->port, e->port);
  }
  EXPECT_EQ(pool.allocated(), 20u);
  EXPECT_FALSE(pool.For(Flow(20)).has_value());
  EXPECT_TRUE(pool.For(Flow(3)).has_value());  // known flows still answer
}

TEST(NatPortPoolTest, WholePortRange) {
  NatPortPool pool({0x0A000001}, 1, 65535);
  EXPECT_EQ(pool.size(), 65535u);
  for (uint32_t n = 0; n < 65535; ++n) {
    const auto e = pool.For(Flow(n));
    ASSERT_TRUE(e.has_value());
    ASSERT_EQ(e->port, n + 1);
  }
  EXPECT_FALSE(pool.For(Flow(65535)).has_value());
}

}  // namespace
}  // namespace softfino::pipelines
