// rte_lpm/rte_lpm6-backed tables against a naive longest-prefix match: a
// linear scan over every prefix, obviously right and far too slow to ship.
#include "softfino/pipe/lpm_table.h"

#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

using net::Ipv4Prefix;
using net::Ipv6Prefix;

constexpr LpmTableSize kSize4{4096, 1024};
constexpr LpmTableSize kSize6{4096, 8192};

struct NaiveLpm4 {
  std::map<std::pair<uint32_t, uint8_t>, uint32_t> routes;
  void Add(const Ipv4Prefix& p, uint32_t v) { routes[{p.addr, p.length}] = v; }
  void Delete(const Ipv4Prefix& p) { routes.erase({p.addr, p.length}); }
  uint32_t Lookup(uint32_t addr) const {
    int best = -1;
    uint32_t value = Ipv4LpmTable::kMiss;
    for (const auto& [key, v] : routes) {
      const auto& [prefix, len] = key;
      const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
      if ((addr & mask) == prefix && len > best) best = len, value = v;
    }
    return value;
  }
};

Ipv4Prefix P4(const char* text) { return *net::ParseIpv4Prefix(text); }
Ipv6Prefix P6(const char* text) { return *net::ParseIpv6Prefix(text); }
uint32_t A4(const char* text) { return P4((std::string(text) + "/32").c_str()).addr; }

std::unique_ptr<Ipv4LpmTable> NewTable4() { return *Ipv4LpmTable::Create("test4", kSize4); }
std::unique_ptr<Ipv6LpmTable> NewTable6() { return *Ipv6LpmTable::Create("test6", kSize6); }

TEST(Ipv4Lpm, EmptyTableMisses) {
  auto t = NewTable4();
  EXPECT_EQ(t->Lookup(A4("10.0.0.1")), Ipv4LpmTable::kMiss);
}

TEST(Ipv4Lpm, DefaultRouteCoversEverythingUnlessLongerMatches) {
  auto t = NewTable4();
  ASSERT_TRUE(t->Add(P4("0.0.0.0/0"), 7).ok());
  EXPECT_EQ(t->Lookup(0), 7u);
  EXPECT_EQ(t->Lookup(0xffffffff), 7u);
  ASSERT_TRUE(t->Add(P4("10.0.0.0/8"), 8).ok());
  EXPECT_EQ(t->Lookup(A4("10.200.1.1")), 8u);
  EXPECT_EQ(t->Lookup(A4("11.0.0.0")), 7u);
  ASSERT_TRUE(t->Delete(P4("0.0.0.0/0")).ok());
  EXPECT_EQ(t->Lookup(A4("11.0.0.0")), Ipv4LpmTable::kMiss);
  EXPECT_FALSE(t->Delete(P4("0.0.0.0/0")).ok());
}

TEST(Ipv4Lpm, HostRouteAndOverlappingPrefixes) {
  auto t = NewTable4();
  // Inserted shortest-last, so a longer prefix must survive a shorter one.
  ASSERT_TRUE(t->Add(P4("10.1.2.3/32"), 32).ok());
  ASSERT_TRUE(t->Add(P4("10.1.2.0/24"), 24).ok());
  ASSERT_TRUE(t->Add(P4("10.1.0.0/16"), 16).ok());
  ASSERT_TRUE(t->Add(P4("10.0.0.0/8"), 8).ok());
  EXPECT_EQ(t->Lookup(A4("10.1.2.3")), 32u);
  EXPECT_EQ(t->Lookup(A4("10.1.2.2")), 24u);
  EXPECT_EQ(t->Lookup(A4("10.1.2.4")), 24u);
  EXPECT_EQ(t->Lookup(A4("10.1.3.3")), 16u);
  EXPECT_EQ(t->Lookup(A4("10.2.2.3")), 8u);
  EXPECT_EQ(t->Lookup(A4("11.1.2.3")), Ipv4LpmTable::kMiss);
  // Deleting the /24 uncovers the /16 beneath it, but the /32 stays.
  ASSERT_TRUE(t->Delete(P4("10.1.2.0/24")).ok());
  EXPECT_EQ(t->Lookup(A4("10.1.2.2")), 16u);
  EXPECT_EQ(t->Lookup(A4("10.1.2.3")), 32u);
  // Replacing a value.
  ASSERT_TRUE(t->Add(P4("10.1.2.3/32"), 99).ok());
  EXPECT_EQ(t->Lookup(A4("10.1.2.3")), 99u);
}

