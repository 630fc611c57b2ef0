// The Tofino-1 resource estimate: hand-computed block counts for each kind of
// object, and the report's verdicts at and past each limit.
#include "softfino/pipe/resources.h"

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

TEST(Resources, ExactTableBlocks) {
  // 1024 entries * 5/4 = 1280 match entries of 16+4+8 = 28 bits: 4 per
  // 128-bit word, 320 words, 1 block; action data 105 bits: 1 per word,
  // 1024 words, 1 block.
  const StageUse u = EstimateUse({"t", ResourceKind::kExactTable, 0, 1024, 16, 105});
  EXPECT_EQ(u.sram_blocks, 2u);
  EXPECT_EQ(u.tcam_blocks, 0u);
  EXPECT_EQ(u.logical_tables, 1u);
  // 1M entries of a 104-bit 5-tuple key: 1.25M words of (116 bits -> 1 per
  // word) = 1280 blocks: far more than one stage holds.
  EXPECT_EQ(EstimateUse({"big", ResourceKind::kExactTable, 0, 1 << 20, 104, 0}).sram_blocks, 1280u);
}

TEST(Resources, TcamBlocks) {
  // 16384 IPv4 routes: 32 TCAM chunks of 512 x one 44-bit slice.
  EXPECT_EQ(EstimateUse({"v4", ResourceKind::kLpmTable, 0, 16384, 32, 16}).tcam_blocks, 32u);
  // 4096 IPv6 routes: 8 chunks x 3 slices (128 bits / 44).
  EXPECT_EQ(EstimateUse({"v6", ResourceKind::kLpmTable, 0, 4096, 128, 16}).tcam_blocks, 24u);
  // Range entries expand to about two TCAM entries.
  EXPECT_EQ(EstimateUse({"r", ResourceKind::kRangeTable, 0, 512, 32, 8}).tcam_blocks, 2u);
}

TEST(Resources, StatefulAluPerRegister) {
  // 65536 32-bit cells: 4 per word, 16384 words, 16 blocks, plus one spare.
  const StageUse u = EstimateUse({"reg", ResourceKind::kRegister, 3, 65536, 0, 32});
  EXPECT_EQ(u.sram_blocks, 17u);
  EXPECT_EQ(u.stateful_alus, 1u);
}

TEST(Resources, ReportSaysWhatDoesNotFit) {
  std::vector<ResourceUse> uses;
  for (int i = 0; i < 4; ++i) uses.push_back({"r", ResourceKind::kRegister, 2, 1024, 0, 32});
  EXPECT_TRUE(BuildResourceReport(uses).fits());
  uses.push_back({"r5", ResourceKind::kRegister, 2, 1024, 0, 32});
  ResourceReport over = BuildResourceReport(uses);
  ASSERT_FALSE(over.fits());
  EXPECT_EQ(over.errors[0], "stage 2: 5 stateful ALUs of 4");
  // 16384 v4 + 4096 v6 routes: 56 TCAM blocks spill over stages 0-2 and fit.
  ResourceReport tcam = BuildResourceReport({{"v4", ResourceKind::kLpmTable, 0, 16384, 32, 16},
                                             {"v6", ResourceKind::kLpmTable, 0, 4096, 128, 16}});
  EXPECT_TRUE(tcam.fits());
  EXPECT_EQ(tcam.stages[0].tcam_blocks, 24u);
  EXPECT_EQ(tcam.stages[1].tcam_blocks, 24u);
  EXPECT_EQ(tcam.stages[2].tcam_blocks, 8u);
  // 200,000 IPv4 routes: 391 TCAM blocks need 17 stages of 24.
  ResourceReport huge = BuildResourceReport({{"v4", ResourceKind::kLpmTable, 0, 200000, 32, 16}});
  ASSERT_FALSE(huge.fits());
  EXPECT_EQ(huge.errors[0], "uses 17 stages; Tofino-1 has 12");
  ResourceReport stages = BuildResourceReport({{"late", ResourceKind::kCounter, 12, 16, 0, 64}});
  ASSERT_FALSE(stages.fits());
  EXPECT_EQ(stages.errors[0], "uses 13 stages; Tofino-1 has 12");
}

}  // namespace
}  // namespace softfino::pipe
