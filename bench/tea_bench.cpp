// TEA lookups on one core, in process, no network (pipelines/tea_nat/README.md,
// "Performance", says what the numbers mean):
//
//   BM_TeaRnicRead/N      the memory server: the soft RNIC answering the
//                         READs of two adjacent buckets of a TEA table of N
//                         buckets (2 slots each, about 0.5 full), requests
//                         built by the switch's own code (TeaLookup::Lookup)
//   BM_TeaRnicRefill      its baseline: handing the frames over alone
//   BM_TeaSwitchMiss/local|remote
//                         the switch: tea_nat's Ingress turning cache misses
//                         into READs (remote: the WRITE of the packet to its
//                         shadow row, the mirror copy and Egress's READ),
//                         then Ingress matching the responses and resuming
//                         the packets; the soft RNIC's share timed apart
//   BM_TeaSwitchHit       the same program, every lookup a cache hit
//   BM_TeaPathLatency/local|remote
//                         one lookup at a time, switch and RNIC back to back
//                         on this core: the software cost of the path (not
//                         a network latency), with its p50/p99
//
// items_per_second is lookups per second per core of the side timed.
// Run: build/bench/tea_bench [--benchmark_filter=...]
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"
#include "pipelines/tea_common/flow_headers.h"
#include "pipelines/tea_common/tea_lookup.h"
#include "pipelines/tea_nat/tea_nat.h"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/program.h"
#include "softfino/rdma/connection.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/rdma/qp_params.h"
#include "softfino/rdma/roce_parser.h"
#include "softfino/rdma/soft_rnic.h"
#include "softfino/tea/key.h"
#include "softfino/tea/layout.h"
#include "softfino/tea/table.h"

namespace softfino {
namespace {

using pipelines::TeaLookup;

// Packets and the switch's requests (a switch port's pool).
rte_mempool* pkt_pool = nullptr;
// The collector port's pool: the RNIC's received frames (clones) and answers.
rte_mempool* rnic_pool = nullptr;

constexpr uint16_t kBurst = pipe::kBurstSize;  // 32, the rx burst of both sides
constexpr uint32_t kSwitchIp = RTE_IPV4(10, 0, 0, 1);
constexpr uint32_t kServerIp = RTE_IPV4(10, 0, 0, 2);
constexpr uint32_t kPublicIp = RTE_IPV4(203, 0, 113, 7);
constexpr uint32_t kPsn = 0x1000;
constexpr uint32_t kMtu = 1024;

double NsPerCycle() { return 1e9 / static_cast<double>(rte_get_tsc_hz()); }
uint64_t NowNs() { return static_cast<uint64_t>(static_cast<double>(rte_rdtsc()) * NsPerCycle()); }

// TSC cycles per iteration. This machine is shared (2 vCPUs, other jobs):
// an iteration the scheduler preempted takes milliseconds, which the mean
// (Google Benchmark's Time) keeps and quantiles do not, so the README
// quotes medians.
class Samples {
 public:
  Samples() { cycles_.reserve(1 << 20); }
  void Add(uint64_t cycles) {
    if (cycles_.size() < cycles_.capacity()) cycles_.push_back(cycles);
  }
  // The q-quantile of an iteration, in ns per item (`items` per iteration).
  double Ns(double q, double items) {
    if (cycles_.empty()) return 0;
    std::sort(cycles_.begin(), cycles_.end());
    const size_t i = static_cast<size_t>(q * static_cast<double>(cycles_.size() - 1));
    return static_cast<double>(cycles_[i]) * NsPerCycle() / items;
  }

