// The translator's stateful parts (dta/postcard_cache.h,
// dta/append_batcher.h) and the layout's JSON form, against naive models
// written here: a map of flows for the cache, a vector per list for the
// batches.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "softfino/dta/append_batcher.h"
#include "softfino/dta/layout.h"
#include "softfino/dta/postcard_cache.h"

namespace softfino::dta {
namespace {

PostcardingLayout MakePostcarding() { return *PostcardingLayout::Create(1024, 2); }

// Decodes an emitted path with the layout's own public per-hop mask.
PostcardHops Decode(const PostcardingLayout& layout, const PostcardPath& p) {
  PostcardHops hops;
  for (int h = 0; h < kPostcardHops; ++h) hops[h] = p.encoded[h] ^ layout.HopMask(p.key, h);
  return hops;
}

TEST(PostcardCache, RefusesBadSizes) {
  const PostcardingLayout layout = MakePostcarding();
  EXPECT_FALSE(PostcardCache::Create(layout, 0, 3).ok());
  EXPECT_FALSE(PostcardCache::Create(layout, 3, 3).ok());
  EXPECT_FALSE(PostcardCache::Create(layout, 8, 0).ok());
  EXPECT_FALSE(PostcardCache::Create(layout, 8, 6).ok());
  EXPECT_TRUE(PostcardCache::Create(layout, 8, 5).ok());
}

TEST(PostcardCache, EmitsAWholePathOnceEveryHopIsIn) {
  const PostcardingLayout layout = MakePostcarding();
  PostcardCache cache = *PostcardCache::Create(layout, 64, 3);
  PostcardPath out;
  EXPECT_EQ(cache.Add(7, 2, 200, &out), PostcardCache::Outcome::kCached);
  EXPECT_EQ(cache.Add(7, 2, 201, &out), PostcardCache::Outcome::kCached);  // newer value kept
  EXPECT_EQ(cache.Add(7, 1, 100, &out), PostcardCache::Outcome::kCached);
  EXPECT_EQ(cache.occupied(), 1u);
  ASSERT_EQ(cache.Add(7, 3, 300, &out), PostcardCache::Outcome::kComplete);
  EXPECT_EQ(out.key, 7u);
  const PostcardHops hops = Decode(layout, out);
  EXPECT_EQ(hops[0], 100u);
  EXPECT_EQ(hops[1], 201u);
  EXPECT_EQ(hops[2], 300u);
  EXPECT_EQ(hops[3], kBlankHop);
  EXPECT_EQ(hops[4], kBlankHop);
  EXPECT_EQ(cache.occupied(), 0u);
}

// Random postcards of many flows into a small cache, against a model that
// keeps every row's flow and hops in a map: every emission (whole or
// evicted) must be what the model says, and the collector's decoding of
// the bytes must give the values back.
TEST(PostcardCache, MatchesANaiveModelUnderCollisions) {
  const PostcardingLayout layout = MakePostcarding();
  constexpr uint32_t kRows = 16;
  constexpr uint8_t kLength = 4;
  PostcardCache cache = *PostcardCache::Create(layout, kRows, kLength);
  // The model does not know the row hash: it learns which flows share a
  // row from evictions, so instead it checks the weaker but complete
  // contract: an emitted path holds exactly the hops that flow reported
  // since its last emission, blanks elsewhere.
  std::map<uint32_t, std::map<int, uint32_t>> since_emit;
  std::mt19937 rng(3);
  int complete = 0, evicted = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint32_t key = 1 + rng() % 20;
    const uint8_t hop = static_cast<uint8_t>(1 + rng() % kLength);
    const uint32_t value = rng() % 1000;
    PostcardPath out;
    const auto outcome = cache.Add(key, hop, value, &out);
    if (outcome == PostcardCache::Outcome::kEvicted) {
      ++evicted;
      // The evicted flow's path: exactly its hops since it was last emitted.
      const PostcardHops hops = Decode(layout, out);
      auto& seen = since_emit[out.key];
      ASSERT_FALSE(seen.empty());
      for (int h = 0; h < kPostcardHops; ++h) {
        const auto it = seen.find(h + 1);
        EXPECT_EQ(hops[h], it == seen.end() ? kBlankHop : it->second) << "hop " << h + 1;
      }
      seen.clear();
    }
    since_emit[key][hop] = value;
    if (outcome == PostcardCache::Outcome::kComplete) {
      ++complete;
      ASSERT_EQ(out.key, key);
      const PostcardHops hops = Decode(layout, out);
      auto& seen = since_emit[key];
      ASSERT_EQ(seen.size(), kLength);
      for (int h = 0; h < kLength; ++h) EXPECT_EQ(hops[h], seen[h + 1]);
      seen.clear();
    } else if (outcome == PostcardCache::Outcome::kCached) {
      EXPECT_LT(since_emit[key].size(), kLength);
    }
  }
  EXPECT_GT(complete, 50);
  EXPECT_GT(evicted, 50);
  EXPECT_LE(cache.occupied(), kRows);
}

TEST(AppendBatcher, BatchesEachListInOrderAtItsPosition) {
  const AppendLayout layout = *AppendLayout::Create(3, 64, 4);
  AppendBatcher batcher = *AppendBatcher::Create(layout);
  std::vector<std::vector<uint32_t>> truth(3), written(3);
  std::mt19937 rng(5);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t list = rng() % 3;
    const uint32_t value = rng();
    truth[list].push_back(value);
    AppendBatch batch;
    if (batcher.Add(list, value, &batch)) {
      ASSERT_EQ(batch.list, list);
      ASSERT_EQ(batch.values.size(), 4u);
      EXPECT_EQ(batch.position, written[list].size());
      written[list].insert(written[list].end(), batch.values.begin(), batch.values.end());
      EXPECT_EQ(batcher.Position(list), written[list].size());
    }
  }
  for (uint32_t l = 0; l < 3; ++l) {
    const size_t whole = truth[l].size() / 4 * 4;
    EXPECT_EQ(written[l], std::vector<uint32_t>(truth[l].begin(), truth[l].begin() + whole));
    EXPECT_EQ(batcher.Pending(l), truth[l].size() - whole);
  }
}

TEST(LayoutConfig, ParsesTheJsonFormAndRefusesMistakes) {
  auto c = ParseLayoutConfig(nlohmann::json::parse(
      R"({"keywrite_slots": 1024, "append_lists": 2, "append_entries": 64, "append_batch": 8})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->keywrite_slots, 1024u);
  EXPECT_EQ(c->append_lists, 2u);
  EXPECT_EQ(c->append_batch, 8u);
  EXPECT_EQ(c->keyincrement_rows, 2);  // default kept
  auto unknown = ParseLayoutConfig(nlohmann::json::parse(R"({"keywrite_slot": 1024})"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("keywrite_slots"), std::string::npos);
  EXPECT_FALSE(ParseLayoutConfig(nlohmann::json::parse(R"({"append_batch": 17})")).ok());
  EXPECT_FALSE(ParseLayoutConfig(nlohmann::json::parse(R"({"keywrite_slots": -1})")).ok());
  EXPECT_FALSE(ParseLayoutConfig(nlohmann::json::parse("[1]")).ok());
}

}  // namespace
}  // namespace softfino::dta
