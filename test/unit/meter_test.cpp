// Meter against naive token-bucket markers written from the RFC texts
// (RFC 2698 trTCM, RFC 2697 srTCM), independent of rte_meter, on scripted
// packet sequences with explicit timestamps.
//
// The RFCs add one token CIR times per second. rte_meter adds tokens at
// whole multiples of a period of TSC cycles counted from the bucket's start,
// so the two agree exactly when a token takes a whole number of cycles: the
// rates below are chosen as "one token every P cycles" (rate = hz / P), and
// the models add a token at every multiple of P after the first packet.
#include "softfino/pipe/meter.h"

#include <rte_cycles.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

using Color = MeterColor;

// RFC 2698, section 3: Tc and Tp start full and are incremented by one CIR
// (PIR) times per second up to CBS (PBS).
struct NaiveTrTcm {
  uint64_t cir_cycles, pir_cycles;  // cycles per token
  uint64_t cbs, pbs;
  bool started = false;
  uint64_t t0 = 0, last = 0, tc = 0, tp = 0;

  Color Mark(uint64_t t, uint64_t b, Color pre = Color::kGreen) {
    if (!started) {
      started = true;
      t0 = last = t;
      tc = cbs;
      tp = pbs;
    }
    // Tokens that arrived at t0 + k * period within (last, t].
    tc = std::min(cbs, tc + (t - t0) / cir_cycles - (last - t0) / cir_cycles);
    tp = std::min(pbs, tp + (t - t0) / pir_cycles - (last - t0) / pir_cycles);
    last = t;
    // Color-aware mode; color-blind is the same with every packet green.
    if (pre == Color::kRed || tp < b) return Color::kRed;
    if (pre == Color::kYellow || tc < b) {
      tp -= b;
      return Color::kYellow;
    }
    tp -= b;
    tc -= b;
    return Color::kGreen;
  }
};

// RFC 2697, section 3: Tc and Te start full; CIR times per second, Tc is
// incremented if below CBS, else Te if below EBS.
struct NaiveSrTcm {
  uint64_t cir_cycles;
  uint64_t cbs, ebs;
  bool started = false;
  uint64_t t0 = 0, last = 0, tc = 0, te = 0;

  Color Mark(uint64_t t, uint64_t b) {
    if (!started) {
      started = true;
      t0 = last = t;
      tc = cbs;
      te = ebs;
    }
    const uint64_t tokens = (t - t0) / cir_cycles - (last - t0) / cir_cycles;
    const uint64_t to_c = std::min(tokens, cbs - tc);
    tc += to_c;
    te = std::min(ebs, te + (tokens - to_c));
    last = t;
    if (tc >= b) {
      tc -= b;
      return Color::kGreen;
    }
    if (te >= b) {
      te -= b;
      return Color::kYellow;
    }
    return Color::kRed;
  }
};

// The rate, in units per second, of one token every `cycles` TSC cycles.
uint64_t RateOf(uint64_t cycles) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t rate = hz / cycles;
  // rte_meter turns the rate back into a whole number of cycles per token
  // (truncating hz / rate); make sure it lands on `cycles` again, or the
  // comparison would test a different rate than the model's. It does
  // whenever cycles^2 <= hz, hence periods of at most 30000 cycles here.
  EXPECT_EQ(static_cast<uint64_t>(static_cast<double>(hz) / static_cast<double>(rate)), cycles);
  return rate;
}

std::unique_ptr<Meter> MakeMeter(uint32_t size, MeterType type, uint16_t pipes,
                                 MeterAlgorithm algorithm = MeterAlgorithm::kTrTcm) {
  auto m = Meter::Create("test_meter", size, type, pipes, algorithm);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(*m);
}

struct Tally {
  int green = 0, yellow = 0, red = 0;
  void Add(Color c) { (c == Color::kGreen ? green : c == Color::kYellow ? yellow : red)++; }
};

TEST(Meter, TrTcmBytesMatchesRfc2698) {
  NaiveTrTcm model{4000, 1000, 3000, 6000};
  auto meter = MakeMeter(8, MeterType::kBytes, 1);
  ASSERT_TRUE(meter->Configure(5, {RateOf(4000), RateOf(1000), 3000, 6000}).ok());
  std::mt19937_64 rng(1);
  uint64_t t = 1'000'000'000'000;
  Tally tally;
  for (int n = 0; n < 20000; ++n) {
    // Bursts (gap 0) and pauses, offering about 1.3 times the PIR.
    t += rng() % 4 == 0 ? 0 : rng() % 1'400'000;
    const uint32_t bytes = 64 + rng() % 1437;
    const Color got = meter->Execute(0, 5, t, bytes);
    ASSERT_EQ(got, model.Mark(t, bytes)) << "packet " << n << " at " << t;
    tally.Add(got);
  }
  // Every color was exercised.
  EXPECT_GT(tally.green, 2000);
  EXPECT_GT(tally.yellow, 2000);
  EXPECT_GT(tally.red, 2000);
}