 private:
  std::vector<uint64_t> cycles_;
};

// Flow i: 10.(i>>16).(i>>8).(i) -> 198.51.100.9, UDP 1024+i%50000 -> 53.
tea::FiveTuple FlowTuple(uint32_t i) {
  tea::FiveTuple t;
  t.src_ip = RTE_IPV4(10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
  t.dst_ip = RTE_IPV4(198, 51, 100, 9);
  t.src_port = static_cast<uint16_t>(1024 + i % 50000);
  t.dst_port = 53;
  t.protocol = IPPROTO_UDP;
  return t;
}
uint64_t NatValue(uint32_t i) {
  return uint64_t{kPublicIp} << 32 | uint64_t{static_cast<uint16_t>(20000 + i % 40000)} << 16;
}

// A 64-byte IPv4/UDP frame of `t` (UDP checksum 0: none).
std::array<uint8_t, 64> FlowFrame(const tea::FiveTuple& t) {
  std::array<uint8_t, 64> f{};
  auto* eth = reinterpret_cast<rte_ether_hdr*>(f.data());
  eth->dst_addr = {{0x02, 0, 0, 0, 0, 0xfe}};
  eth->src_addr = {{0x02, 0, 0, 0, 0x0a, 0x01}};
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(64 - sizeof(rte_ether_hdr));
  ip->time_to_live = 64;
  ip->next_proto_id = t.protocol;
  ip->src_addr = rte_cpu_to_be_32(t.src_ip);
  ip->dst_addr = rte_cpu_to_be_32(t.dst_ip);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = rte_cpu_to_be_16(t.src_port);
  udp->dst_port = rte_cpu_to_be_16(t.dst_port);
  udp->dgram_len = rte_cpu_to_be_16(64 - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr));
  return f;
}

bool Fill(rte_mbuf* m, const std::array<uint8_t, 64>& frame) {
  rte_pktmbuf_reset(m);
  char* p = rte_pktmbuf_append(m, frame.size());
  if (p == nullptr) return false;
  std::memcpy(p, frame.data(), frame.size());
  return true;
}

// --- The memory server: a TEA table in registered memory, a soft RNIC ------

// Tables laid out and filled by the collector's own code (tea/table.h), each
// in its region with a responder queue pair, and what the switch learns of
// them in the handshake (ConnectedQueuePair), as softfino-collector sets
// them up (control/collector.cpp).
class MemoryServer {
 public:
  MemoryServer() : memory_(rdma::MakePageAllocator()), rnic_(memory_, rnic_pool) {}

  // Hosts `spec` with flows 0..flows-1 inserted (NatValue); returns the
  // switch's end of its queue pair, or an error.
  absl::StatusOr<rdma::ConnectedQueuePair> Host(const std::string& spec, uint32_t flows) {
    auto config = tea::ParseTableSpec(spec);
    if (!config.ok()) return config.status();
    auto layout = tea::Layout::Create(*config);
    if (!layout.ok()) return layout.status();
    rdma::RegionOptions options;
    options.access = rdma::kAccessRemoteRead | rdma::kAccessRemoteWrite;
    auto region = memory_.Register(config->name, layout->bytes(), options);
    if (!region.ok()) return region.status();
    auto table = tea::Table::Create(*layout, {region->base, region->length});
    if (!table.ok()) return table.status();
    inserted_.emplace_back();
    for (uint32_t i = 0; i < flows; ++i) {
      if (table->Insert(tea::KeyOfFiveTuple(FlowTuple(i)), NatValue(i)).ok()) {
        inserted_.back().push_back(i);
      }
    }
    const uint32_t index = static_cast<uint32_t>(tables_.size());
    rdma::ConnectedQueuePair c;
    c.pipe = 0;
    c.port = 2;
    c.local.qpn = 0x100 + index;
    c.local.psn = kPsn;
    c.local.region = config->name;
    c.local.gid = rdma::GidFromIpv4(kSwitchIp);
    c.local.mac = {0x02, 0, 0, 0, 0, 1};
    c.remote.qpn = 0x200 + index;
    c.remote.psn = kPsn;
    c.remote.region = config->name;
    c.remote.rkey = region->rkey;
    c.remote.iova = region->iova;
    c.remote.length = region->length;
    c.remote.gid = rdma::GidFromIpv4(kServerIp);
    c.remote.mac = {0x02, 0, 0, 0, 0, 2};
    c.remote.mtu = kMtu;
    rdma::SoftRnicQpConfig qp;
    qp.responder.qpn = c.remote.qpn;
    qp.responder.expected_psn = kPsn;
    qp.responder.mtu = kMtu;
    qp.to_requester.src_mac = c.remote.mac;
    qp.to_requester.dst_mac = c.local.mac;
    qp.to_requester.src_ip = kServerIp;
    qp.to_requester.dst_ip = kSwitchIp;
    qp.to_requester.udp_src_port = rdma::RoceUdpSourcePort(c.remote.qpn, c.local.qpn);
    qp.requester_qpn = c.local.qpn;
    if (auto st = rnic_.AddQp(qp); !st.ok()) return st;
    tables_.push_back(*std::move(table));
    return c;
  }

