// Match tables: ns per lookup, single and bulk (a burst of 32), for exact,
// ternary and range tables at several sizes, beside std::unordered_map,
// absl::flat_hash_map (absl::Hash) and rte_hash baselines for exact; and the
// control-plane costs that copy-on-write adds: Clone() and Commit().
// Run: build/bench/table_bench (add --benchmark_filter=Exact etc.)
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "benchmark/benchmark.h"
#include "softfino/pipe/exact_table.h"
#include "softfino/pipe/range_table.h"
#include "softfino/pipe/ternary_table.h"

namespace {

using namespace softfino;
using namespace softfino::pipe;

constexpr unsigned kBurst = 32;
constexpr size_t kProbes = 1 << 16;

struct Data {
  uint32_t port;
  uint32_t nexthop;
};

// --- Exact: 13-byte 5-tuple keys, 90% of probes hit. -----------------------

using FiveTuple = Key<13>;

FiveTuple RandomTuple(std::mt19937_64& rng) {
  return MakeKey(field::Ipv4(static_cast<uint32_t>(rng())),
                 field::Ipv4(static_cast<uint32_t>(rng())), field::U8(rng() % 2 ? 6 : 17),
                 field::U16(static_cast<uint16_t>(rng())),
                 field::U16(static_cast<uint16_t>(rng())));
}

struct ExactWorkload {
  std::vector<FiveTuple> keys, probes;
  explicit ExactWorkload(size_t n) {
    std::mt19937_64 rng(n);
    keys.resize(n);
    for (auto& k : keys) k = RandomTuple(rng);
    probes.resize(kProbes);
    for (auto& p : probes) p = rng() % 10 ? keys[rng() % n] : RandomTuple(rng);
  }
};

template <typename Lookup>
void RunProbes(benchmark::State& state, const std::vector<FiveTuple>& probes, Lookup&& lookup) {
  size_t next = 0;
  for (auto _ : state) {
    lookup(&probes[next]);
    next = (next + kBurst) % kProbes;
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void BM_Exact(benchmark::State& state, bool bulk) {
  const size_t n = static_cast<size_t>(state.range(0));
  ExactWorkload w(n);
  TableOptions options;
  options.size = static_cast<uint32_t>(n);
  auto table = *ExactTable<13, Data>::Create(options);
  for (size_t i = 0; i < n; ++i) {
    if (!table->Add(w.keys[i], {1, {static_cast<uint32_t>(i), 0}}).ok()) state.SkipWithError("add");
  }
  const MatchResult<Data>* results[kBurst];
  uint64_t sum = 0;
  RunProbes(state, w.probes, [&](const FiveTuple* k) {
    if (bulk) {
      table->LookupBulk(k, results, kBurst);
    } else {
      for (unsigned i = 0; i < kBurst; ++i) results[i] = table->Lookup(k[i]);
    }
    for (unsigned i = 0; i < kBurst; ++i) sum += results[i]->data.port;  // use the entry
  });
  benchmark::DoNotOptimize(sum);
}
BENCHMARK_CAPTURE(BM_Exact, single, false)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_Exact, bulk, true)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);

struct StdKeyHash {
  size_t operator()(const FiveTuple& k) const { return HashKeyBytes(k.bytes, 13); }
};
struct AbslKeyHash {
  size_t operator()(const FiveTuple& k) const {
    return absl::Hash<absl::string_view>()(
        absl::string_view(reinterpret_cast<const char*>(k.bytes), 13));
  }
};

template <typename Map>
void BM_ExactBaseline(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  ExactWorkload w(n);
  Map map;
  map.reserve(n);
  for (size_t i = 0; i < n; ++i) map.emplace(w.keys[i], Data{static_cast<uint32_t>(i), 0});
  uint64_t sum = 0;
  RunProbes(state, w.probes, [&](const FiveTuple* k) {
    for (unsigned i = 0; i < kBurst; ++i) {
      auto it = map.find(k[i]);
      sum += it == map.end() ? 0 : it->second.port;
    }
  });
  benchmark::DoNotOptimize(sum);
}
// std::unordered_map with the same CRC32C hash; flat_hash_map with absl::Hash.
BENCHMARK_TEMPLATE(BM_ExactBaseline, std::unordered_map<FiveTuple, Data, StdKeyHash>)
    ->Name("BM_ExactBaseline/std_unordered_map")
    ->Arg(1 << 10)
    ->Arg(1 << 16)
    ->Arg(1 << 20);
BENCHMARK_TEMPLATE(BM_ExactBaseline, absl::flat_hash_map<FiveTuple, Data, AbslKeyHash>)
    ->Name("BM_ExactBaseline/absl_flat_hash_map")
    ->Arg(1 << 10)
    ->Arg(1 << 16)
    ->Arg(1 << 20);

// DPDK's rte_hash (extendable buckets, CRC32C, sized for 1.25x the entries),
// key -> position into an entry array: the structure ExactTable did not pick.
rte_hash* NewRteHash(size_t n) {
  static std::atomic<int> id{0};
  const std::string name = "bench_" + std::to_string(id++);
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = static_cast<uint32_t>(std::max<size_t>(n + n / 4, 64));
  p.key_len = 13;
  p.hash_func = rte_hash_crc;
  p.socket_id = SOCKET_ID_ANY;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  return rte_hash_create(&p);
}

void BM_ExactBaselineRteHash(benchmark::State& state, bool bulk) {
  const size_t n = static_cast<size_t>(state.range(0));
  ExactWorkload w(n);
  rte_hash* h = NewRteHash(n);
  if (h == nullptr) return state.SkipWithError("rte_hash_create");
  std::vector<MatchResult<Data>> entries(n + n / 4 + 64);
  for (size_t i = 0; i < n; ++i) {
    const int32_t pos = rte_hash_add_key(h, &w.keys[i]);
    if (pos < 0) return state.SkipWithError("rte_hash_add_key");
    entries[pos].data.port = static_cast<uint32_t>(i);
  }
  uint64_t sum = 0;
  RunProbes(state, w.probes, [&](const FiveTuple* k) {
    int32_t pos[kBurst];
    if (bulk) {
      const void* keys[kBurst];
      for (unsigned i = 0; i < kBurst; ++i) keys[i] = &k[i];
      rte_hash_lookup_bulk(h, keys, kBurst, pos);
    } else {
      for (unsigned i = 0; i < kBurst; ++i) pos[i] = rte_hash_lookup(h, &k[i]);
    }
    for (unsigned i = 0; i < kBurst; ++i) sum += pos[i] < 0 ? 0 : entries[pos[i]].data.port;
  });
  benchmark::DoNotOptimize(sum);
  rte_hash_free(h);
}
BENCHMARK_CAPTURE(BM_ExactBaselineRteHash, single, false)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_ExactBaselineRteHash, bulk, true)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);

