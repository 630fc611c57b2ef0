// Register against a naive model: one std::vector per pipe to which the same
// register actions are applied, over random sequences of packets and
// control-plane reads and writes.
#include "softfino/pipe/register.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

template <typename T>
std::unique_ptr<Register<T>> MakeRegister(uint32_t size, uint16_t pipes, T initial = T{}) {
  auto reg = Register<T>::Create("test_reg", size, pipes, initial);
  EXPECT_TRUE(reg.ok()) << reg.status();
  return std::move(*reg);
}

// RegisterActions as DTA, BurstRadar and sketches write them: each sees the
// cell, may change it, and returns an output.
template <typename T>
std::vector<std::function<T(T&, T)>> Actions() {
  return {
      [](T& v, T) { return v; },    // read
      [](T& v, T) { return ++v; },  // increment, return new
      [](T& v, T) { return v++; },  // increment, return old (PSN)
      [](T& v, T arg) {
        T old = v;
        v = arg;
        return old;
      },  // replace
      [](T& v, T arg) {
        v = std::max(v, arg);
        return v;
      },                 // max
      [](T& v, T arg) {  // conditional: compare and set
        if (v == arg) return T{0};
        T old = v;
        v = arg;
        return old;
      },
      [](T& v, T arg) {
        v = static_cast<T>(v + arg);
        return T{1};
      },  // add, constant out
  };
}

template <typename T>
void RandomSequencesMatchTheModel(uint32_t size, uint16_t pipes, uint32_t seed) {
  const T initial = static_cast<T>(seed % 7);
  auto reg = MakeRegister<T>(size, pipes, initial);
  std::vector<std::vector<T>> model(pipes, std::vector<T>(size, initial));
  const auto actions = Actions<T>();
  std::mt19937_64 rng(seed);
  for (int step = 0; step < 20000; ++step) {
    const uint16_t pipe = rng() % pipes;
    const uint32_t index = rng() % size;
    const T arg = static_cast<T>(rng() % 5 == 0 ? rng() : rng() % 16);
    switch (rng() % 10) {
      case 0: {  // the control plane writes a cell
        ASSERT_TRUE(reg->Write(pipe, index, arg).ok());
        model[pipe][index] = arg;
        break;
      }
      case 1: {  // the control plane reads a cell of every pipe
        auto all = reg->ReadAllPipes(index);
        ASSERT_TRUE(all.ok());
        for (uint16_t p = 0; p < pipes; ++p) ASSERT_EQ((*all)[p], model[p][index]);
        break;
      }
      default: {  // a packet runs an action
        const auto& action = actions[rng() % actions.size()];
        const T got = reg->Execute(pipe, index, [&](T& v) { return action(v, arg); });
        const T want = action(model[pipe][index], arg);
        ASSERT_EQ(got, want) << "step " << step;
        ASSERT_EQ(*reg->Read(pipe, index), model[pipe][index]) << "step " << step;
      }
    }
  }
  for (uint16_t p = 0; p < pipes; ++p) {
    for (uint32_t i = 0; i < size; ++i) ASSERT_EQ(*reg->Read(p, i), model[p][i]);
  }
  reg->Reset();
  for (uint16_t p = 0; p < pipes; ++p) {
    for (uint32_t i = 0; i < size; ++i) ASSERT_EQ(*reg->Read(p, i), initial);
  }
}

TEST(Register, RandomSequencesMatchTheModel) {
  RandomSequencesMatchTheModel<uint32_t>(64, 4, 1);
  RandomSequencesMatchTheModel<uint8_t>(16, 2, 2);
  RandomSequencesMatchTheModel<uint16_t>(1000, 3, 3);
  RandomSequencesMatchTheModel<uint64_t>(4096, 1, 4);
}

TEST(Register, ActionsWithoutOutput) {
  auto reg = MakeRegister<uint32_t>(8, 1, 5);
  reg->Execute(0, 3, [](uint32_t& v) { v *= 3; });
  EXPECT_EQ(*reg->Read(0, 3), 15u);
}

// Tofino's paired registers: two 32-bit halves updated together.
struct Pair {
  uint32_t lo;
  uint32_t hi;
};

TEST(Register, PairCells) {
  auto reg = MakeRegister<Pair>(32, 2, Pair{1, 2});
  const uint32_t out = reg->Execute(1, 7, [](Pair& p) {
    p.lo += 10;
    p.hi = p.lo * 2;
    return p.hi;
  });
  EXPECT_EQ(out, 22u);
  auto cell = reg->Read(1, 7);
  ASSERT_TRUE(cell.ok());
  EXPECT_EQ(cell->lo, 11u);
  EXPECT_EQ(cell->hi, 22u);
  EXPECT_EQ(reg->Read(0, 7)->lo, 1u);  // pipe 0 untouched
}