  rdma::SoftRnic& rnic() { return rnic_; }
  const tea::Table& table(size_t i) const { return tables_[i]; }
  // The flows whose insert succeeded, of table i.
  const std::vector<uint32_t>& inserted(size_t i) const { return inserted_[i]; }
  // No request refused or dropped so far.
  bool clean() const {
    for (size_t d = 0; d < rdma::kSoftRnicDropCount; ++d) {
      if (rnic_.drops(static_cast<rdma::SoftRnicDrop>(d)) != 0) return false;
    }
    return true;
  }

 private:
  rdma::MemoryRegionTable memory_;
  rdma::SoftRnic rnic_;
  std::vector<tea::Table> tables_;
  std::vector<std::vector<uint32_t>> inserted_;
};

// --- BM_TeaRnicRead: READs answered per second per memory-server core ------
//
// As rdma_bench's soft RNIC benchmarks: a ring of kRingFrames requests at
// consecutive PSNs is built untimed, here by the switch's TeaLookup::Lookup
// (each a packet of a random present flow, its mbuf turned into the READ
// of its key's window), and each timed iteration hands Process clones of
// kBurst of them, with a prefetch of the next frame as the collector's
// poll loop does. The answers are kept, not freed: when the ring is built
// again (untimed) each goes back through TeaLookup::OnAnswer, which must
// find its flow's value, and is freed there. So the time (TSC around the
// clones and Process: manual time) is parse + ICRC check + QP lookup +
// bounds check + the window's copy from the table + the response's alloc,
// build and ICRC, plus the clone and free of the request frame
// (BM_TeaRnicRefill alone); the answer's free (a transmit's) is left out.
constexpr uint32_t kRingFrames = 1024;
static_assert(kRingFrames % kBurst == 0);

class RnicRig {
 public:
  explicit RnicRig(uint64_t buckets) : buckets_(buckets), rng_(buckets) {
    const std::string spec = absl::StrCat("tea.bench:buckets=", buckets, ",slots=2");
    // As many flows as buckets: 2 slots each, so at most half full.
    auto conn = server_.Host(spec, static_cast<uint32_t>(buckets));
    if (!conn.ok()) {
      error_ = std::string(conn.status().message());
      return;
    }
    pipelines::TeaLookupOptions options;
    options.cache_entries = 0;  // every lookup a READ
    options.in_flight = kRingFrames;
    options.packet_bytes = 64;
    auto layout = tea::Layout::Create(*tea::ParseTableSpec(spec));
    bytes_ = layout->bytes();
    auto lookup = TeaLookup::Create(*conn, *layout, options, 0);
    if (!lookup.ok()) {
      error_ = std::string(lookup.status().message());
      return;
    }
    lookup_ = *std::move(lookup);
    if (rte_pktmbuf_alloc_bulk(pkt_pool, ring_.data(), kRingFrames) != 0) {
      error_ = "no mbufs for the ring";
      return;
    }
    have_ring_ = true;
    Build();
  }
  ~RnicRig() {
    Verify();
    if (have_ring_) rte_pktmbuf_free_bulk(ring_.data(), kRingFrames);
  }
  RnicRig(const RnicRig&) = delete;
  RnicRig& operator=(const RnicRig&) = delete;

  const std::string& error() const { return error_; }
  uint64_t buckets() const { return buckets_; }
  double load() const {
    return static_cast<double>(server_.table(0).counters().entries) / (2.0 * buckets_);
  }
  uint64_t bytes() const { return bytes_; }
  rdma::SoftRnic& rnic() { return server_.rnic(); }

  // Builds the ring again once every request went out (`rebuild`: false
  // cycles through the ring as built, for the refill baseline, whose
  // requests are never processed).
  bool Prepare(bool rebuild) {
    if (next_ < kRingFrames) return true;
    if (!rebuild) {
      next_ = 0;
      return true;
    }
    Verify();
    Build();
    return error_.empty();
  }
  // Clones of the next kBurst requests into rx.
  bool Clone(rte_mbuf** rx) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      rx[i] = rte_pktmbuf_clone(ring_[next_ + i], rnic_pool);
      if (rx[i] == nullptr) return false;
    }
    next_ += kBurst;
    return true;
  }
  // Room for the answers of the next burst.
  rte_mbuf** answers() { return answers_.data() + answer_count_; }
  uint16_t answer_room() const {
    return static_cast<uint16_t>(std::min<size_t>(kBurst, answers_.size() - answer_count_));
  }
  void Answered(uint16_t n) { answer_count_ += n; }