void BM_ExactClone(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  ExactWorkload w(n);
  TableOptions options;
  options.size = static_cast<uint32_t>(n);
  options.direct_counters = true;
  auto table = *ExactTable<13, Data>::Create(options);
  for (size_t i = 0; i < n; ++i) {
    if (!table->Add(w.keys[i], {1, {}}).ok()) state.SkipWithError("add");
  }
  for (auto _ : state) {
    auto clone = *table->Clone();
    benchmark::DoNotOptimize(clone.get());
    state.PauseTiming();
    clone.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ExactClone)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// The same clone done the rte_hash way: a new table, every key re-added
// with its stored hash.
void BM_ExactCloneBaselineRteHash(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  ExactWorkload w(n);
  std::vector<hash_sig_t> sigs(n);
  for (size_t i = 0; i < n; ++i) sigs[i] = rte_hash_crc(w.keys[i].bytes, 13, 0);
  for (auto _ : state) {
    rte_hash* h = NewRteHash(n);
    for (size_t i = 0; i < n; ++i) rte_hash_add_key_with_hash(h, &w.keys[i], sigs[i]);
    state.PauseTiming();
    rte_hash_free(h);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ExactCloneBaselineRteHash)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// --- Ternary: 5-tuple keys, masks drawn from prefix lengths of the two
// addresses and exact-or-wildcard proto and ports. Random priorities, so
// early exit helps only as much as chance allows. -------------------------

struct TernaryWorkload {
  std::vector<TernarySpec<13>> specs;
  std::vector<FiveTuple> probes;
  // `by_mask`: priorities follow the masks (every entry of mask i beats
  // every entry of mask i + 1), as in ACLs where more specific rules come
  // first; else random, the worst case for early exit.
  TernaryWorkload(size_t masks, size_t n, bool by_mask = false) {
    std::mt19937_64 rng(masks * 1000 + n);
    std::vector<Mask<13>> mask_set;
    while (mask_set.size() < masks) {
      const int lens[] = {0, 8, 16, 24, 32};
      const uint32_t src = lens[rng() % 5], dst = lens[rng() % 5];
      auto prefix = [](uint32_t len) { return len == 0 ? 0u : ~0u << (32 - len); };
      const Mask<13> m = MakeMask(
          field::U32(prefix(src)), field::U32(prefix(dst)), field::U8(rng() % 2 ? 0xff : 0),
          field::U16(rng() % 2 ? 0xffff : 0), field::U16(rng() % 2 ? 0xffff : 0));
      if (std::find(mask_set.begin(), mask_set.end(), m) == mask_set.end()) mask_set.push_back(m);
    }
    specs.resize(n);
    for (size_t i = 0; i < n; ++i) {
      specs[i].mask = mask_set[i % masks];
      specs[i].value = ApplyMask(RandomTuple(rng), specs[i].mask);
      specs[i].priority = static_cast<uint32_t>(rng() % 100000);
      if (by_mask) specs[i].priority += static_cast<uint32_t>(i % masks) * 100000;
    }
    probes.resize(kProbes);
    for (auto& p : probes) {
      const auto& s = specs[rng() % n];
      p = RandomTuple(rng);
      if (rng() % 10) {  // a hit: the entry's value under its mask, random elsewhere
        for (size_t b = 0; b < 13; ++b) {
          p.bytes[b] = static_cast<uint8_t>((s.value.bytes[b] & s.mask.bytes[b]) |
                                            (p.bytes[b] & ~s.mask.bytes[b]));
        }
      }
    }
  }
};

std::unique_ptr<TernaryTable<13, Data>> NewTernary(const TernaryWorkload& w) {
  TableOptions options;
  options.size = static_cast<uint32_t>(w.specs.size());
  auto table = *TernaryTable<13, Data>::Create(options);
  for (size_t i = 0; i < w.specs.size(); ++i) {
    // Random specs can repeat: skip the duplicates.
    (void)table->Add(w.specs[i], {1, {static_cast<uint32_t>(i), 0}});
  }
  (void)table->Commit();
  return table;
}

void BM_Ternary(benchmark::State& state, bool bulk) {
  TernaryWorkload w(static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)),
                    state.range(2) != 0);
  auto table = NewTernary(w);
  const MatchResult<Data>* results[kBurst];
  uint64_t sum = 0;
  RunProbes(state, w.probes, [&](const FiveTuple* k) {
    if (bulk) {
      table->LookupBulk(k, results, kBurst);
    } else {
      for (unsigned i = 0; i < kBurst; ++i) results[i] = table->Lookup(k[i]);
    }
    for (unsigned i = 0; i < kBurst; ++i) sum += results[i]->data.port;
  });
  benchmark::DoNotOptimize(sum);
  state.counters["masks"] = static_cast<double>(table->mask_count());
}
// Args: masks, entries, priorities by mask (1) or random (0).
BENCHMARK_CAPTURE(BM_Ternary, single, false)->ArgsProduct({{8, 32}, {1 << 10, 1 << 16}, {0, 1}});
BENCHMARK_CAPTURE(BM_Ternary, single, false)->Args({8, 1 << 18, 0});
BENCHMARK_CAPTURE(BM_Ternary, bulk, true)->Args({8, 1 << 18, 0});
BENCHMARK_CAPTURE(BM_Ternary, bulk, true)->ArgsProduct({{8, 32}, {1 << 10, 1 << 16}, {0, 1}});

