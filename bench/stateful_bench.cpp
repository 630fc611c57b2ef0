// Per-packet cost of the stateful and hashing parts of the switch model:
// CRC hashes over typical hash inputs (a 4-byte key, a 13-byte 5-tuple, 64
// bytes), table-driven against the crc32 instruction for CRC-32C; a register
// action, a counter increment and a meter execute at random indices. Speed
// lives here, never in tests. Run: build/bench/stateful_bench
#include <rte_cycles.h>
#include <rte_eal.h>

#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "softfino/pipe/counter_array.h"
#include "softfino/pipe/hash_unit.h"
#include "softfino/pipe/meter.h"
#include "softfino/pipe/register.h"

namespace {

using namespace softfino;

// Random bytes to hash, walked at a different offset each time so the
// compiler cannot fold the input and the branch predictor cannot learn it.
std::vector<uint8_t> RandomBytes(size_t n) {
  std::mt19937 rng(9);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

std::vector<uint32_t> RandomIndices(size_t n, uint32_t range) {
  std::mt19937 rng(10);
  std::vector<uint32_t> v(n);
  for (auto& i : v) i = static_cast<uint32_t>(rng() % range);
  return v;
}

void BM_Crc(benchmark::State& state, const char* name, pipe::Crc::Engine engine) {
  auto crc = pipe::Crc::Create(*pipe::CrcSpecByName(name), engine);
  if (!crc.ok()) return state.SkipWithError("crc");
  const size_t len = static_cast<size_t>(state.range(0));
  const std::vector<uint8_t> data = RandomBytes(4096 + 64);
  size_t offset = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc->Compute(data.data() + offset, len));
    offset = (offset + 61) & 4095;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(crc->uses_crc32_instruction() ? "crc32 instruction" : "table");
}
BENCHMARK_CAPTURE(BM_Crc, crc_32, "crc_32", pipe::Crc::Engine::kAuto)->Arg(4)->Arg(13)->Arg(64);
BENCHMARK_CAPTURE(BM_Crc, crc_32c_table, "crc_32c", pipe::Crc::Engine::kTable)
    ->Arg(4)
    ->Arg(13)
    ->Arg(64);
BENCHMARK_CAPTURE(BM_Crc, crc_32c_rte_hash_crc, "crc_32c", pipe::Crc::Engine::kAuto)
    ->Arg(4)
    ->Arg(13)
    ->Arg(64);
BENCHMARK_CAPTURE(BM_Crc, crc_16, "crc_16", pipe::Crc::Engine::kAuto)->Arg(4)->Arg(13)->Arg(64);
BENCHMARK_CAPTURE(BM_Crc, crc_32_bzip2, "crc_32_bzip2", pipe::Crc::Engine::kAuto)->Arg(13);
BENCHMARK_CAPTURE(BM_Crc, crc_64, "crc_64", pipe::Crc::Engine::kAuto)->Arg(13);

// A 5-tuple hash as a program writes it: fields packed by HashUnit.
void BM_HashUnitFiveTuple(benchmark::State& state) {
  auto hash = pipe::HashUnit::Create(*pipe::CrcSpecByName("crc_32"), 16);
  if (!hash.ok()) return state.SkipWithError("hash");
  const std::vector<uint32_t> r = RandomIndices(4096, ~0u);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hash->Get({{r[i], 32},
                                        {r[(i + 1) & 4095], 32},
                                        {r[(i + 2) & 4095] & 0xffff, 16},
                                        {r[(i + 3) & 4095] & 0xffff, 16},
                                        {6, 8}}));
    i = (i + 1) & 4095;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashUnitFiveTuple);