TEST(Ipv4Lpm, ExtremeAddresses) {
  auto t = NewTable4();
  ASSERT_TRUE(t->Add(P4("255.255.255.255/32"), 1).ok());
  ASSERT_TRUE(t->Add(P4("0.0.0.0/32"), 2).ok());
  ASSERT_TRUE(t->Add(P4("128.0.0.0/1"), 3).ok());
  EXPECT_EQ(t->Lookup(0xffffffff), 1u);
  EXPECT_EQ(t->Lookup(0), 2u);
  EXPECT_EQ(t->Lookup(1), Ipv4LpmTable::kMiss);
  EXPECT_EQ(t->Lookup(0x80000000), 3u);
  EXPECT_EQ(t->Lookup(0x7fffffff), Ipv4LpmTable::kMiss);
}

TEST(Ipv4Lpm, RefusesValuesOutOfRangeAndReportsFullTable) {
  auto t = NewTable4();
  EXPECT_FALSE(t->Add(P4("10.0.0.0/8"), Ipv4LpmTable::kMaxValue + 1).ok());
  auto tiny = *Ipv4LpmTable::Create("tiny", {4, 16});
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(tiny->Add({static_cast<uint32_t>(i) << 24, 8}, 1).ok());
  }
  const absl::Status full = tiny->Add({5u << 24, 8}, 1);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
}

// Random prefixes biased to nest inside each other, random addresses biased
// to fall near them; single and bulk lookups must both agree with the scan.
TEST(Ipv4Lpm, MatchesNaiveReferenceOnRandomRoutes) {
  std::mt19937 rng(42);
  auto t = NewTable4();
  NaiveLpm4 naive;
  std::vector<Ipv4Prefix> added;
  for (int i = 0; i < 1500; ++i) {
    const uint8_t len = static_cast<uint8_t>(rng() % 33);
    uint32_t base = (i > 0 && rng() % 2) ? added[rng() % added.size()].addr : rng();
    base ^= rng() & ((len < 32) ? (~uint32_t{0} >> len) : 0);  // stay under a neighbour
    const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    const Ipv4Prefix p{base & mask, len};
    const uint32_t value = rng() % 1000;
    ASSERT_TRUE(t->Add(p, value).ok());
    naive.Add(p, value);
    added.push_back(p);
  }
  for (int i = 0; i < 300; ++i) {  // delete some
    const Ipv4Prefix& p = added[rng() % added.size()];
    const bool present = naive.routes.count({p.addr, p.length}) > 0;
    EXPECT_EQ(t->Delete(p).ok(), present);
    naive.Delete(p);
  }
  std::vector<uint32_t> addrs;
  for (int i = 0; i < 20000; ++i) {
    const Ipv4Prefix& p = added[rng() % added.size()];
    addrs.push_back(rng() % 4 == 0 ? rng() : p.addr ^ (rng() & (rng() % 2 ? 0xff : 0xffff)));
  }
  std::vector<uint32_t> bulk(addrs.size());
  t->LookupBulk(addrs.data(), bulk.data(), static_cast<unsigned>(addrs.size()));
  for (size_t i = 0; i < addrs.size(); ++i) {
    const uint32_t expected = naive.Lookup(addrs[i]);
    ASSERT_EQ(t->Lookup(addrs[i]), expected) << "address " << std::hex << addrs[i];
    ASSERT_EQ(bulk[i], expected) << "bulk, address " << std::hex << addrs[i];
  }
  // Bursts of every length up to 9 (four at a time, then one by one), at
  // unaligned starts.
  for (unsigned n = 1; n <= 9; ++n) {
    std::vector<uint32_t> part(n);
    t->LookupBulk(addrs.data() + n, part.data(), n);
    for (unsigned i = 0; i < n; ++i) ASSERT_EQ(part[i], naive.Lookup(addrs[n + i])) << n;
  }
}

