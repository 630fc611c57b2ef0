// Cost of a live l3fwd table commit (pipelines/l3fwd/l3fwd_tables.h), without
// readers: a route change rebuilds the whole IPv4 LPM from the version's
// routes (rte_lpm has no copy), a next-hop change shares the LPMs. Run:
// build/bench/table_commit_bench
#include <rte_eal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"
#include "pipelines/l3fwd/l3fwd.h"

namespace {

using namespace softfino;
using nlohmann::json;

json Nexthop(int id) {
  return {{"key", {{"nexthop_id", id}}},
          {"action", "forward"},
          {"data", {{"port", id % 2}, {"src_mac", "02:00:00:00:00:01"}, {"dst_mac", "02:00:00:00:00:02"}}}};
}

json Route(int r, int nh) {
  return {{"key", {{"dst_addr", absl::StrCat("10.", r / 256 % 256, ".", r % 256, ".0/24")}}},
          {"action", "set_nexthop"},
          {"data", {{"nexthop_id", nh}}}};
}

void BM_Commit(benchmark::State& state, bool route) {
  const int routes = static_cast<int>(state.range(0));
  json config;
  config["tables"]["nexthop"] = {Nexthop(0), Nexthop(1)};
  for (int r = 0; r < routes; ++r) config["tables"]["ipv4_lpm"].push_back(Route(r, r % 2));
  pipelines::L3fwd program;
  if (!program.Configure(config, {2}).ok()) state.SkipWithError("config");
  int flip = 0;
  for (auto _ : state) {
    json op = {{"op", "modify"},
               {"table", route ? "ipv4_lpm" : "nexthop"},
               {"entry", route ? Route(0, ++flip % 2) : Nexthop(++flip % 2)}};
    const json batch = json::array({op});  // ops point into it
    auto ops = pipe::ParseTableOps(batch, "ops", program.TableNames());
    auto stats = program.Commit(*ops, pipe::RcuDomain{});
    if (!stats.ok()) state.SkipWithError(std::string(stats.status().message()).c_str());
  }
}
BENCHMARK_CAPTURE(BM_Commit, route_rebuilds_lpm, true)->Arg(1024)->Arg(16384)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Commit, nexthop_shares_lpm, false)->Arg(16384)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  char arg0[] = "table_commit_bench", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m",
       a4[] = "1024", a5[] = "--no-pci", a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry",
       a9[] = "--log-level=error";
  char* eal_argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  rte_eal_cleanup();
  return 0;
}
