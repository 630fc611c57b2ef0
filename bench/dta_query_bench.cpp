// The collector's DTA queries on one core (the paper: Key-Write 7.1M
// queries/s on 4 cores): Key-Write votes over N slots, Key-Increment's
// minimum over the rows, Postcarding's decode and vote over whole paths,
// against memory filled as the translator would fill it. Keys are looked
// up at random, so slots come from DRAM as a collector's would.
// items_per_second is queries per second per core.
#include <cstring>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "softfino/dta/key_increment.h"
#include "softfino/dta/key_write.h"
#include "softfino/dta/postcarding.h"

namespace softfino::dta {
namespace {

constexpr uint64_t kSlots = uint64_t{1} << 22;  // 32 MiB of Key-Write slots
constexpr uint32_t kKeys = 1 << 20;             // load 0.25 at N = 1

std::vector<uint32_t> Keys() {
  std::mt19937 rng(1);
  std::vector<uint32_t> keys(kKeys);
  for (auto& k : keys) k = rng();
  return keys;
}

void BM_KeyWriteQuery(benchmark::State& state) {
  const auto n = static_cast<uint8_t>(state.range(0));
  const KeyWriteLayout layout = *KeyWriteLayout::Create(kSlots);
  std::vector<uint64_t> memory(layout.bytes() / 8);
  auto* bytes = reinterpret_cast<uint8_t*>(memory.data());
  const std::vector<uint32_t> keys = Keys();
  for (uint32_t k : keys) {
    const auto slot = layout.SlotBytes(k, k ^ 0x5a5a);
    for (uint8_t c = 0; c < n; ++c) std::memcpy(bytes + layout.SlotOffset(k, c), slot.data(), 8);
  }
  const std::span<const uint8_t> region(bytes, layout.bytes());
  size_t i = 0, found = 0;
  for (auto _ : state) {
    const KeyWriteAnswer a = layout.Query(region, keys[i++ & (kKeys - 1)], n, 1);
    found += a.found;
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["answered"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_KeyWriteQuery)->Arg(1)->Arg(2)->Arg(4);

void BM_KeyIncrementQuery(benchmark::State& state) {
  const KeyIncrementLayout layout = *KeyIncrementLayout::Create(2, kSlots);
  std::vector<uint64_t> memory(layout.bytes() / 8, 1);
  const std::span<const uint8_t> region(reinterpret_cast<const uint8_t*>(memory.data()),
                                        layout.bytes());
  const std::vector<uint32_t> keys = Keys();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(layout.Query(region, keys[i++ & (kKeys - 1)], 2));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyIncrementQuery);

void BM_PostcardingQuery(benchmark::State& state) {
  const PostcardingLayout layout = *PostcardingLayout::Create(uint64_t{1} << 20, 2);
  std::vector<uint64_t> memory(layout.bytes() / 8);
  auto* bytes = reinterpret_cast<uint8_t*>(memory.data());
  const std::vector<uint32_t> keys = Keys();
  for (uint32_t j = 0; j < (1u << 18); ++j) {  // load 0.25 of the path slots
    const PostcardHops hops = {1 + j % 64, 2, 3, 4, 5};
    const auto path = layout.PathBytes(keys[j], hops);
    for (uint8_t c = 0; c < 2; ++c) std::memcpy(bytes + layout.SlotOffset(keys[j], c), path.data(), path.size());
  }
  const std::span<const uint8_t> region(bytes, layout.bytes());
  auto known = [](uint32_t v) { return v >= 1 && v <= 64; };
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(layout.Query(region, keys[i++ & ((1u << 18) - 1)], 2, known));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PostcardingQuery);

}  // namespace
}  // namespace softfino::dta

BENCHMARK_MAIN();
