// RoCEv2 wire layer per packet on one core: building a packet with its ICRC
// (what DTA's translator does per report) and receiving one (parse + ICRC
// verify, what the soft RNIC does per request). items_per_second is packets
// per second per core.
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "softfino/rdma/icrc.h"
#include "softfino/rdma/roce_builder.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::rdma {
namespace {

rte_mempool* pool = nullptr;

RoceBuilder MakeBuilder() {
  Endpoint ep;
  ep.src_mac = {0x02, 0, 0, 0, 0, 1};
  ep.dst_mac = {0x02, 0, 0, 0, 0, 2};
  ep.src_ip = RTE_IPV4(10, 0, 0, 1);
  ep.dst_ip = RTE_IPV4(10, 0, 0, 2);
  ep.udp_src_port = RoceUdpSourcePort(0x11, 0x123);
  return *RoceBuilder::Create(ep, 0x123);
}

void BM_BuildWriteOnly(benchmark::State& state) {
  const RoceBuilder b = MakeBuilder();
  const std::vector<uint8_t> payload(static_cast<size_t>(state.range(0)), 0x5a);
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  uint32_t psn = 0;
  for (auto _ : state) {
    const BuildStatus s = b.WriteOnly(m, psn++, true, {0x7f0000001000, 0x1234}, payload);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * m->data_len);
  rte_pktmbuf_free(m);
}
BENCHMARK(BM_BuildWriteOnly)->Arg(8)->Arg(64)->Arg(1024);

void BM_BuildFetchAdd(benchmark::State& state) {
  const RoceBuilder b = MakeBuilder();
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  uint32_t psn = 0;
  for (auto _ : state) {
    const BuildStatus s = b.FetchAdd(m, psn++, {0x7f0000001000, 0x1234}, 1);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  rte_pktmbuf_free(m);
}
BENCHMARK(BM_BuildFetchAdd);

// A READ Response Only of N bytes, built once.
rte_mbuf* ReadResponse(size_t n) {
  const std::vector<uint8_t> payload(n, 0xa5);
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (MakeBuilder().ReadResponseOnly(m, 7, 1, payload) != BuildStatus::kOk) return nullptr;
  return m;
}

void BM_VerifyIcrcReadResponse(benchmark::State& state) {
  rte_mbuf* m = ReadResponse(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(VerifyIcrc(m));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * m->data_len);
  rte_pktmbuf_free(m);
}
BENCHMARK(BM_VerifyIcrcReadResponse)->Arg(1024);

void BM_ParseReadResponse(benchmark::State& state) {
  rte_mbuf* m = ReadResponse(static_cast<size_t>(state.range(0)));
  RocePacket p;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseRoce(m, &p));
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * m->data_len);
  rte_pktmbuf_free(m);
}
BENCHMARK(BM_ParseReadResponse)->Arg(8)->Arg(1024);

}  // namespace
}  // namespace softfino::rdma

int main(int argc, char** argv) {
  char arg0[] = "rdma_bench", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "128",
       a5[] = "--no-pci", a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry",
       a9[] = "--log-level=error";
  char* eal_argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) return 1;
  softfino::rdma::pool =
      rte_pktmbuf_pool_create("bench", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (softfino::rdma::pool == nullptr) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