void BM_TernaryClone(benchmark::State& state) {
  TernaryWorkload w(32, static_cast<size_t>(state.range(0)));
  auto table = NewTernary(w);
  for (auto _ : state) {
    auto clone = *table->Clone();
    benchmark::DoNotOptimize(clone.get());
    state.PauseTiming();
    clone.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_TernaryClone)->Arg(1 << 16)->Unit(benchmark::kMillisecond);

// --- Range: proto (exact) . sport (range) . dport (range); port ranges are
// 50% one port, 30% up to 1024 wide, 20% any (sport: 60% any). -----------

using RangeKey = Key<5>;
const std::vector<MatchField> kRangeFields = {
    {MatchKind::kExact, 1}, {MatchKind::kRange, 2}, {MatchKind::kRange, 2}};

struct RangeWorkload {
  std::vector<RangeSpec<5>> specs;
  std::vector<RangeKey> probes;
  explicit RangeWorkload(size_t n) {
    std::mt19937_64 rng(n);
    specs.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t proto = rng() % 2 ? 6 : 17;
      uint16_t slo = 0, shi = 65535, dlo, dhi;
      if (rng() % 10 >= 6) {
        slo = static_cast<uint16_t>(rng());
        shi = static_cast<uint16_t>(std::min<uint32_t>(65535, slo + rng() % 1024));
      }
      const unsigned c = rng() % 10;
      if (c < 5) {
        dlo = dhi = static_cast<uint16_t>(rng());
      } else if (c < 8) {
        dlo = static_cast<uint16_t>(rng());
        dhi = static_cast<uint16_t>(std::min<uint32_t>(65535, dlo + rng() % 1024));
      } else {
        dlo = 0, dhi = 65535;
      }
      specs[i] = {MakeKey(field::U8(proto), field::U16(slo), field::U16(dlo)),
                  MakeKey(field::U8(proto), field::U16(shi), field::U16(dhi)),
                  static_cast<uint32_t>(rng() % 100000)};
    }
    probes.resize(kProbes);
    for (auto& p : probes) {
      const auto& s = specs[rng() % n];
      auto pick = [&](size_t off) {
        const uint32_t lo = s.low.bytes[off] << 8 | s.low.bytes[off + 1];
        const uint32_t hi = s.high.bytes[off] << 8 | s.high.bytes[off + 1];
        return static_cast<uint16_t>(lo + rng() % (hi - lo + 1));
      };
      p = MakeKey(field::U8(s.low.bytes[0]), field::U16(pick(1)),
                  field::U16(rng() % 4 ? pick(3) : static_cast<uint16_t>(rng())));
    }
  }
};