  uint64_t verified() const { return verified_; }

  // Every answer so far back through the switch: each must resume its
  // packet with its flow's value.
  void Verify() {
    for (uint32_t i = 0; i < answer_count_; ++i) {
      rte_mbuf* m = answers_[i];
      rdma::RocePacket p;
      pipe::IngressMetadata md;
      md.ig_intr_md.ingress_mac_tstamp = now_;
      if (rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk) {
        error_ = "an answer does not parse";
      } else {
        const TeaLookup::Resumed r = lookup_->OnAnswer(m, p, md);
        if (r.kind != TeaLookup::Resumed::Kind::kFound || r.value != NatValue(r.tag)) {
          error_ = "an answer did not resume its packet with its flow's value";
        }
      }
      rte_pktmbuf_free(m);
      ++verified_;
    }
    answer_count_ = 0;
    if (error_.empty() && !server_.clean()) error_ = "the RNIC dropped a request";
  }

 private:
  // The ring at the next PSNs: packets of random present flows, each
  // turned into its READ by the switch's lookup.
  void Build() {
    const std::vector<uint32_t>& flows = server_.inserted(0);
    for (uint32_t i = 0; i < kRingFrames && error_.empty(); ++i) {
      const uint32_t flow = flows[rng_() % flows.size()];
      const tea::FiveTuple t = FlowTuple(flow);
      if (!Fill(ring_[i], FlowFrame(t))) {
        error_ = "cannot fill a packet";
        return;
      }
      pipe::IngressMetadata md;
      md.ig_intr_md.ingress_mac_tstamp = ++now_;
      uint64_t value = 0;
      if (lookup_->Lookup(ring_[i], md, tea::KeyOfFiveTuple(t), flow, &value) !=
          TeaLookup::Step::kDeferred) {
        error_ = "a lookup did not become a READ";
      }
    }
    next_ = 0;
  }

  const uint64_t buckets_;
  uint64_t bytes_ = 0;
  std::mt19937_64 rng_;
  MemoryServer server_;
  std::unique_ptr<TeaLookup> lookup_;
  std::array<rte_mbuf*, kRingFrames> ring_{};
  std::array<rte_mbuf*, kRingFrames + kBurst> answers_{};
  uint32_t answer_count_ = 0;
  bool have_ring_ = false;
  uint32_t next_ = 0;
  uint64_t now_ = 0;
  uint64_t verified_ = 0;
  std::string error_;
};

// Filling a table of millions of entries takes seconds, and Google
// Benchmark calls a benchmark several times: one rig per size, kept.
// (Released before the EAL is cleaned up: it holds mbufs.)
std::unique_ptr<RnicRig> rnic_rig;
RnicRig* RnicRigFor(uint64_t buckets) {
  if (!rnic_rig || rnic_rig->buckets() != buckets) {
    rnic_rig.reset();
    rnic_rig = std::make_unique<RnicRig>(buckets);
  }
  return rnic_rig.get();
}

void RunRnic(benchmark::State& state, bool process) {
  RnicRig& rig = *RnicRigFor(static_cast<uint64_t>(state.range(0)));
  if (!rig.error().empty()) return state.SkipWithError(rig.error().c_str());
  rdma::SoftRnic& rnic = rig.rnic();
  rte_mbuf* rx[kBurst];
  Samples samples;
  for (auto _ : state) {
    if (!rig.Prepare(process)) return state.SkipWithError(rig.error().c_str());
    const uint64_t t0 = rte_rdtsc();
    if (!rig.Clone(rx)) return state.SkipWithError("out of mbufs");
    if (!process) {
      for (rte_mbuf* m : rx) rte_pktmbuf_free(m);
    } else {
      uint16_t n = 0;
      rte_mbuf** out = rig.answers();
      const uint16_t room = rig.answer_room();
      for (uint16_t i = 0; i < kBurst; ++i) {
        if (i + 1 < kBurst) rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void*));
        n += rnic.Process(rx[i], out + n, static_cast<uint16_t>(room - n));
      }
      rig.Answered(n);
      if (n != kBurst) return state.SkipWithError("a READ got no single answer");
    }
    const uint64_t dt = rte_rdtsc() - t0;
    samples.Add(dt);
    state.SetIterationTime(static_cast<double>(dt) * NsPerCycle() * 1e-9);
  }
  if (process) {
    rig.Verify();
    if (!rig.error().empty()) return state.SkipWithError(rig.error().c_str());
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.counters["median_ns"] = samples.Ns(0.5, kBurst);
  state.counters["load"] = rig.load();
  state.counters["table_MiB"] = static_cast<double>(rig.bytes()) / (1 << 20);
}

