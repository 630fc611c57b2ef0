// TeaLearnRing against a std::deque: many times its size through it, in
// bursts that fill it, and every key comes out once, in order, while a full
// ring refuses. Under ASan a ring whose memory is short of its slots fails
// here (it wrote past its allocation once `size` keys had gone through).
#include <gtest/gtest.h>

#include <deque>

#include "pipelines/tea_common/tea_learner.h"

namespace softfino::pipelines {
namespace {

TEST(TeaLearnRingTest, ManyTimesItsSizeThroughItInOrder) {
  for (const uint32_t size : {2u, 4u, 64u, 4096u}) {
    auto ring = TeaLearnRing::Create(size, "test_learn");
    ASSERT_TRUE(ring.ok()) << ring.status();
    std::deque<uint64_t> model;
    uint64_t next = 0;
    for (int round = 0; round < 20; ++round) {
      // Fill it: exactly `size` fit, the next is refused.
      while (model.size() < size) {
        LearnedKey l{};
        l.key[0] = static_cast<uint8_t>(next);
        l.value = next;
        ASSERT_TRUE(ring->Offer(l)) << "size " << size << " round " << round;
        model.push_back(next++);
      }
      LearnedKey extra{};
      EXPECT_FALSE(ring->Offer(extra)) << "size " << size;
      // Take part of it back (all of it every other round).
      const size_t take = round % 2 ? model.size() : model.size() / 2 + 1;
      for (size_t i = 0; i < take; ++i) {
        LearnedKey l;
        ASSERT_TRUE(ring->Take(&l));
        EXPECT_EQ(l.value, model.front());
        EXPECT_EQ(l.key[0], static_cast<uint8_t>(model.front()));
        model.pop_front();
      }
    }
    LearnedKey l;
    while (ring->Take(&l)) {
      ASSERT_FALSE(model.empty());
      EXPECT_EQ(l.value, model.front());
      model.pop_front();
    }
    EXPECT_TRUE(model.empty());
  }
}

}  // namespace
}  // namespace softfino::pipelines
