// Per-packet cost of l3fwd's ingress (parse, LPM, rewrite) on bursts of valid
// 64-byte packets, and of the LPM lookups alone, single and bulk. Speed lives
// here, never in tests. Run: build/bench/l3fwd_bench
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"
#include "pipelines/l3fwd/l3fwd.h"
#include "softfino/pipe/lpm_table.h"

namespace {

using namespace softfino;

rte_mempool* pool;

// `routes` /24 routes under 10.0.0.0/8 to 4 next hops over 4 ports.
nlohmann::json Config(int routes) {
  nlohmann::json c;
  for (int nh = 0; nh < 4; ++nh) {
    c["tables"]["nexthop"].push_back({{"key", {{"nexthop_id", nh}}},
                                      {"action", "forward"},
                                      {"data",
                                       {{"port", nh},
                                        {"src_mac", "02:00:00:00:00:01"},
                                        {"dst_mac", "02:00:00:00:00:02"}}}});
  }
  for (int r = 0; r < routes; ++r) {
    const std::string prefix = "10." + std::to_string(r / 256 % 256) + "." + std::to_string(r % 256) + ".0/24";
    c["tables"]["ipv4_lpm"].push_back(
        {{"key", {{"dst_addr", prefix}}}, {"action", "set_nexthop"}, {"data", {{"nexthop_id", r % 4}}}});
  }
  return c;
}

// A 64-byte Ethernet/IPv4/UDP frame to 10.x.y.1 with a valid checksum.
void BuildPacket(uint8_t* f, uint32_t dst) {
  std::memset(f, 0, 64);
  f[12] = 0x08;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + 14);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(46);
  ip->time_to_live = 64;
  ip->next_proto_id = 17;
  ip->src_addr = rte_cpu_to_be_32(0xc0a80001);
  ip->dst_addr = rte_cpu_to_be_32(dst);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

void BM_L3fwdIngress(benchmark::State& state, bool forward) {
  const int routes = static_cast<int>(state.range(0));
  auto program = pipelines::L3fwd::Create();
  if (!program->Configure(Config(routes), {4}).ok()) state.SkipWithError("config");
  std::mt19937 rng(1);
  pipe::PacketBurst burst;
  uint8_t templates[pipe::kBurstSize][64];
  for (uint16_t i = 0; i < pipe::kBurstSize; ++i) {
    burst.pkts[i] = rte_pktmbuf_alloc(pool);
    char* data = rte_pktmbuf_append(burst.pkts[i], 64);
    const uint32_t r = rng() % routes;
    BuildPacket(templates[i], 0x0a000001u | (r / 256 % 256) << 16 | (r % 256) << 8);
    std::memcpy(data, templates[i], 64);
  }
  for (auto _ : state) {
    // Undo the last run's rewrite so every run forwards; the baseline
    // variant (forward=false) measures this restore alone.
    for (uint16_t i = 0; i < pipe::kBurstSize; ++i) {
      std::memcpy(rte_pktmbuf_mtod(burst.pkts[i], uint8_t*), templates[i], 34);
    }
    burst.Reset(pipe::kBurstSize, 0, 0);
    if (forward) program->Ingress(burst);
    benchmark::DoNotOptimize(burst.md[0]);
  }
  state.SetItemsProcessed(state.iterations() * pipe::kBurstSize);
  rte_pktmbuf_free_bulk(burst.pkts, pipe::kBurstSize);
}
BENCHMARK_CAPTURE(BM_L3fwdIngress, forward, true)->Arg(1024)->Arg(16384);
BENCHMARK_CAPTURE(BM_L3fwdIngress, restore_only_baseline, false)->Arg(1024);

void BM_Ipv4Lpm(benchmark::State& state, bool bulk) {
  const uint32_t routes = static_cast<uint32_t>(state.range(0));
  auto table = *pipe::Ipv4LpmTable::Create("bench", {routes + 16, 1024});
  std::mt19937 rng(2);
  for (uint32_t r = 0; r < routes; ++r) {
    if (!table->Add({static_cast<uint32_t>(rng()) & 0xffffff00u, 24}, r % 1000).ok()) state.SkipWithError("add");
  }
  std::vector<uint32_t> addrs(4096), values(4096);
  for (auto& a : addrs) a = static_cast<uint32_t>(rng());
  size_t next = 0;
  for (auto _ : state) {
    const uint32_t* a = &addrs[next];
    uint32_t* v = &values[next];
    if (bulk) {
      table->LookupBulk(a, v, pipe::kBurstSize);
    } else {
      for (unsigned i = 0; i < pipe::kBurstSize; ++i) v[i] = table->Lookup(a[i]);
    }
    benchmark::DoNotOptimize(v[0]);
    next = (next + pipe::kBurstSize) % addrs.size();
  }
  state.SetItemsProcessed(state.iterations() * pipe::kBurstSize);
}
BENCHMARK_CAPTURE(BM_Ipv4Lpm, single, false)->Arg(1024)->Arg(65536);
BENCHMARK_CAPTURE(BM_Ipv4Lpm, bulk, true)->Arg(1024)->Arg(65536);

}  // namespace

int main(int argc, char** argv) {
  char arg0[] = "l3fwd_bench", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "1024",
       a5[] = "--no-pci", a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry", a9[] = "--log-level=error";
  char* eal_argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) return 1;
  pool = rte_pktmbuf_pool_create("bench", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