void BM_TeaRnicRead(benchmark::State& state) { RunRnic(state, true); }
// Buckets of 2 entries: 1K (64 KiB, in L2), 64K (4 MiB), 1M (64 MiB) and
// 8M (512 MiB: far beyond the LLC; the window's two cache lines come from
// DRAM).
BENCHMARK(BM_TeaRnicRead)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20)->Arg(1 << 23)->UseManualTime();

void BM_TeaRnicRefill(benchmark::State& state) { RunRnic(state, false); }
BENCHMARK(BM_TeaRnicRefill)->Arg(1 << 10)->UseManualTime();

// --- The switch: tea_nat's ingress and egress per lookup --------------------
//
// tea_nat configured as softfino would (its JSON config, the queue pairs
// as the slow path writes them in), one pipe, port 0 inside, 1 outside,
// 2 to the memory server. Each iteration is one burst of kBurst packets
// from inside:
//   1. [not timed] the packets are written into fresh mbufs (the NIC's rx)
//   2. [switch]    Ingress: each misses the cache and becomes its READ
//                  (local), or its shadow WRITE with a mirror (remote):
//                  then the TM's mirror copy (rte_pktmbuf_copy, as the
//                  pipe worker makes it) and Egress, which turns the
//                  original into the READ
//   3. [server]    the soft RNIC processes the requests in order
//   4. [switch]    Ingress on port 2: the answers (READ responses, and the
//                  ACKs the responder coalesces for remote's WRITEs) are
//                  matched to their lookups and the packets resumed and
//                  translated (to port 1)
//   5. [not timed] the translated packets are checked and freed (the tx)
// Measured with the TSC around 2 and 4 (manual time: items_per_second is
// per switch core) and around 3 (counter rnic_ns per lookup, which includes
// the request's free and the answer's alloc, as in BM_TeaRnicRead).
class SwitchRig {
 public:
  SwitchRig(bool remote, uint32_t flows) : remote_(remote) {
    const std::string shadow = remote ? ",packet=128,lanes=4" : "";
    const std::string out_spec = absl::StrCat("tea.out:buckets=64K,slots=2", shadow);
    const std::string in_spec = absl::StrCat("tea.in:buckets=1K,slots=2", shadow);
    auto out = server_.Host(out_spec, flows);
    auto in = server_.Host(in_spec, 0);
    if (!out.ok() || !in.ok()) {
      error_ = std::string(!out.ok() ? out.status().message() : in.status().message());
      return;
    }
    flows_ = server_.inserted(0);
    nlohmann::json connections = nlohmann::json::array();
    for (auto [name, c] : {std::pair{"nat_out", &*out}, std::pair{"nat_in", &*in}}) {
      nlohmann::json qp = {{"pipe", 0u},
                           {"local", rdma::QpParamsToJson(c->local, rdma::QpRole::kRequester)},
                           {"remote", rdma::QpParamsToJson(c->remote, rdma::QpRole::kResponder)}};
      nlohmann::json conn = {{"name", name}, {"port", c->port}};
      conn["queue_pairs"] = nlohmann::json::array({qp});
      connections.push_back(std::move(conn));
    }
    const nlohmann::json config = {{"rdma", {{"connections", connections}}},
                                   {"nat",
                                    {{"inside_ports", nlohmann::json::array({0u})},
                                     {"outside_ports", nlohmann::json::array({1u})},
                                     {"out_table", out_spec},
                                     {"in_table", in_spec}}},
                                   {"tea", {{"deferral", remote ? "remote" : "local"}}}};
    pipe::SwitchInfo info;
    info.port_count = 3;
    info.pipe_count = 1;
    program_ = pipelines::TeaNat::Create();
    if (auto st = program_->Configure(config, info); !st.ok()) {
      error_ = std::string(st.message());
      return;
    }
    frames_.reserve(flows_.size());
    for (uint32_t f : flows_) frames_.push_back(FlowFrame(FlowTuple(f)));
    // The key tea_nat takes from the packet is the one inserted.
    rte_mbuf* m = rte_pktmbuf_alloc(pkt_pool);
    pipelines::FlowHeaders h;
    if (m == nullptr || !Fill(m, frames_[0]) ||
        pipelines::ParseFlow(m, h) != pipe::DropReason::kNone ||
        pipelines::FlowKey(h) != tea::KeyOfFiveTuple(FlowTuple(flows_[0]))) {
      error_ = "the packet's key is not the inserted one";
    }
    rte_pktmbuf_free(m);
  }

