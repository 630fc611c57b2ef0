// The packet paths of the data-plane programs (pipelines/): any frames into
// a program's Ingress and, for what it forwards, its Egress, as a pipe
// worker runs them. Each program parses with its own code (l3fwd's
// ParseL3, the DTA reporter's flow key, BurstRadar's, ...), so every
// program is fuzzed, not only the common parser.
//
// Input: byte 0 picks the program, byte 1 the ingress port, then frames
// (fuzz_util.h Chunks), at most one burst. Each input gets a freshly
// configured program (so a crash reproduces from the input alone).
// Programs that reach collectors over RDMA (dta_translator, rdma_probe)
// need queue pairs and are left out; their parsers (DTA reports, RoCEv2)
// have their own fuzzers.
//
// Invariants: a packet that is not dropped goes to a port that exists or
// to a multicast group; egress leaves every mbuf a valid, single-segment
// packet; no mbuf is leaked or freed by the program behind the caller's
// back (the pool is full again once the caller frees the burst).
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstring>
#include <memory>

#include "nlohmann/json.hpp"
#include "pipelines/registry.h"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/program.h"
#include "test/fuzz/fuzz_util.h"

namespace sp = softfino::pipe;
using nlohmann::json;

namespace {

constexpr uint16_t kPorts = 8;

struct Choice {
  const char* name;
  const char* config;
};
constexpr Choice kPrograms[] = {
    {"l3fwd", R"({"tables": {
      "nexthop": [{"key": {"nexthop_id": 1}, "action": "forward",
                   "data": {"port": 1, "src_mac": "02:00:00:00:01:00",
                            "dst_mac": "02:00:00:00:01:01"}}],
      "ipv4_lpm": [{"key": {"dst_addr": "10.0.0.0/8"}, "action": "set_nexthop",
                    "data": {"nexthop_id": 1}}],
      "ipv6_lpm": [{"key": {"dst_addr": "2001:db8::/32"}, "action": "set_nexthop",
                    "data": {"nexthop_id": 1}}]},
      "trumpet": {"flows": 256, "triggers": [
        "all: filter * group dst every 1ms when packets >= 2"]}})"},
    {"tm_probe", R"({"tables": {"port_map": [
      {"key": {"ingress_port": 0}, "action": "send", "data": {"port": 2, "qid": 0}},
      {"key": {"ingress_port": 1}, "action": "send", "data": {"port": 2, "qid": 1}}]}})"},
    {"packet_fates", R"({"tables": {
      "fate": [
        {"key": {"udp_dst_port": 1001}, "action": "unicast", "data": {"port": 1}},
        {"key": {"udp_dst_port": 2001}, "action": "multicast", "data": {"group": 7}},
        {"key": {"udp_dst_port": 3001}, "action": "mirror_and_forward",
         "data": {"port": 1, "session": 5}},
        {"key": {"udp_dst_port": 4001}, "action": "drop"},
        {"key": {"udp_dst_port": 5001}, "action": "recirculate_then", "data": {"port": 1}},
        {"key": {"udp_dst_port": 6001}, "action": "resubmit_then", "data": {"port": 2}}],
      "egress_mirror": [{"key": {"egress_port": 2}, "action": "mirror",
                         "data": {"session": 6}}]}})"},
    {"burstradar", R"({"burstradar": {
      "forward": [{"in": 0, "out": 5}, {"in": 1, "out": 5}],
      "threshold_rtt_fraction": 0.05, "rtt_us": 25,
      "ring_entries": 16, "monitor_port": 6, "mirror_session": 900}})"},
    {"dta_reporter", R"({"dta_reporter": {
      "base_form": "3-byte", "switch_id": 7, "hop": 1, "forward": [{"in": 0, "out": 1}],
      "report_port": 2, "report": {"src_ip": "10.0.0.7", "dst_ip": "10.0.255.255",
                                   "src_mac": "02:00:00:00:00:07",
                                   "dst_mac": "02:00:00:00:00:ff"},
      "flow_slots": 64, "key_write": {"redundancy": 2},
      "key_increment": {"redundancy": 2, "counter": "bytes", "every": 4},
      "append": {"list": 1}, "postcarding": {}}})"},
};