TEST(Meter, TrTcmColorAwareMatchesRfc2698) {
  NaiveTrTcm model{3000, 1000, 2000, 4000};
  auto meter = MakeMeter(1, MeterType::kBytes, 1);
  ASSERT_TRUE(meter->ConfigureAll({RateOf(3000), RateOf(1000), 2000, 4000}).ok());
  std::mt19937_64 rng(2);
  uint64_t t = 5'000'000;
  const Color colors[] = {Color::kGreen, Color::kGreen, Color::kYellow, Color::kRed};
  for (int n = 0; n < 20000; ++n) {
    t += rng() % 1'000'000;
    const uint32_t bytes = 64 + rng() % 1437;
    const Color pre = colors[rng() % 4];
    ASSERT_EQ(meter->ExecuteColorAware(0, 0, t, bytes, pre), model.Mark(t, bytes, pre))
        << "packet " << n;
  }
}

TEST(Meter, TrTcmPacketsCountsPackets) {
  // One token per packet: CIR a packet every 30000 cycles, PIR every 10000.
  NaiveTrTcm model{30'000, 10'000, 5, 20};
  auto meter = MakeMeter(4, MeterType::kPackets, 1);
  ASSERT_TRUE(meter->Configure(2, {RateOf(30'000), RateOf(10'000), 5, 20}).ok());
  std::mt19937_64 rng(3);
  uint64_t t = 0;
  Tally tally;
  for (int n = 0; n < 20000; ++n) {
    t += rng() % 3 == 0 ? 0 : rng() % 12'000;
    const Color got = meter->Execute(0, 2, t, 64 + rng() % 9000);  // size is ignored
    ASSERT_EQ(got, model.Mark(t, 1)) << "packet " << n;
    tally.Add(got);
  }
  EXPECT_GT(tally.green, 1000);
  EXPECT_GT(tally.yellow, 1000);
  EXPECT_GT(tally.red, 1000);
}

TEST(Meter, SrTcmMatchesRfc2697) {
  NaiveSrTcm model{2000, 3000, 5000};
  auto meter = MakeMeter(4, MeterType::kBytes, 1, MeterAlgorithm::kSrTcm);
  ASSERT_TRUE(meter->Configure(1, {RateOf(2000), 0, 3000, 5000}).ok());
  std::mt19937_64 rng(4);
  uint64_t t = 77;
  Tally tally;
  for (int n = 0; n < 20000; ++n) {
    // Congestion with now and then a pause long enough to fill both buckets.
    t += rng() % 20 == 0 ? 20'000'000 : rng() % 1'500'000;
    const uint32_t bytes = 64 + rng() % 1437;
    const Color got = meter->Execute(0, 1, t, bytes);
    ASSERT_EQ(got, model.Mark(t, bytes)) << "packet " << n;
    tally.Add(got);
  }
  EXPECT_GT(tally.green, 2000);
  EXPECT_GT(tally.yellow, 1000);
  EXPECT_GT(tally.red, 2000);
}

// At line-rate-like rates rte_meter adds many bytes per period; over a long
// run the green and green-plus-yellow bytes still follow CIR and PIR.
TEST(Meter, LongRunRatesFollowCirAndPir) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t cir = 125'000'000, pir = 250'000'000;  // 1 and 2 Gb/s
  auto meter = MakeMeter(1, MeterType::kBytes, 1);
  ASSERT_TRUE(meter->Configure(0, {cir, pir, 20000, 40000}).ok());
  // 1500-byte packets at 6 Gb/s for 2 seconds of (virtual) TSC time.
  const uint64_t gap = hz * 1500 / 750'000'000;
  uint64_t green = 0, yellow = 0;
  uint64_t t = 0;
  for (; t < 2 * hz; t += gap) {
    const Color c = meter->Execute(0, 0, t, 1500);
    if (c == Color::kGreen) green += 1500;
    if (c == Color::kYellow) yellow += 1500;
  }
  // rte_meter's periods are whole cycles, at least 100 of them, so its
  // rates are within 1% of those asked for.
  EXPECT_NEAR(static_cast<double>(green), 2.0 * cir, 0.011 * 2 * cir);
  EXPECT_NEAR(static_cast<double>(green + yellow), 2.0 * pir, 0.011 * 2 * pir);
}