  const std::string& error() const { return error_; }
  size_t flows() const { return flows_.size(); }

  struct Cycles {
    uint64_t ingress = 0, answers = 0, rnic = 0;
  };

  // One burst of `n` packets of flows picked by `next_flow`, through the
  // whole path; adds the cycles of each part to `c` and counts.
  template <typename NextFlow>
  bool Burst(uint16_t n, NextFlow next_flow, Cycles& c) {
    rte_mbuf* pkts[kBurst];
    if (rte_pktmbuf_alloc_bulk(pkt_pool, pkts, n) != 0) return Fail("out of packet mbufs");
    for (uint16_t i = 0; i < n; ++i) {
      if (!Fill(pkts[i], frames_[next_flow()])) return Fail("cannot fill a packet");
    }
    const uint64_t now = NowNs();
    burst_.count = 0;
    for (uint16_t i = 0; i < n; ++i) burst_.Append(pkts[i], 0, now);
    // [switch] ingress, and for remote the TM's mirror copies and egress.
    const uint64_t t0 = rte_rdtsc();
    program_->Ingress(burst_);
    if (remote_) {
      egress_.count = 0;
      for (uint16_t i = 0; i < n; ++i) {
        const pipe::IngressMetadata& md = burst_.md[i];
        copies_[i] = md.ig_intr_md_for_dprsr.mirror_type != 0
                         ? rte_pktmbuf_copy(burst_.pkts[i], pkt_pool, 0, UINT32_MAX)
                         : nullptr;
        if (Deferred(md)) {
          egress_.pkts[egress_.count] = burst_.pkts[i];
          egress_.eg_intr_md[egress_.count] = pipe::EgressIntrinsicMetadata{};
          egress_.eg_intr_md[egress_.count].egress_port = 2;
          ++egress_.count;
        }
      }
      program_->Egress(egress_);
    }
    c.ingress += rte_rdtsc() - t0;
    // Hits went to port 1 (freed: the tx), misses to port 2 as their
    // requests, in queue order: a mirror copy (the WRITE) ahead of its
    // original (the READ).
    uint16_t requests = 0;
    for (uint16_t i = 0; i < n; ++i) {
      const pipe::IngressMetadata& md = burst_.md[i];
      if (remote_ && copies_[i] != nullptr) requests_[requests++] = copies_[i];
      if (Deferred(md)) {
        ++misses_;
        requests_[requests++] = burst_.pkts[i];
      } else {
        if (!md.dropped() && md.ig_intr_md_for_tm.ucast_egress_port == 1) {
          ++hits_;
        } else {
          ++dropped_;
        }
        rte_pktmbuf_free(burst_.pkts[i]);
      }
    }
    if (requests == 0) return true;
    // [server] the soft RNIC, in order.
    uint16_t answers = 0;
    const uint64_t t2 = rte_rdtsc();
    for (uint16_t i = 0; i < requests; ++i) {
      if (i + 1 < requests) rte_prefetch0(rte_pktmbuf_mtod(requests_[i + 1], void*));
      answers += server_.rnic().Process(requests_[i], answers_.data() + answers,
                                        static_cast<uint16_t>(answers_.size() - answers));
    }
    c.rnic += rte_rdtsc() - t2;
    // [switch] the answers, in bursts.
    for (uint16_t a = 0; a < answers; a += kBurst) {
      const uint16_t k = std::min<uint16_t>(kBurst, static_cast<uint16_t>(answers - a));
      const uint64_t at = NowNs();
      burst_.count = 0;
      for (uint16_t i = 0; i < k; ++i) burst_.Append(answers_[a + i], 2, at);
      const uint64_t t4 = rte_rdtsc();
      program_->Ingress(burst_);
      c.answers += rte_rdtsc() - t4;
      for (uint16_t i = 0; i < k; ++i) {
        const pipe::IngressMetadata& md = burst_.md[i];
        if (!md.dropped() && md.ig_intr_md_for_tm.ucast_egress_port == 1) {
          ++resumed_;
        } else if (md.ig_intr_md_for_dprsr.drop_reason != pipe::DropReason::kRdmaAnswerConsumed) {
          ++dropped_;
        }
        rte_pktmbuf_free(burst_.pkts[i]);
      }
    }
    return true;
  }

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t resumed() const { return resumed_; }
  uint64_t dropped() const { return dropped_; }
  nlohmann::json counters() const { return program_->Counters()["pipes"][0]["out"]; }

