// The switch side of TEA that is plain computation: the on-chip cache
// (tea/flow_cache.h) against naive references of each policy, the
// in-flight lookups (tea/pending_lookups.h) against a map, and the cache's
// hit rate under skew (printed for tea_nat's README).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <list>
#include <map>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "softfino/tea/flow_cache.h"
#include "softfino/tea/key.h"
#include "softfino/tea/pending_lookups.h"

namespace softfino::tea {
namespace {

Key KeyOf(uint32_t flow) {
  FiveTuple t;
  t.src_ip = 0x0a000000 | flow;
  t.dst_ip = 0xc0a80001;
  t.src_port = static_cast<uint16_t>(1024 + flow % 50000);
  t.dst_port = 80;
  t.protocol = 6;
  return KeyOfFiveTuple(t);
}

// A set of `ways` entries as a list, written from the policies' textbook
// definitions: LRU moves a hit to the front and evicts the back; FIFO
// evicts the oldest inserted; CLOCK (as a queue: the hand is the front)
// gives an entry with its bit set a second chance at the back.
struct RefSet {
  struct Item {
    Key key;
    uint64_t value;
    bool referenced;
  };
  std::deque<Item> items;
};

class Reference {
 public:
  Reference(uint32_t sets, uint32_t ways, CachePolicy policy)
      : sets_(sets), ways_(ways), policy_(policy), table_(sets) {}

  std::optional<uint64_t> Find(const Key& k, uint32_t hash) {
    auto& s = table_[SetIndex(hash)].items;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i].key == k) {
        const uint64_t v = s[i].value;
        if (policy_ == CachePolicy::kLru) {
          RefSet::Item item = s[i];
          s.erase(s.begin() + static_cast<long>(i));
          s.push_back(item);  // the back is the most recent, the front goes first
        } else {
          s[i].referenced = true;
        }
        return v;
      }
    }
    return std::nullopt;
  }
  void Insert(const Key& k, uint32_t hash, uint64_t v) {
    auto& s = table_[SetIndex(hash)].items;
    for (auto& item : s) {
      if (item.key == k) {
        item.value = v;
        return;
      }
    }
    if (s.size() == ways_) {
      if (policy_ == CachePolicy::kClock) {
        while (s.front().referenced) {
          RefSet::Item item = s.front();
          s.pop_front();
          item.referenced = false;
          s.push_back(item);
        }
      }
      s.pop_front();
    }
    s.push_back({k, v, false});
  }

 private:
  uint32_t SetIndex(uint32_t hash) const { return ((hash >> 16) | (hash << 16)) & (sets_ - 1); }
  uint32_t sets_, ways_;
  CachePolicy policy_;
  std::vector<RefSet> table_;
};

class FlowCachePolicyTest : public ::testing::TestWithParam<CachePolicy> {};