TEST(Meter, UnconfiguredIsGreenAndPipesAreIsolated) {
  auto meter = MakeMeter(4, MeterType::kPackets, 2);
  for (int n = 0; n < 100; ++n) EXPECT_EQ(meter->Execute(0, 3, 0, 100), Color::kGreen);
  EXPECT_FALSE(meter->Profile(3).ok());
  const MeterProfile profile{1000, 1000, 2, 2};  // time stands still: only bursts count
  ASSERT_TRUE(meter->Configure(3, profile).ok());
  EXPECT_EQ(*meter->Profile(3), profile);
  // Pipe 0 spends its two tokens; pipe 1 has its own.
  const uint64_t t = 1000;
  EXPECT_EQ(meter->Execute(0, 3, t, 0), Color::kGreen);
  EXPECT_EQ(meter->Execute(0, 3, t, 0), Color::kGreen);
  EXPECT_EQ(meter->Execute(0, 3, t, 0), Color::kRed);
  EXPECT_EQ(meter->Execute(1, 3, t, 0), Color::kGreen);
  EXPECT_EQ(meter->Execute(1, 3, t, 0), Color::kGreen);
  EXPECT_EQ(meter->Execute(1, 3, t, 0), Color::kRed);
  // Other indices are still unconfigured.
  EXPECT_EQ(meter->Execute(0, 1, t, 0), Color::kGreen);
  // Reset refills the buckets on every pipe.
  ASSERT_TRUE(meter->Reset(3).ok());
  EXPECT_EQ(meter->Execute(0, 3, t, 0), Color::kGreen);
  EXPECT_EQ(meter->Execute(1, 3, t, 0), Color::kGreen);
  // A new profile takes effect on the next packet.
  ASSERT_TRUE(meter->Configure(3, {1000, 1000, 10, 10}).ok());
  for (int n = 0; n < 10; ++n) EXPECT_EQ(meter->Execute(0, 3, t, 0), Color::kGreen);
  EXPECT_EQ(meter->Execute(0, 3, t, 0), Color::kRed);
}

TEST(Meter, ConfigurationErrorsSayWhatToFix) {
  auto meter = MakeMeter(4, MeterType::kBytes, 1);
  auto message = [&](uint32_t index, MeterProfile p) {
    const absl::Status s = meter->Configure(index, p);
    EXPECT_FALSE(s.ok());
    return std::string(s.message());
  };
  EXPECT_NE(message(0, {2000, 1000, 100, 100}).find("PIR (1000 bytes/s) must be at least CIR"),
            std::string::npos);
  EXPECT_NE(message(0, {1000, 2000, 0, 100}).find("CBS"), std::string::npos);
  EXPECT_NE(message(0, {0, 2000, 100, 100}).find("CIR"), std::string::npos);
  EXPECT_NE(message(4, {1000, 2000, 100, 100}).find("0..3"), std::string::npos);
  auto sr = MakeMeter(4, MeterType::kPackets, 1, MeterAlgorithm::kSrTcm);
  EXPECT_FALSE(sr->Configure(0, {1000, 2000, 100, 100}).ok());
  EXPECT_FALSE(sr->Configure(0, {1000, 0, 0, 0}).ok());
  EXPECT_TRUE(sr->Configure(0, {1000, 0, 0, 100}).ok());
  EXPECT_FALSE(Meter::Create("zero", 0, MeterType::kBytes, 1).ok());
}

// The control plane reconfigures while a pipe meters: the pipe only ever
// sees whole profiles, and ends on the last one.
TEST(Meter, ReconfigureWhilePipeRuns) {
  auto meter = MakeMeter(2, MeterType::kPackets, 1);
  const MeterProfile small{1000, 1000, 1, 1};
  const MeterProfile big{1000, 1000, 1000, 1000};
  ASSERT_TRUE(meter->Configure(0, small).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0};
  std::thread pipe([&] {
    while (!stop) {
      const Color c = meter->Execute(0, 0, 0, 1);
      if (c != Color::kGreen && c != Color::kYellow && c != Color::kRed) bad++;
    }
  });
  for (int n = 0; n < 20000; ++n) ASSERT_TRUE(meter->Configure(0, n % 2 ? small : big).ok());
  ASSERT_TRUE(meter->Configure(0, big).ok());
  stop = true;
  pipe.join();
  EXPECT_EQ(bad, 0u);
  // The pipe may have spent some of the last profile's burst before it
  // stopped: refill, then the last profile holds, 1000 packets at time 0.
  ASSERT_TRUE(meter->Reset(0).ok());
  for (int n = 0; n < 1000; ++n) ASSERT_EQ(meter->Execute(0, 0, 0, 1), Color::kGreen) << n;
  EXPECT_EQ(meter->Execute(0, 0, 0, 1), Color::kRed);
}

}  // namespace
}  // namespace softfino::pipe