rte_mempool* Pool() {
  static rte_mempool* pool = [] {
    softfino::fuzz::InitEal();
    rte_mempool* p = rte_pktmbuf_pool_create("fuzz_program", 1023, 0, 0,
                                             9216 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
    FUZZ_CHECK(p != nullptr);
    return p;
  }();
  return pool;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Pool();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Choice& choice = kPrograms[data[0] % std::size(kPrograms)];
  const sp::PortId port = data[1] % kPorts;
  rte_mempool* pool = Pool();
  const unsigned pool_free = rte_mempool_avail_count(pool);

  const sp::ProgramDescriptor* d = softfino::pipelines::FindProgram(choice.name);
  FUZZ_CHECK(d != nullptr);
  std::unique_ptr<sp::Program> program = d->create();
  const absl::Status configured =
      program->Configure(json::parse(choice.config),
                         sp::SwitchInfo(kPorts, 1, std::vector<uint64_t>(kPorts, 10'000'000'000)));
  if (!configured.ok()) std::fprintf(stderr, "%s\n", std::string(configured.message()).c_str());
  FUZZ_CHECK(configured.ok());

  sp::PacketBurst burst;
  softfino::fuzz::Chunks chunks(data + 2, size - 2);
  uint64_t now_ns = 1'000'000;
  while (burst.count < sp::kBurstSize) {
    auto frame = chunks.Next();
    if (!frame) break;
    if (frame->size() > 9216) continue;
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    FUZZ_CHECK(m != nullptr);
    if (!frame->empty()) {
      char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(frame->size()));
      FUZZ_CHECK(dst != nullptr);
      std::memcpy(dst, frame->data(), frame->size());
    }
    burst.Append(m, port, now_ns += 1000);
  }
  program->Ingress(burst);

  sp::EgressBurst egress;
  for (uint16_t i = 0; i < burst.count; ++i) {
    const sp::IngressMetadata& md = burst.md[i];
    if (md.dropped() || md.ig_intr_md_for_dprsr.resubmit_type != 0) continue;
    const sp::PortId out = md.ig_intr_md_for_tm.ucast_egress_port;
    if (md.ig_intr_md_for_tm.mcast_grp_a == 0) {
      FUZZ_CHECK(out < kPorts || sp::IsRecirculationPort(out));
    }
    if (out >= kPorts) continue;
    egress.pkts[egress.count] = burst.pkts[i];
    egress.eg_intr_md[egress.count] = {};
    egress.eg_intr_md[egress.count].egress_port = out;
    egress.eg_intr_md[egress.count].pkt_length = static_cast<uint16_t>(burst.pkts[i]->pkt_len);
    egress.eg_intr_md[egress.count].enq_qdepth = 10 * (i + 1);
    egress.eg_intr_md[egress.count].deq_qdepth = 10 * (i + 1);
    egress.eg_intr_md[egress.count].enq_tstamp = static_cast<uint32_t>(now_ns);
    egress.eg_intr_md[egress.count].deq_timedelta = 1000 * i;
    egress.eg_intr_md_for_dprsr[egress.count] = {};
    ++egress.count;
  }
  program->Egress(egress);
  for (uint16_t i = 0; i < egress.count; ++i) {
    const rte_mbuf* m = egress.pkts[i];
    FUZZ_CHECK(m->nb_segs == 1 && m->data_len == m->pkt_len);
  }
  // Background work (Trumpet's sweeps) over what the packets left.
  program->Background(0, now_ns + 10'000'000);
  program->DrainEvents([](json) {});

  for (uint16_t i = 0; i < burst.count; ++i) rte_pktmbuf_free(burst.pkts[i]);
  FUZZ_CHECK(rte_mempool_avail_count(pool) == pool_free);
  return 0;
}
