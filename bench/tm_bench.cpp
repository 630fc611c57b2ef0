// Traffic manager cost per packet: one enqueue plus one dequeue (with its
// egress metadata), at steady state, for 1 and 8 queues on a port.
// Run: build/bench/tm_bench
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "benchmark/benchmark.h"
#include "softfino/tm/egress_port.h"

namespace {

using namespace softfino;

rte_mempool* pool;

void BM_EnqueueDequeue(benchmark::State& state) {
  tm::EgressPortConfig config;
  config.rate_bps = 100'000'000'000;
  config.queues = static_cast<uint8_t>(state.range(0));
  auto port = *tm::EgressPort::Create(0, config);
  rte_mbuf* pkt = rte_pktmbuf_alloc(pool);
  rte_pktmbuf_append(pkt, 64);
  const tm::Picoseconds gap = port->WireTime(64);
  tm::Picoseconds now = 0;
  uint8_t qid = 0;
  uint64_t sink = 0;
  for (auto _ : state) {
    tm::PacketInfo info;
    info.qid = qid;
    qid = static_cast<uint8_t>((qid + 1) % config.queues);
    port->Enqueue(pkt, info, now);
    now += gap;
    port->AdvanceTo(now, [&](const tm::Dequeued& d) { sink += d.md.deq_qdepth; });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
  rte_pktmbuf_free(pkt);
}
BENCHMARK(BM_EnqueueDequeue)->Arg(1)->Arg(8);

// A standing queue of 1000 packets: every enqueue finds it deep.
void BM_EnqueueDequeueBacklogged(benchmark::State& state) {
  auto port = *tm::EgressPort::Create(0, {});
  rte_mbuf* pkt = rte_pktmbuf_alloc(pool);
  rte_pktmbuf_append(pkt, 64);
  const tm::Picoseconds gap = port->WireTime(64);
  tm::Picoseconds now = 0;
  for (int i = 0; i < 1000; ++i) port->Enqueue(pkt, {}, 0);
  uint64_t sink = 0;
  for (auto _ : state) {
    port->Enqueue(pkt, {}, now);
    now += gap;
    port->AdvanceTo(now, [&](const tm::Dequeued& d) { sink += d.md.deq_qdepth; });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
  port->AdvanceTo(tm::kNever, [](const tm::Dequeued&) {});
  rte_pktmbuf_free(pkt);
}
BENCHMARK(BM_EnqueueDequeueBacklogged);

}  // namespace

int main(int argc, char** argv) {
  char arg0[] = "tm_bench", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "128",
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