TEST(Register, PipesAreIsolated) {
  auto reg = MakeRegister<uint32_t>(16, 4);
  for (uint16_t p = 0; p < 4; ++p) {
    for (uint32_t n = 0; n <= p; ++n) reg->Execute(p, 9, [](uint32_t& v) { return ++v; });
  }
  const std::vector<uint32_t> want = {1, 2, 3, 4};
  EXPECT_EQ(*reg->ReadAllPipes(9), want);
  ASSERT_TRUE(reg->WriteAllPipes(9, 100).ok());
  EXPECT_EQ(*reg->ReadAllPipes(9), std::vector<uint32_t>(4, 100));
  ASSERT_TRUE(reg->Write(2, 9, 7).ok());
  EXPECT_EQ(*reg->ReadAllPipes(9), (std::vector<uint32_t>{100, 100, 7, 100}));
  for (uint32_t i = 0; i < 16; ++i) {
    if (i != 9) {
      EXPECT_EQ(*reg->ReadAllPipes(i), std::vector<uint32_t>(4, 0));
    }
  }
}

TEST(Register, IndexWrapsToThePowerOfTwoCapacity) {
  auto reg = MakeRegister<uint32_t>(64, 1);
  EXPECT_EQ(reg->capacity(), 64u);
  reg->Execute(0, 64 + 5, [](uint32_t& v) { v = 42; });
  EXPECT_EQ(*reg->Read(0, 5), 42u);
  reg->Execute(0, 0xffffffff, [](uint32_t& v) { v = 43; });
  EXPECT_EQ(*reg->Read(0, 63), 43u);

  // Not a power of two: indices past the end land in spare cells, never
  // outside the array, and never in a cell the control plane addresses.
  auto odd = MakeRegister<uint32_t>(100, 1);
  EXPECT_EQ(odd->capacity(), 128u);
  odd->Execute(0, 120, [](uint32_t& v) { v = 1; });
  odd->Execute(0, 128 + 7, [](uint32_t& v) { v = 2; });
  EXPECT_EQ(*odd->Read(0, 7), 2u);
  for (uint32_t i = 0; i < 100; ++i) {
    if (i != 7) {
      EXPECT_EQ(*odd->Read(0, i), 0u);
    }
  }
  EXPECT_EQ(odd->Execute(0, 120, [](uint32_t& v) { return v; }), 1u);
  odd->Reset();
  EXPECT_EQ(odd->Execute(0, 120, [](uint32_t& v) { return v; }), 0u);
}

TEST(Register, ControlPathErrorsSayTheValidRange) {
  auto reg = MakeRegister<uint16_t>(10, 2);
  auto bad_index = reg->Read(0, 10);
  ASSERT_FALSE(bad_index.ok());
  EXPECT_NE(bad_index.status().message().find("0..9"), absl::string_view::npos)
      << bad_index.status();
  auto bad_pipe = reg->Read(2, 0);
  ASSERT_FALSE(bad_pipe.ok());
  EXPECT_NE(bad_pipe.status().message().find("0..1"), absl::string_view::npos) << bad_pipe.status();
  EXPECT_FALSE(reg->Write(0, 10, 1).ok());
  EXPECT_FALSE(reg->WriteAllPipes(11, 1).ok());
  EXPECT_FALSE(reg->ReadAllPipes(10).ok());
  EXPECT_FALSE((Register<uint32_t>::Create("zero", 0, 1).ok()));
  EXPECT_FALSE((Register<uint32_t>::Create("nopipes", 8, 0).ok()));
}

// A pipe worker counts while the control plane reads: every read is a value
// the cell really held (whole, never decreasing), and the final one is exact.
TEST(Register, ControlReadsWhilePipesWrite) {
  auto reg = MakeRegister<uint64_t>(4, 1);
  constexpr uint64_t kIncrements = 2'000'000;
  std::atomic<bool> done{false};
  std::thread pipe([&] {
    for (uint64_t n = 0; n < kIncrements; ++n) {
      reg->Execute(0, 1, [](uint64_t& v) { v += 0x0000000100000001; });
    }
    done = true;
  });
  uint64_t last = 0;
  while (!done) {
    const uint64_t v = *reg->Read(0, 1);
    ASSERT_EQ(v >> 32, v & 0xffffffff) << "torn read";
    ASSERT_GE(v, last);
    last = v;
  }
  pipe.join();
  EXPECT_EQ(*reg->Read(0, 1), kIncrements * 0x0000000100000001);
}

}  // namespace
}  // namespace softfino::pipe