 private:
  static bool Deferred(const pipe::IngressMetadata& md) {
    return !md.dropped() && md.ig_intr_md_for_tm.ucast_egress_port == 2;
  }
  bool Fail(const char* why) {
    error_ = why;
    return false;
  }

  const bool remote_;
  MemoryServer server_;
  std::vector<uint32_t> flows_;
  std::vector<std::array<uint8_t, 64>> frames_;  // by index into flows_
  std::unique_ptr<pipe::Program> program_;
  pipe::PacketBurst burst_;
  pipe::EgressBurst egress_;
  std::array<rte_mbuf*, kBurst> copies_{};  // remote: the mirror copy of packet i
  std::array<rte_mbuf*, 2 * kBurst> requests_{};
  std::array<rte_mbuf*, 4 * kBurst> answers_{};
  uint64_t hits_ = 0, misses_ = 0, resumed_ = 0, dropped_ = 0;
  std::string error_;
};

constexpr uint32_t kSwitchFlows = 32768;  // 8x the cache: a sequential walk always misses

// state.range(0): 0 local deferral, 1 remote.
void BM_TeaSwitchMiss(benchmark::State& state) {
  SwitchRig rig(state.range(0) == 1, kSwitchFlows);
  if (!rig.error().empty()) return state.SkipWithError(rig.error().c_str());
  SwitchRig::Cycles c;
  uint32_t next = 0;
  const auto flow = [&] {
    next = next + 1 == rig.flows() ? 0 : next + 1;
    return next;
  };
  Samples switch_samples, rnic_samples;
  for (auto _ : state) {
    const SwitchRig::Cycles before = c;
    if (!rig.Burst(kBurst, flow, c)) return state.SkipWithError(rig.error().c_str());
    const uint64_t dt = (c.ingress - before.ingress) + (c.answers - before.answers);
    switch_samples.Add(dt);
    rnic_samples.Add(c.rnic - before.rnic);
    state.SetIterationTime(static_cast<double>(dt) * NsPerCycle() * 1e-9);
  }
  const double lookups = static_cast<double>(rig.misses() + rig.hits());
  if (rig.resumed() + rig.hits() + rig.dropped() != lookups) {
    return state.SkipWithError("a packet neither resumed, hit nor dropped");
  }
  state.SetItemsProcessed(static_cast<int64_t>(lookups));
  state.counters["miss_rate"] = static_cast<double>(rig.misses()) / lookups;
  state.counters["dropped"] = static_cast<double>(rig.dropped()) / lookups;
  state.counters["ingress_ns"] = static_cast<double>(c.ingress) * NsPerCycle() / lookups;
  state.counters["answer_ns"] = static_cast<double>(c.answers) * NsPerCycle() / lookups;
  state.counters["rnic_ns"] = static_cast<double>(c.rnic) * NsPerCycle() / lookups;
  state.counters["median_ns"] = switch_samples.Ns(0.5, kBurst);
  state.counters["rnic_median_ns"] = rnic_samples.Ns(0.5, kBurst);
  state.SetLabel(state.range(0) == 1 ? "remote" : "local");
}
BENCHMARK(BM_TeaSwitchMiss)->Arg(0)->Arg(1)->UseManualTime();

