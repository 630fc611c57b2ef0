// RoCEv2 per packet on one core: building a packet with its ICRC (what
// DTA's translator does per report), receiving one (parse + ICRC verify),
// and the soft RNIC applying WRITEs and FETCH_ADDs (what a collector core
// does per request), with the responder logic alone as its lower bound.
// items_per_second is packets per second per core.
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "softfino/rdma/icrc.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/rdma/rc_responder.h"
#include "softfino/rdma/roce_builder.h"
#include "softfino/rdma/roce_parser.h"
#include "softfino/rdma/soft_rnic.h"

namespace softfino::rdma {
namespace {

rte_mempool* pool = nullptr;
constexpr uint32_t kRequesterQpn = 0x11;
constexpr uint32_t kResponderQpn = 0x123;
// The soft RNIC benchmarks' prebuilt request frames (kRingFrames of them).
rte_mempool* template_pool = nullptr;
// What a collector port's pool is to the RNIC: received frames (here the
// clones of the prebuilt ones) and answers, with a per-lcore cache as
// dataplane/ports.cpp gives it.
rte_mempool* rx_pool = nullptr;

RoceBuilder MakeBuilder() {
  Endpoint ep;
  ep.src_mac = {0x02, 0, 0, 0, 0, 1};
  ep.dst_mac = {0x02, 0, 0, 0, 0, 2};
  ep.src_ip = RTE_IPV4(10, 0, 0, 1);
  ep.dst_ip = RTE_IPV4(10, 0, 0, 2);
  ep.udp_src_port = RoceUdpSourcePort(kRequesterQpn, kResponderQpn);
  return *RoceBuilder::Create(ep, kResponderQpn);
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

// --- The soft RNIC: requests applied per second per core ---------------------
//
// Each iteration hands SoftRnic::Process one rx burst of kBurst in-order
// requests of one QP, as the collector's poll loop does, and frees the
// answers, as a transmit would. Process frees every request frame, so each
// burst needs fresh ones at the next PSNs (the responder NAKs a gap and
// drops the rest of it, and would only re-ACK an old PSN without applying
// it). Building them in the timed loop would cost about what the RNIC does
// (both run the ICRC over the whole packet: BM_BuildWriteOnly vs
// BM_ParseReadResponse), leaving the RNIC's cost as a small difference of
// two noisy numbers. Instead a ring of kRingFrames frames is built with
// RoceBuilder at consecutive PSNs outside the timer (PauseTiming once per
// kRingFrames packets, a fraction of a nanosecond per packet), and the
// timed refill is one rte_pktmbuf_clone per frame: a fresh mbuf pointing at
// the prebuilt bytes, whose free by Process only drops a reference (the
// parser never writes the frame). The clone and its free are what the
// *Refill baselines time alone, so the RNIC's own cost (parse, ICRC check,
// QP lookup, the operation, the answer's alloc, build and free) is
// Process's time minus Refill's. Frames are cache-warm, as with DDIO.

constexpr uint16_t kBurst = 32;         // the collector's rx burst
constexpr uint32_t kRingFrames = 1024;  // frames built per paused step
constexpr uint64_t kRegionBytes = 1 << 20;
constexpr uint32_t kWriteSlotBytes = 1024;  // WRITEs walk the region in these
constexpr uint32_t kHotSlots = 4;           // FETCH_ADD counters, one cache line each
constexpr uint32_t kHotSlotStride = 64;
static_assert(kRingFrames % kBurst == 0);

enum class Op { kWrite, kFetchAdd };

// One responder QP hosting one region, and the requests of its requester.
class RnicRig {
 public:
  // `ackreq_every`: AckReq on every Nth WRITE (a coalescing requester).
  RnicRig(Op op, uint32_t payload_len, uint32_t ackreq_every)
      : op_(op),
        payload_(payload_len, 0x5a),
        ackreq_every_(ackreq_every),
        requests_(MakeBuilder()),
        memory_(MakePageAllocator()),
        rnic_(memory_, rx_pool) {
    absl::StatusOr<MemoryRegion> region = memory_.Register("bench", kRegionBytes);
    if (!region.ok()) return;
    region_ = *region;
    SoftRnicQpConfig qp;
    qp.responder.qpn = kResponderQpn;
    qp.responder.expected_psn = 0;
    qp.to_requester = requests_.endpoint();
    std::swap(qp.to_requester.src_mac, qp.to_requester.dst_mac);
    std::swap(qp.to_requester.src_ip, qp.to_requester.dst_ip);
    qp.requester_qpn = kRequesterQpn;
    if (!rnic_.AddQp(qp).ok()) return;
    if (rte_pktmbuf_alloc_bulk(template_pool, ring_.data(), kRingFrames) != 0) return;
    have_ring_ = true;
    ok_ = Build();
  }
  ~RnicRig() {
    if (have_ring_) rte_pktmbuf_free_bulk(ring_.data(), kRingFrames);
  }
  RnicRig(const RnicRig&) = delete;
  RnicRig& operator=(const RnicRig&) = delete;

  bool ok() const { return ok_; }
  SoftRnic& rnic() { return rnic_; }

  // Clones of the next kBurst prebuilt frames into `rx`; the ring is built
  // again at the next PSNs (outside the timer) once every frame went out.
  bool Refill(benchmark::State& state, rte_mbuf** rx) {
    if (next_ == kRingFrames) {
      state.PauseTiming();
      const bool built = Build();
      state.ResumeTiming();
      if (!built) return false;
    }
    for (uint16_t i = 0; i < kBurst; ++i) {
      rx[i] = rte_pktmbuf_clone(ring_[next_ + i], rx_pool);
      if (rx[i] == nullptr) return false;
    }
    next_ += kBurst;
    return true;
  }

  // Whether every request processed so far was applied and answered as
  // planned: no drop, no NAK, the counters add up.
  bool Check(uint64_t requests, uint64_t* answers_expected) const {
    const RcResponderQp* qp = rnic_.qp(kResponderQpn);
    if (qp == nullptr || rnic_.frames() != requests) return false;
    for (size_t d = 0; d < kSoftRnicDropCount; ++d) {
      if (rnic_.drops(static_cast<SoftRnicDrop>(d)) != 0) return false;
    }
    if (op_ == Op::kWrite) {
      *answers_expected = requests / ackreq_every_;
      if (qp->count(ResponderEvent::kWritePackets) != requests) return false;
    } else {
      *answers_expected = requests;
      uint64_t sum = 0;
      for (uint32_t s = 0; s < kHotSlots; ++s) {
        sum += *reinterpret_cast<const uint64_t*>(region_.base + s * kHotSlotStride);
      }
      if (qp->count(ResponderEvent::kFetchAdds) != requests || sum != requests) return false;
    }
    return rnic_.answers() == *answers_expected;
  }

 private:
  // The ring at the PSNs that follow the last ones built; `seq_` counts
  // requests (PSNs are its low 24 bits, and wrap as the responder's do).
  bool Build() {
    for (uint32_t i = 0; i < kRingFrames; ++i, ++seq_) {
      const uint32_t psn = static_cast<uint32_t>(seq_) & net::kPsnMask;
      BuildStatus s;
      if (op_ == Op::kWrite) {
        const uint64_t slot = seq_ % (kRegionBytes / kWriteSlotBytes);
        const bool ack_req = (seq_ + 1) % ackreq_every_ == 0;
        s = requests_.WriteOnly(ring_[i], psn, ack_req,
                                {region_.iova + slot * kWriteSlotBytes, region_.rkey}, payload_);
      } else {
        const uint64_t slot = seq_ % kHotSlots;
        s = requests_.FetchAdd(ring_[i], psn, {region_.iova + slot * kHotSlotStride, region_.rkey},
                               1);
      }
      if (s != BuildStatus::kOk) return false;
    }
    next_ = 0;
    return true;
  }

  const Op op_;
  const std::vector<uint8_t> payload_;
  const uint32_t ackreq_every_;
  const RoceBuilder requests_;  // requester to responder
  MemoryRegionTable memory_;
  SoftRnic rnic_;
  MemoryRegion region_;
  std::array<rte_mbuf*, kRingFrames> ring_{};
  bool have_ring_ = false;
  bool ok_ = false;
  uint64_t seq_ = 0;
  uint32_t next_ = 0;
};

// `process`: false times the refill alone (the clones are freed unread).
void RunSoftRnic(benchmark::State& state, Op op, uint32_t ackreq_every, bool process) {
  const uint32_t payload = op == Op::kWrite ? static_cast<uint32_t>(state.range(0)) : 0;
  RnicRig rig(op, payload, ackreq_every);
  if (!rig.ok()) {
    state.SkipWithError("cannot set up the RNIC, its region or its frames");
    return;
  }
  SoftRnic& rnic = rig.rnic();
  rte_mbuf* rx[kBurst];
  // WRITE Only and FETCH_ADD make at most one answer each.
  rte_mbuf* tx[kBurst];
  for (auto _ : state) {
    if (!rig.Refill(state, rx)) {
      state.SkipWithError("out of mbufs or a frame did not build");
      return;
    }
    if (!process) {
      // One by one, as Process frees each frame, so the difference is the RNIC's.
      for (rte_mbuf* m : rx) rte_pktmbuf_free(m);
      continue;
    }
    uint16_t n = 0;
    for (uint16_t i = 0; i < kBurst; ++i) {
      // As the collector's poll loop: the next frame's headers are fetched
      // while this one is handled.
      if (i + 1 < kBurst) rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void*));
      n += rnic.Process(rx[i], tx + n, static_cast<uint16_t>(kBurst - n));
    }
    rte_pktmbuf_free_bulk(tx, n);
  }
  const uint64_t requests = state.iterations() * kBurst;
  uint64_t answers = 0;
  if (process && !rig.Check(requests, &answers)) {
    state.SkipWithError("a request was dropped, NAKed or not applied");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(requests));
  if (op == Op::kWrite) state.SetBytesProcessed(static_cast<int64_t>(requests * payload));
  if (process) state.counters["answers_per_request"] = static_cast<double>(answers) / requests;
}

// WRITE Only of N payload bytes, AckReq on every 16th (a requester
// coalescing as the responder's ack_every does).
void BM_SoftRnicWrite(benchmark::State& state) { RunSoftRnic(state, Op::kWrite, 16, true); }
BENCHMARK(BM_SoftRnicWrite)->Arg(8)->Arg(64)->Arg(1024);

// The same with AckReq on every packet: one ACK built per request.
void BM_SoftRnicWriteAckEach(benchmark::State& state) { RunSoftRnic(state, Op::kWrite, 1, true); }
BENCHMARK(BM_SoftRnicWriteAckEach)->Arg(8)->Arg(64)->Arg(1024);

// Baseline: the refill of BM_SoftRnicWrite alone (clone, free).
void BM_SoftRnicWriteRefill(benchmark::State& state) { RunSoftRnic(state, Op::kWrite, 16, false); }
BENCHMARK(BM_SoftRnicWriteRefill)->Arg(8)->Arg(64)->Arg(1024);

// FETCH_ADD of 1 to kHotSlots counters in turn; every one gets an atomic ACK.
void BM_SoftRnicFetchAdd(benchmark::State& state) { RunSoftRnic(state, Op::kFetchAdd, 1, true); }
BENCHMARK(BM_SoftRnicFetchAdd);

void BM_SoftRnicFetchAddRefill(benchmark::State& state) {
  RunSoftRnic(state, Op::kFetchAdd, 1, false);
}
BENCHMARK(BM_SoftRnicFetchAddRefill);

// --- The RC responder alone: no packets, the lower bound of the above -------

// The requests of BM_SoftRnicWrite/BM_SoftRnicFetchAdd as the parser would
// hand them over: same addresses, same AckReq pattern; only PSN, address
// and AckReq change per request.
void RunResponder(benchmark::State& state, Op op) {
  MemoryRegionTable memory(MakePageAllocator());
  absl::StatusOr<MemoryRegion> region = memory.Register("bench", kRegionBytes);
  if (!region.ok()) {
    state.SkipWithError("cannot register the region");
    return;
  }
  RcResponderConfig config;
  config.qpn = kResponderQpn;
  RcResponderQp qp(memory, config);
  const std::vector<uint8_t> payload(op == Op::kWrite ? static_cast<size_t>(state.range(0)) : 0,
                                     0x5a);
  RcRequest r;
  r.rkey = region->rkey;
  if (op == Op::kWrite) {
    r.opcode = net::RcOpcode::kWriteOnly;
    r.dma_length = static_cast<uint32_t>(payload.size());
    r.payload = payload.data();
    r.payload_len = r.dma_length;
  } else {
    r.opcode = net::RcOpcode::kFetchAdd;
    r.swap_add = 1;
  }
  uint64_t seq = 0;
  for (auto _ : state) {
    r.psn = static_cast<uint32_t>(seq) & net::kPsnMask;
    if (op == Op::kWrite) {
      r.vaddr = region->iova + seq % (kRegionBytes / kWriteSlotBytes) * kWriteSlotBytes;
      r.ack_req = (seq + 1) % 16 == 0;
    } else {
      r.vaddr = region->iova + seq % kHotSlots * kHotSlotStride;
    }
    ++seq;
    const RcResponse resp = qp.Handle(r);
    benchmark::DoNotOptimize(resp);
  }
  const ResponderEvent applied =
      op == Op::kWrite ? ResponderEvent::kWritePackets : ResponderEvent::kFetchAdds;
  if (qp.count(applied) != seq) {
    state.SkipWithError("a request was not applied");
    return;
  }
  state.SetItemsProcessed(state.iterations());
  if (op == Op::kWrite) state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_RcResponderWrite(benchmark::State& state) { RunResponder(state, Op::kWrite); }
BENCHMARK(BM_RcResponderWrite)->Arg(8)->Arg(64)->Arg(1024);

void BM_RcResponderFetchAdd(benchmark::State& state) { RunResponder(state, Op::kFetchAdd); }
BENCHMARK(BM_RcResponderFetchAdd);

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
  softfino::rdma::template_pool =
      rte_pktmbuf_pool_create("bench_templates", softfino::rdma::kRingFrames, 0, 0,
                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  softfino::rdma::rx_pool =
      rte_pktmbuf_pool_create("bench_rx", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (softfino::rdma::pool == nullptr || softfino::rdma::template_pool == nullptr ||
      softfino::rdma::rx_pool == nullptr) {
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
