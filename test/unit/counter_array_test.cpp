// CounterArray against per-pipe std::vector tallies of the same packets.
#include "softfino/pipe/counter_array.h"

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

std::unique_ptr<CounterArray> MakeCounter(uint32_t size, CounterType type, uint16_t pipes) {
  auto c = CounterArray::Create("test_counter", size, type, pipes);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

TEST(CounterArray, CountsMatchTheModelPerPipeAndSummed) {
  constexpr uint32_t kSize = 50;
  constexpr uint16_t kPipes = 3;
  auto c = MakeCounter(kSize, CounterType::kPacketsAndBytes, kPipes);
  std::vector<std::vector<CounterValue>> model(kPipes, std::vector<CounterValue>(kSize));
  std::mt19937 rng(11);
  for (int n = 0; n < 100000; ++n) {
    const uint16_t pipe = rng() % kPipes;
    const uint32_t index = rng() % kSize;
    const uint32_t bytes = 64 + rng() % 1455;
    c->Count(pipe, index, bytes);
    model[pipe][index].packets += 1;
    model[pipe][index].bytes += bytes;
    if (rng() % 5000 == 0) {  // the control plane clears one index now and then
      ASSERT_TRUE(c->Clear(index).ok());
      for (auto& m : model) m[index] = {};
    }
  }
  for (uint32_t i = 0; i < kSize; ++i) {
    CounterValue sum;
    for (uint16_t p = 0; p < kPipes; ++p) {
      EXPECT_EQ(*c->ReadPipe(p, i), model[p][i]) << "pipe " << p << " index " << i;
      sum.packets += model[p][i].packets;
      sum.bytes += model[p][i].bytes;
    }
    EXPECT_EQ(*c->Read(i), sum) << "index " << i;
  }
  c->ClearAll();
  for (uint32_t i = 0; i < kSize; ++i) EXPECT_EQ(*c->Read(i), CounterValue{});
  c->Count(1, 4, 100);
  EXPECT_EQ(*c->Read(4), (CounterValue{1, 100}));
}

TEST(CounterArray, TypeSelectsWhatIsReported) {
  auto packets = MakeCounter(4, CounterType::kPackets, 1);
  auto bytes = MakeCounter(4, CounterType::kBytes, 1);
  for (int n = 0; n < 3; ++n) {
    packets->Count(0, 2, 1000);
    bytes->Count(0, 2, 1000);
  }
  EXPECT_EQ(*packets->Read(2), (CounterValue{3, 0}));
  EXPECT_EQ(*bytes->Read(2), (CounterValue{0, 3000}));
}

TEST(CounterArray, IndexWrapsAndErrorsSayTheValidRange) {
  auto c = MakeCounter(16, CounterType::kPacketsAndBytes, 2);
  c->Count(0, 16 + 3, 10);
  EXPECT_EQ(*c->Read(3), (CounterValue{1, 10}));
  auto bad = c->Read(16);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("0..15"), absl::string_view::npos) << bad.status();
  auto bad_pipe = c->ReadPipe(2, 0);
  ASSERT_FALSE(bad_pipe.ok());
  EXPECT_NE(bad_pipe.status().message().find("0..1"), absl::string_view::npos);
  EXPECT_FALSE(c->Clear(16).ok());
  EXPECT_FALSE(CounterArray::Create("zero", 0, CounterType::kPackets, 1).ok());
}

// A clear while the pipe counts is never undone by the pipe's next
// increment, and reads never go backwards between clears.
TEST(CounterArray, ClearWhilePipeCounts) {
  auto c = MakeCounter(1, CounterType::kPacketsAndBytes, 1);
  constexpr uint64_t kPackets = 2'000'000;
  std::atomic<bool> done{false};
  std::thread pipe([&] {
    for (uint64_t n = 0; n < kPackets; ++n) c->Count(0, 0, 2);
    done = true;
  });
  uint64_t cleared_total = 0;
  uint64_t last = 0;
  for (int round = 0; !done; ++round) {
    const CounterValue v = *c->Read(0);
    // Snapshot and baseline may each hold one packet's bytes ahead.
    ASSERT_TRUE(v.bytes == v.packets * 2 || v.bytes == v.packets * 2 + 2 ||
                v.bytes + 2 == v.packets * 2)
        << v.packets << " packets, " << v.bytes << " bytes";
    ASSERT_GE(v.packets, last);
    last = v.packets;
    if (round % 1000 == 999) {
      // Read and clear back to back; what was counted in between is lost to
      // this tally, so the sum below is a lower bound.
      cleared_total += c->Read(0)->packets;
      ASSERT_TRUE(c->Clear(0).ok());
      last = 0;
    }
  }
  pipe.join();
  // The last clear's baseline is a real state of the cell, at worst one
  // whose last packet had its bytes counted but not yet itself.
  const CounterValue rest = *c->Read(0);
  EXPECT_TRUE(rest.bytes == rest.packets * 2 || rest.bytes + 2 == rest.packets * 2)
      << rest.packets << " packets, " << rest.bytes << " bytes";
  EXPECT_LE(cleared_total + rest.packets, kPackets);
  ASSERT_TRUE(c->Clear(0).ok());
  EXPECT_EQ(*c->Read(0), CounterValue{});
  c->Count(0, 0, 5);
  EXPECT_EQ(*c->Read(0), (CounterValue{1, 5}));
}

}  // namespace
}  // namespace softfino::pipe