template <size_t ScanMax>
std::unique_ptr<RangeTable<5, Data, ScanMax>> NewRange(const RangeWorkload& w) {
  TableOptions options;
  options.size = static_cast<uint32_t>(w.specs.size());
  auto table = *RangeTable<5, Data, ScanMax>::Create(options, kRangeFields);
  for (size_t i = 0; i < w.specs.size(); ++i) {
    (void)table->Add(w.specs[i], {1, {static_cast<uint32_t>(i), 0}});
  }
  if (!table->Commit().ok()) return nullptr;
  return table;
}

// ScanMax = 32 is what ships; 0 forces rte_acl and 1<<20 forces the scan, to
// find where one overtakes the other.
template <size_t ScanMax>
void BM_Range(benchmark::State& state, bool bulk, bool misses = false) {
  RangeWorkload w(static_cast<size_t>(state.range(0)));
  if (misses) {
    for (auto& p : w.probes) p.bytes[0] = 1;  // no entry has proto 1: a scan's worst case
  }
  auto table = NewRange<ScanMax>(w);
  if (table == nullptr) return state.SkipWithError("commit");
  const MatchResult<Data>* results[kBurst];
  uint64_t sum = 0;
  size_t next = 0;
  for (auto _ : state) {
    const RangeKey* k = &w.probes[next];
    if (bulk) {
      table->LookupBulk(k, results, kBurst);
    } else {
      for (unsigned i = 0; i < kBurst; ++i) results[i] = table->Lookup(k[i]);
    }
    for (unsigned i = 0; i < kBurst; ++i) sum += results[i]->data.port;
    next = (next + kBurst) % kProbes;
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  benchmark::DoNotOptimize(sum);
  state.counters["acl"] = table->uses_acl();
}
void BM_RangeShipped(benchmark::State& state, bool bulk) { BM_Range<32>(state, bulk); }
void BM_RangeScanOnly(benchmark::State& state, bool bulk) { BM_Range<1 << 20>(state, bulk); }
void BM_RangeAclOnly(benchmark::State& state, bool bulk) { BM_Range<0>(state, bulk); }
void BM_RangeScanOnlyMiss(benchmark::State& state) { BM_Range<1 << 20>(state, false, true); }
void BM_RangeAclOnlyMiss(benchmark::State& state) { BM_Range<0>(state, false, true); }
BENCHMARK_CAPTURE(BM_RangeShipped, single, false)->Arg(16)->Arg(1 << 10)->Arg(1 << 16);
BENCHMARK_CAPTURE(BM_RangeShipped, bulk, true)->Arg(16)->Arg(1 << 10)->Arg(1 << 16);
BENCHMARK_CAPTURE(BM_RangeScanOnly, single, false)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(256);
BENCHMARK_CAPTURE(BM_RangeAclOnly, single, false)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(256);
BENCHMARK_CAPTURE(BM_RangeScanOnly, bulk, true)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(256);
BENCHMARK_CAPTURE(BM_RangeAclOnly, bulk, true)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(256);
BENCHMARK(BM_RangeScanOnlyMiss)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(256);
BENCHMARK(BM_RangeAclOnlyMiss)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(256);

void BM_RangeCommit(benchmark::State& state) {
  RangeWorkload w(static_cast<size_t>(state.range(0)));
  TableOptions options;
  options.size = static_cast<uint32_t>(w.specs.size());
  auto table = *RangeTable<5, Data>::Create(options, kRangeFields);
  for (const auto& s : w.specs) (void)table->Add(s, {1, {}});
  for (auto _ : state) {
    // Touch one entry so that Commit() has work; the build dominates.
    (void)table->Modify(w.specs[0], {2, {}});
    if (!table->Commit().ok()) state.SkipWithError("commit");
  }
}
BENCHMARK(BM_RangeCommit)->Arg(32)->Arg(1 << 10)->Arg(1 << 16)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  char arg0[] = "table_bench", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "2048",
       a5[] = "--no-pci", a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry",
       a9[] = "--log-level=error";
  char* eal_argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