TEST_P(FlowCachePolicyTest, MatchesNaiveReferenceOnRandomTrace) {
  const CachePolicy policy = GetParam();
  auto hash = KeyHash::Create();
  ASSERT_TRUE(hash.ok());
  for (uint32_t ways : {1u, 2u, 4u, 8u}) {
    const uint32_t entries = 64;
    auto cache = FlowCache::Create(entries, ways, policy);
    ASSERT_TRUE(cache.ok()) << cache.status();
    Reference ref(entries / ways, ways, policy);
    std::mt19937 rng(ways);
    uint64_t hits = 0;
    for (int i = 0; i < 20000; ++i) {
      // Some hot flows and a long tail, so every policy evicts and hits.
      const uint32_t flow = rng() % 4 == 0 ? rng() % 2000 : rng() % 40;
      const Key k = KeyOf(flow);
      const uint32_t h = (*hash)(k);
      const std::optional<uint64_t> got = cache->Find(k, h);
      const std::optional<uint64_t> want = ref.Find(k, h);
      ASSERT_EQ(got, want) << "step " << i << " ways " << ways;
      if (got) {
        ++hits;
      } else {
        cache->Insert(k, h, flow * 3ull);
        ref.Insert(k, h, flow * 3ull);
      }
    }
    EXPECT_EQ(cache->counters().hits, hits);
    EXPECT_EQ(cache->counters().hits + cache->counters().misses, 20000u);
    EXPECT_LE(cache->size(), entries);
    EXPECT_GT(hits, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, FlowCachePolicyTest,
                         ::testing::Values(CachePolicy::kClock, CachePolicy::kFifo,
                                           CachePolicy::kLru),
                         [](const auto& info) { return std::string(CachePolicyName(info.param)); });

TEST(FlowCacheTest, UpdateEraseClearAndLimits) {
  auto hash = KeyHash::Create();
  ASSERT_TRUE(hash.ok());
  auto cache = FlowCache::Create(16, 4, CachePolicy::kClock);
  ASSERT_TRUE(cache.ok());
  const Key k = KeyOf(7);
  const uint32_t h = (*hash)(k);
  cache->Insert(k, h, 1);
  cache->Insert(k, h, 2);
  EXPECT_EQ(cache->Find(k, h), 2u);
  EXPECT_EQ(cache->counters().updates, 1u);
  EXPECT_TRUE(cache->Erase(k, h));
  EXPECT_FALSE(cache->Erase(k, h));
  EXPECT_EQ(cache->Find(k, h), std::nullopt);
  cache->Insert(k, h, 3);
  cache->Clear();
  EXPECT_EQ(cache->size(), 0u);
  EXPECT_EQ(cache->Find(k, h), std::nullopt);

  auto none = FlowCache::Create(0, 4, CachePolicy::kClock);  // a cache that never hits
  ASSERT_TRUE(none.ok());
  none->Insert(k, h, 1);
  EXPECT_EQ(none->Find(k, h), std::nullopt);
  EXPECT_FALSE(FlowCache::Create(16, 3, CachePolicy::kClock).ok());
  EXPECT_FALSE(FlowCache::Create(24, 4, CachePolicy::kClock).ok());
  EXPECT_FALSE(FlowCache::Create(2, 4, CachePolicy::kClock).ok());
  EXPECT_FALSE(CachePolicyFromName("random").ok());
}

// Zipf(s) over n ranks by inverse CDF.
class Zipf {
 public:
  Zipf(uint32_t n, double s) : cdf_(n) {
    double sum = 0;
    for (uint32_t i = 0; i < n; ++i) cdf_[i] = sum += s == 0 ? 1 : 1 / std::pow(i + 1, s);
    for (double& c : cdf_) c /= sum;
  }
  uint32_t operator()(std::mt19937_64& rng) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<uint32_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

// Not a check of numbers, which depend on the workload: it prints the hit
// rates of tea_nat's README and checks only what must hold under skew.
TEST(FlowCacheTest, HitRateUnderSkew) {
  auto hash = KeyHash::Create();
  ASSERT_TRUE(hash.ok());
  constexpr uint32_t kFlows = 100000, kEntries = 4096, kLookups = 1000000;
  std::vector<Key> keys(kFlows);
  std::vector<uint32_t> hashes(kFlows);
  for (uint32_t f = 0; f < kFlows; ++f) {
    keys[f] = KeyOf(f);
    hashes[f] = (*hash)(keys[f]);
  }
  std::printf("| popularity | direct-mapped | 4-way fifo | 4-way clock | 4-way lru |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  for (double s : {0.0, 0.9, 0.99}) {
    double rates[4];
    int i = 0;
    for (auto [ways, policy] : {std::pair{1u, CachePolicy::kFifo},
                                {4u, CachePolicy::kFifo},
                                {4u, CachePolicy::kClock},
                                {4u, CachePolicy::kLru}}) {
      Zipf zipf(kFlows, s);
      std::mt19937_64 rng(42);
      auto cache = FlowCache::Create(kEntries, ways, policy);
      ASSERT_TRUE(cache.ok());
      for (uint32_t n = 0; n < kLookups; ++n) {
        const uint32_t f = zipf(rng);
        if (!cache->Find(keys[f], hashes[f])) cache->Insert(keys[f], hashes[f], f);
      }
      rates[i++] = static_cast<double>(cache->counters().hits) / kLookups;
    }
    std::printf("| %s | %.3f | %.3f | %.3f | %.3f |\n",
                s == 0 ? "uniform" : (s == 0.9 ? "zipf 0.9" : "zipf 0.99"), rates[0], rates[1],
                rates[2], rates[3]);
    if (s == 0) {
      // Uniform over 100K flows: no policy beats the cache's share.
      for (double r : rates) EXPECT_NEAR(r, double{kEntries} / kFlows, 0.01);
    } else {
      EXPECT_GT(rates[2], rates[0]);  // clock beats direct-mapped under skew
      EXPECT_GT(rates[2], rates[1]);  // and FIFO
    }
  }
}

TEST(PendingLookupsTest, MatchesAMapOfPsns) {
  auto pending = PendingLookups::Create(8, 64);
  ASSERT_TRUE(pending.ok());
  std::map<uint32_t, uint64_t> ref;  // psn -> sent
  std::mt19937 rng(3);
  // PSNs handed out in order from near the 24-bit wrap.
  uint32_t next = net::kPsnMask - 20;
  uint64_t now = 1000;
  for (int step = 0; step < 5000; ++step) {
    now += rng() % 50;
    const uint32_t op = rng() % 10;
    if (op < 5) {  // a new lookup
      const bool free = pending->CanReserve(next);
      bool ref_free = true;
      for (const auto& [psn, sent] : ref) ref_free &= (psn & 7) != (next & 7);
      ASSERT_EQ(free, ref_free);
      if (free) {
        PendingLookup* e = pending->Reserve(next, now);
        ASSERT_NE(e, nullptr);
        e->packet[0] = static_cast<uint8_t>(next);
        ref[next] = now;
      } else {
        ASSERT_EQ(pending->Reserve(next, now), nullptr);
      }
      next = (next + 1) & net::kPsnMask;
    } else if (op < 8) {  // an answer for a recent PSN, maybe stale or wrong
      const uint32_t psn = (next - 1 - rng() % 12) & net::kPsnMask;
      PendingLookup* e = pending->Find(psn);
      ASSERT_EQ(e != nullptr, ref.count(psn) == 1) << psn;
      if (e != nullptr) {
        EXPECT_EQ(e->psn, psn);
        EXPECT_EQ(e->packet[0], static_cast<uint8_t>(psn));
        pending->Release(e);
        ref.erase(psn);
      }
    } else if (op == 8) {  // timeouts
      std::vector<uint32_t> expired;
      pending->Expire(now, 300, [&](const PendingLookup& e) { expired.push_back(e.psn); });
      std::vector<uint32_t> want;
      for (auto it = ref.begin(); it != ref.end();) {
        if (now - it->second > 300) {
          want.push_back(it->first);
          it = ref.erase(it);
        } else {
          ++it;
        }
      }
      std::sort(expired.begin(), expired.end());
      ASSERT_EQ(expired, want);
    } else {  // a NAK: the requester goes back a few PSNs
      const uint32_t back = rng() % 4;
      const uint32_t to = (next - back) & net::kPsnMask;
      std::vector<uint32_t> abandoned;
      pending->AbandonFrom(to, [&](const PendingLookup& e) { abandoned.push_back(e.psn); });
      std::vector<uint32_t> want;
      for (auto it = ref.begin(); it != ref.end();) {
        if (net::PsnDistance(to, it->first) < back) {
          want.push_back(it->first);
          it = ref.erase(it);
        } else {
          ++it;
        }
      }
      std::sort(abandoned.begin(), abandoned.end());
      ASSERT_EQ(abandoned, want);
      next = to;
    }
    ASSERT_EQ(pending->busy(), ref.size());
  }
  EXPECT_FALSE(PendingLookups::Create(6, 0).ok());
  EXPECT_FALSE(PendingLookups::Create(8, PendingLookups::kMaxPacketBytes + 1).ok());
}

}  // namespace
}  // namespace softfino::tea
