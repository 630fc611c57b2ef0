// TAS's autoscaling rule, case by case from the paper's thresholds: shrink
// when more than 1.25 cores' worth is idle, grow when less than 0.2 is,
// never below one core or above the maximum.
#include "softfino/dataplane/core_scaler.h"

#include <vector>

#include "gtest/gtest.h"

namespace softfino::dataplane {
namespace {

size_t Decide(std::vector<double> busy, size_t max) { return CoreScaler::Decide(busy, max); }

TEST(CoreScalerTest, FollowsTasThresholds) {
  EXPECT_EQ(Decide({0.9}, 4), 2u);               // idle 0.1 < 0.2: grow
  EXPECT_EQ(Decide({0.79}, 4), 1u);              // idle 0.21: stay
  EXPECT_EQ(Decide({0.95, 0.9}, 4), 3u);         // idle 0.15: grow
  EXPECT_EQ(Decide({0.5, 0.5}, 4), 2u);          // idle 1.0: stay
  EXPECT_EQ(Decide({0.5, 0.2}, 4), 1u);          // idle 1.3 > 1.25: shrink
  EXPECT_EQ(Decide({0.5, 0.25}, 4), 2u);         // idle exactly 1.25: stay
  EXPECT_EQ(Decide({0.1, 0.1, 0.1}, 4), 2u);     // idle 2.7: one core at a time
}

TEST(CoreScalerTest, StaysWithinOneAndMax) {
  EXPECT_EQ(Decide({0.0}, 4), 1u);               // idle, but the last core stays
  EXPECT_EQ(Decide({1.0, 1.0}, 2), 2u);          // saturated at the maximum
}

TEST(CoreScalingPolicyTest, GrowsAtOnceThenSkipsTheSettlingWindow) {
  CoreScalingPolicy policy;
  EXPECT_EQ(policy.Next(std::vector<double>{0.95}, 4), 2u);       // grow at once
  EXPECT_EQ(policy.Next(std::vector<double>{0.99, 0.99}, 4), 2u);  // settling: not judged
  EXPECT_EQ(policy.Next(std::vector<double>{0.99, 0.99}, 4), 3u);  // then the rule again
}

TEST(CoreScalingPolicyTest, ShrinksOnlyAfterThreeIdleWindowsInARow) {
  CoreScalingPolicy policy;
  const std::vector<double> idle{0.1, 0.1}, half{0.5, 0.5};
  EXPECT_EQ(policy.Next(idle, 4), 2u);
  EXPECT_EQ(policy.Next(idle, 4), 2u);
  EXPECT_EQ(policy.Next(half, 4), 2u);  // the rule says stay: the count starts over
  EXPECT_EQ(policy.Next(idle, 4), 2u);
  EXPECT_EQ(policy.Next(idle, 4), 2u);
  EXPECT_EQ(policy.Next(idle, 4), 1u);  // third idle window in a row
  EXPECT_EQ(policy.Next(std::vector<double>{0.0}, 4), 1u);  // settling, and one core stays
}

TEST(CoreScalingPolicyTest, ABusyWindowCancelsPendingShrinkVotes) {
  CoreScalingPolicy policy;
  const std::vector<double> idle{0.1, 0.1};
  EXPECT_EQ(policy.Next(idle, 2), 2u);
  EXPECT_EQ(policy.Next(idle, 2), 2u);
  EXPECT_EQ(policy.Next(std::vector<double>{1.0, 1.0}, 2), 2u);  // saturated at the maximum
  EXPECT_EQ(policy.Next(idle, 2), 2u);
  EXPECT_EQ(policy.Next(idle, 2), 2u);
  EXPECT_EQ(policy.Next(idle, 2), 1u);
}

}  // namespace
}  // namespace softfino::dataplane