// Without a default route a bulk miss is kMiss, in the groups of four too.
TEST(Ipv4Lpm, BulkMissesWithoutDefaultRoute) {
  auto t = NewTable4();
  ASSERT_TRUE(t->Add({0x0a000000, 24}, 7).ok());
  ASSERT_TRUE(t->Add({0x0a000180, 25}, 9).ok());  // a second-level (tbl8) entry
  const uint32_t addrs[6] = {0x0a000001, 0x0b000001, 0x0a000181, 0x0a000101, 0x0a000005, 0};
  uint32_t values[6];
  t->LookupBulk(addrs, values, 6);
  const uint32_t m = Ipv4LpmTable::kMiss;
  EXPECT_EQ(std::vector<uint32_t>(values, values + 6), (std::vector<uint32_t>{7, m, 9, m, 7, m}));
}

struct NaiveLpm6 {
  std::map<std::pair<std::array<uint8_t, 16>, uint8_t>, uint32_t> routes;
  uint32_t Lookup(const std::array<uint8_t, 16>& addr) const {
    int best = -1;
    uint32_t value = Ipv6LpmTable::kMiss;
    for (const auto& [key, v] : routes) {
      const auto& [prefix, len] = key;
      bool match = true;
      for (int bit = 0; bit < len && match; ++bit) {
        const uint8_t m = static_cast<uint8_t>(0x80u >> (bit % 8));
        match = (addr[bit / 8] & m) == (prefix[bit / 8] & m);
      }
      if (match && len > best) best = len, value = v;
    }
    return value;
  }
};

TEST(Ipv6Lpm, EdgesSlashZeroAndSlash128) {
  auto t = NewTable6();
  const Ipv6Prefix host = P6("2001:db8::1/128");
  EXPECT_EQ(t->Lookup(host.addr.data()), Ipv6LpmTable::kMiss);
  ASSERT_TRUE(t->Add(P6("::/0"), 1).ok());
  ASSERT_TRUE(t->Add(P6("2001:db8::/32"), 32).ok());
  ASSERT_TRUE(t->Add(host, 128).ok());
  EXPECT_EQ(t->Lookup(host.addr.data()), 128u);
  EXPECT_EQ(t->Lookup(P6("2001:db8::2/128").addr.data()), 32u);
  EXPECT_EQ(t->Lookup(P6("2001:db9::/128").addr.data()), 1u);
  ASSERT_TRUE(t->Delete(P6("::/0")).ok());
  EXPECT_EQ(t->Lookup(P6("2001:db9::/128").addr.data()), Ipv6LpmTable::kMiss);
}

TEST(Ipv6Lpm, MatchesNaiveReferenceOnRandomRoutes) {
  std::mt19937 rng(9);
  auto t = NewTable6();
  NaiveLpm6 naive;
  std::vector<std::pair<std::array<uint8_t, 16>, uint8_t>> added;
  for (int i = 0; i < 400; ++i) {
    const uint8_t len = static_cast<uint8_t>(rng() % 129);
    std::array<uint8_t, 16> a{};
    if (i > 0 && rng() % 2) a = added[rng() % added.size()].first;
    for (int b = 0; b < 16; ++b) {
      if (b * 8 >= len - 8 || rng() % 3 == 0) a[b] ^= static_cast<uint8_t>(rng());
    }
    for (int bit = len; bit < 128; ++bit) a[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    const uint32_t value = rng() % 1000;
    ASSERT_TRUE(t->Add({a, len}, value).ok());
    naive.routes[{a, len}] = value;
    added.push_back({a, len});
  }
  std::vector<std::array<uint8_t, 16>> addrs;
  for (int i = 0; i < 5000; ++i) {
    auto a = added[rng() % added.size()].first;
    a[15 - rng() % 8] ^= static_cast<uint8_t>(rng());
    addrs.push_back(a);
  }
  std::vector<uint32_t> bulk(addrs.size());
  t->LookupBulk(reinterpret_cast<const uint8_t(*)[16]>(addrs.data()), bulk.data(),
                static_cast<unsigned>(addrs.size()));
  for (size_t i = 0; i < addrs.size(); ++i) {
    const uint32_t expected = naive.Lookup(addrs[i]);
    ASSERT_EQ(t->Lookup(addrs[i].data()), expected) << i;
    ASSERT_EQ(bulk[i], expected) << "bulk " << i;
  }
}

}  // namespace
}  // namespace softfino::pipe