// Every lookup a hit: 512 hot flows in the 4096-entry cache (warmed first).
void BM_TeaSwitchHit(benchmark::State& state) {
  SwitchRig rig(false, kSwitchFlows);
  if (!rig.error().empty()) return state.SkipWithError(rig.error().c_str());
  constexpr uint32_t kHot = 512;
  uint32_t next = 0;
  const auto flow = [&] {
    next = (next + 1) % kHot;
    return next;
  };
  SwitchRig::Cycles c;
  for (uint32_t i = 0; i < 2 * kHot / kBurst; ++i) {
    if (!rig.Burst(kBurst, flow, c)) return state.SkipWithError(rig.error().c_str());
  }
  const uint64_t hits0 = rig.hits(), misses0 = rig.misses();
  c = {};
  Samples samples;
  for (auto _ : state) {
    const SwitchRig::Cycles before = c;
    if (!rig.Burst(kBurst, flow, c)) return state.SkipWithError(rig.error().c_str());
    const uint64_t dt = (c.ingress - before.ingress) + (c.answers - before.answers);
    samples.Add(dt);
    state.SetIterationTime(static_cast<double>(dt) * NsPerCycle() * 1e-9);
  }
  const double lookups = static_cast<double>(rig.hits() - hits0 + rig.misses() - misses0);
  state.SetItemsProcessed(static_cast<int64_t>(lookups));
  state.counters["hit_rate"] = static_cast<double>(rig.hits() - hits0) / lookups;
  state.counters["median_ns"] = samples.Ns(0.5, kBurst);
}
BENCHMARK(BM_TeaSwitchHit)->UseManualTime();

// One lookup at a time: a packet missing the cache, its request, the
// RNIC's answer and the resumed packet, back to back on one core. The
// iteration's time is all of it: the software cost of the path, without a
// link. p50/p99 over the iterations; the switch's own histogram
// (latency_ns, READ sent to answer received: its ingress, the RNIC, not the
// answer's handling) as switch_p50_ns.
void BM_TeaPathLatency(benchmark::State& state) {
  SwitchRig rig(state.range(0) == 1, kSwitchFlows);
  if (!rig.error().empty()) return state.SkipWithError(rig.error().c_str());
  uint32_t next = 0;
  const auto flow = [&] {
    next = next + 1 == rig.flows() ? 0 : next + 1;
    return next;
  };
  Samples samples;
  SwitchRig::Cycles c;
  for (auto _ : state) {
    const SwitchRig::Cycles before = c;
    if (!rig.Burst(1, flow, c)) return state.SkipWithError(rig.error().c_str());
    const uint64_t cycles =
        (c.ingress - before.ingress) + (c.rnic - before.rnic) + (c.answers - before.answers);
    samples.Add(cycles);
    state.SetIterationTime(static_cast<double>(cycles) * NsPerCycle() * 1e-9);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["p50_ns"] = samples.Ns(0.5, 1);
  state.counters["p99_ns"] = samples.Ns(0.99, 1);
  const nlohmann::json hist = rig.counters()["latency_ns"];
  uint64_t total = 0, seen = 0;
  for (const auto& b : hist) total += b[1].get<uint64_t>();
  for (const auto& b : hist) {
    seen += b[1].get<uint64_t>();
    if (2 * seen >= total) {
      state.counters["switch_p50_ns"] = b[0].get<double>();
      break;
    }
  }
  state.SetLabel(state.range(0) == 1 ? "remote" : "local");
}
BENCHMARK(BM_TeaPathLatency)->Arg(0)->Arg(1)->UseManualTime();

}  // namespace
}  // namespace softfino

int main(int argc, char** argv) {
  char arg0[] = "tea_bench", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "256",
       a5[] = "--no-pci", a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry",
       a9[] = "--log-level=error";
  char* eal_argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) return 1;
  softfino::pkt_pool =
      rte_pktmbuf_pool_create("tea_pkts", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  softfino::rnic_pool =
      rte_pktmbuf_pool_create("tea_rnic", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (softfino::pkt_pool == nullptr || softfino::rnic_pool == nullptr) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  softfino::rnic_rig.reset();
  rte_eal_cleanup();
  return 0;
}