// The same with compile-time widths (HashUnit::Get(Bits<N>...)).
void BM_HashUnitFiveTupleBits(benchmark::State& state) {
  auto hash = pipe::HashUnit::Create(*pipe::CrcSpecByName("crc_32"), 16);
  if (!hash.ok()) return state.SkipWithError("hash");
  const std::vector<uint32_t> r = RandomIndices(4096, ~0u);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hash->Get(pipe::Bits<32>{r[i]}, pipe::Bits<32>{r[(i + 1) & 4095]},
                                       pipe::Bits<16>{r[(i + 2) & 4095]},
                                       pipe::Bits<16>{r[(i + 3) & 4095]}, pipe::Bits<8>{6}));
    i = (i + 1) & 4095;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashUnitFiveTupleBits);

// The same hash over the 13 bytes already laid out, to show what packing
// the fields costs.
void BM_HashUnitBytes(benchmark::State& state) {
  auto hash = pipe::HashUnit::Create(*pipe::CrcSpecByName("crc_32"), 16);
  if (!hash.ok()) return state.SkipWithError("hash");
  const std::vector<uint8_t> data = RandomBytes(4096 + 64);
  size_t offset = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hash->Get(data.data() + offset, 13));
    offset = (offset + 61) & 4095;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashUnitBytes);

// RegisterAction: increment and return the new value, as a sketch row does.
// 64 Ki cells (256 KiB) stay in cache; 16 Mi cells (64 MiB) do not.
void BM_RegisterExecute(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  auto reg = pipe::Register<uint32_t>::Create("bench_reg", size, 1);
  if (!reg.ok()) return state.SkipWithError("register");
  const std::vector<uint32_t> idx = RandomIndices(1 << 16, size);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize((*reg)->Execute(0, idx[i], [](uint32_t& v) { return ++v; }));
    i = (i + 1) & 0xffff;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RegisterExecute)->Arg(1 << 16)->Arg(1 << 24);

void BM_CounterCount(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  auto counter =
      pipe::CounterArray::Create("bench_ctr", size, pipe::CounterType::kPacketsAndBytes, 1);
  if (!counter.ok()) return state.SkipWithError("counter");
  const std::vector<uint32_t> idx = RandomIndices(1 << 16, size);
  size_t i = 0;
  for (auto _ : state) {
    (*counter)->Count(0, idx[i], 64 + (i & 1023));
    i = (i + 1) & 0xffff;
  }
  benchmark::DoNotOptimize((*counter)->Read(0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterCount)->Arg(1 << 12);

// trTCM at 1 Gb/s CIR, 2 Gb/s PIR, on 1024 indices; time advances 100 cycles
// per packet (virtual, as when replaying).
void BM_MeterExecute(benchmark::State& state, pipe::MeterAlgorithm algorithm) {
  constexpr uint32_t kSize = 1024;
  auto meter = pipe::Meter::Create("bench_meter", kSize, pipe::MeterType::kBytes, 1, algorithm);
  if (!meter.ok()) return state.SkipWithError("meter");
  const pipe::MeterProfile profile =
      algorithm == pipe::MeterAlgorithm::kTrTcm
          ? pipe::MeterProfile{125'000'000, 250'000'000, 15000, 30000}
          : pipe::MeterProfile{125'000'000, 0, 15000, 30000};
  if (!(*meter)->ConfigureAll(profile).ok()) return state.SkipWithError("configure");
  const std::vector<uint32_t> idx = RandomIndices(1 << 16, kSize);
  size_t i = 0;
  uint64_t now = rte_get_tsc_cycles();
  for (auto _ : state) {
    benchmark::DoNotOptimize((*meter)->Execute(0, idx[i], now, 64 + (i & 1023)));
    now += 100;
    i = (i + 1) & 0xffff;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_MeterExecute, trtcm, pipe::MeterAlgorithm::kTrTcm);
BENCHMARK_CAPTURE(BM_MeterExecute, srtcm, pipe::MeterAlgorithm::kSrTcm);

}  // namespace

int main(int argc, char** argv) {
  char arg0[] = "stateful_bench", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m",
       a4[] = "1024", a5[] = "--no-pci", a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry",
       a9[] = "--log-level=error";
  char* eal_argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
