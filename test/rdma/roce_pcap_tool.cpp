// Writes a pcap of RoCEv2 packets made by rdma/'s builders, every kind with
// varied field values, and a JSON list of the values each packet was asked
// to carry, so that outside decoders (tshark, scapy) can check the wire
// form: roce_oracle_test.py does.
//
//   roce_pcap_tool OUT.pcap OUT.json
//
// The JSON holds the builder's inputs, not anything parsed back, so the
// check does not depend on our own parser.
#include <pcap/pcap.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "softfino/rdma/icrc.h"
#include "softfino/rdma/roce_builder.h"

namespace {

using softfino::net::NakCode;
using softfino::net::RcOpcode;
using softfino::rdma::BuildStatus;
using softfino::rdma::Endpoint;
using softfino::rdma::PacketFields;
using softfino::rdma::RoceBuilder;
using json = nlohmann::json;

std::string Ip(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

std::string Hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 0xf];
  }
  return s;
}

class Writer {
 public:
  Writer(rte_mempool* pool, pcap_dumper_t* dumper) : pool_(pool), dumper_(dumper) {}

  // Builds `f` with `b`, dumps it and records what it was asked to carry.
  bool Add(const RoceBuilder& b, const std::string& kind, const PacketFields& f) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return false;
    const BuildStatus s = b.Build(m, f);
    if (s != BuildStatus::kOk) {
      std::fprintf(stderr, "building %s failed: %s\n", kind.c_str(),
                   softfino::rdma::BuildStatusName(s));
      rte_pktmbuf_free(m);
      return false;
    }
    const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
    pcap_pkthdr h{};
    h.ts.tv_sec = 1700000000;
    h.ts.tv_usec = static_cast<suseconds_t>(records_.size());
    h.caplen = h.len = m->data_len;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, p);

    const auto layout = softfino::net::LayoutOf(f.opcode);
    const Endpoint& ep = b.endpoint();
    json r = {
        {"index", records_.size()},
        {"kind", kind},
        {"opcode", static_cast<int>(f.opcode)},
        {"dest_qp", b.dest_qpn()},
        {"psn", f.psn},
        {"ack_req", f.ack_req},
        {"solicited", f.solicited},
        {"pad", (4 - f.payload.size() % 4) % 4},
        {"pkey", 0xffff},
        {"src_ip", Ip(ep.src_ip)},
        {"dst_ip", Ip(ep.dst_ip)},
        {"udp_src_port", ep.udp_src_port},
        {"ttl", ep.ttl},
        {"tos", (ep.dscp << 2) | ep.ecn},
        {"payload", Hex(f.payload)},
        {"frame_len", m->data_len},
        {"icrc", softfino::rdma::LoadIcrc(p + m->data_len - 4)},
    };
    if (layout.reth) {
      r["reth"] = {{"va", f.vaddr}, {"r_key", f.rkey}, {"dma_length", f.dma_length}};
    }
    if (layout.atomic_eth) {
      r["atomic_eth"] = {
          {"va", f.vaddr}, {"r_key", f.rkey}, {"swap_add", f.swap_add}, {"compare", f.compare}};
    }
    if (layout.aeth) r["aeth"] = {{"syndrome", f.syndrome}, {"msn", f.msn}};
    if (layout.atomic_ack_eth) r["atomic_ack_eth"] = {{"original", f.original}};
    if (layout.immdt) r["immdt"] = f.imm;
    records_.push_back(r);
    rte_pktmbuf_free(m);
    return true;
  }

  const json& records() const { return records_; }

 private:
  rte_mempool* pool_;
  pcap_dumper_t* dumper_;
  json records_ = json::array();
};

// Varied endpoints: DSCP/ECN, TTL, addresses, and UDP source ports from
// the QPN pair.
std::vector<RoceBuilder> Builders() {
  std::vector<RoceBuilder> out;
  const struct {
    uint32_t src_ip, dst_ip, local_qpn, remote_qpn;
    uint8_t dscp, ecn, ttl;
  } eps[] = {
      {RTE_IPV4(10, 0, 0, 1), RTE_IPV4(10, 0, 0, 2), 0x11, 0x000123, 0, 0, 64},
      {RTE_IPV4(192, 168, 7, 9), RTE_IPV4(172, 16, 0, 200), 0xabcdef, 0xfffffe, 26, 2, 255},
      {RTE_IPV4(100, 64, 1, 1), RTE_IPV4(100, 64, 2, 2), 0x000001, 0x800000, 46, 1, 1},
  };
  uint8_t n = 1;
  for (const auto& e : eps) {
    Endpoint ep;
    ep.src_mac = {0x02, 0, 0, 0, n, 0x01};
    ep.dst_mac = {0x02, 0, 0, 0, n, 0x02};
    ep.src_ip = e.src_ip;
    ep.dst_ip = e.dst_ip;
    ep.udp_src_port = softfino::rdma::RoceUdpSourcePort(e.local_qpn, e.remote_qpn);
    ep.dscp = e.dscp;
    ep.ecn = e.ecn;
    ep.ttl = e.ttl;
    auto b = RoceBuilder::Create(ep, e.remote_qpn);
    if (!b.ok()) {
      std::fprintf(stderr, "%s\n", b.status().ToString().c_str());
      std::exit(1);
    }
    out.push_back(*b);
    ++n;
  }
  return out;
}

bool Generate(Writer& w) {
  std::mt19937_64 rng(2024);
  auto u32 = [&] { return static_cast<uint32_t>(rng()); };
  auto psn = [&] { return u32() & 0xffffff; };
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t len : {0, 1, 2, 3, 4, 8, 13, 64, 255, 1024}) {
    std::vector<uint8_t> p(len);
    for (auto& x : p) x = static_cast<uint8_t>(rng());
    payloads.push_back(p);
  }
  const std::vector<RoceBuilder> builders = Builders();
  bool ok = true;
  for (const RoceBuilder& b : builders) {
    for (const auto& pl : payloads) {
      PacketFields f;
      f.opcode = RcOpcode::kWriteOnly;
      f.psn = psn();
      f.ack_req = (rng() & 1) != 0;
      f.vaddr = rng();
      f.rkey = u32();
      f.dma_length = static_cast<uint32_t>(pl.size());
      f.payload = pl;
      ok &= w.Add(b, "write_only", f);
      f.opcode = RcOpcode::kWriteOnlyImm;
      f.imm = u32();
      ok &= w.Add(b, "write_only_imm", f);
      f = PacketFields{};
      f.opcode = RcOpcode::kSendOnly;
      f.psn = psn();
      f.ack_req = true;
      f.solicited = (rng() & 1) != 0;
      f.payload = pl;
      ok &= w.Add(b, "send_only", f);
      f.opcode = RcOpcode::kReadResponseOnly;
      f.solicited = false;
      f.ack_req = false;
      f.syndrome = softfino::net::AckSyndrome();
      f.msn = u32() & 0xffffff;
      ok &= w.Add(b, "read_response_only", f);
    }
    // A multi-packet WRITE and READ response, split at MTU 256; PSNs wrap.
    const std::vector<uint8_t>& msg = payloads.back();
    for (auto kind :
         {softfino::rdma::MessageKind::kWrite, softfino::rdma::MessageKind::kWriteWithImm,
          softfino::rdma::MessageKind::kReadResponse}) {
      const softfino::rdma::MessageSegments segs(kind, 700, softfino::rdma::PathMtu::k256);
      const uint32_t first = 0xfffffe;
      const uint64_t va = rng();
      const uint32_t rkey = u32();
      for (uint32_t i = 0; i < segs.count(); ++i) {
        const auto s = segs[i];
        PacketFields f;
        f.opcode = s.opcode;
        f.psn = softfino::rdma::MessageSegments::PsnOf(first, i);
        f.ack_req = i + 1 == segs.count() && kind != softfino::rdma::MessageKind::kReadResponse;
        f.vaddr = va;
        f.rkey = rkey;
        f.dma_length = 700;
        f.imm = 0x0badcafe;
        f.msn = 0x123456;
        f.payload = std::span<const uint8_t>(msg).subspan(s.offset, s.length);
        ok &= w.Add(b, "segment", f);
      }
    }
    PacketFields f;
    f.opcode = RcOpcode::kReadRequest;
    f.psn = psn();
    f.ack_req = true;
    f.vaddr = rng();
    f.rkey = u32();
    f.dma_length = u32() & 0xfffff;
    ok &= w.Add(b, "read_request", f);
    f = PacketFields{};
    f.opcode = RcOpcode::kFetchAdd;
    f.psn = psn();
    f.ack_req = true;
    f.vaddr = rng() & ~uint64_t{7};
    f.rkey = u32();
    f.swap_add = rng();
    ok &= w.Add(b, "fetch_add", f);
    f.opcode = RcOpcode::kCompareSwap;
    f.compare = rng();
    ok &= w.Add(b, "cmp_swap", f);
    f = PacketFields{};
    f.opcode = RcOpcode::kAcknowledge;
    f.psn = psn();
    f.syndrome = softfino::net::AckSyndrome(static_cast<uint8_t>(rng() & 0x1f));
    f.msn = u32() & 0xffffff;
    ok &= w.Add(b, "ack", f);
    for (NakCode code :
         {NakCode::kPsnSequenceError, NakCode::kInvalidRequest, NakCode::kRemoteAccessError,
          NakCode::kRemoteOperationalError, NakCode::kInvalidRdRequest}) {
      f.syndrome = softfino::net::NakSyndrome(code);
      f.psn = psn();
      ok &= w.Add(b, "nak", f);
    }
    f = PacketFields{};
    f.opcode = RcOpcode::kAtomicAcknowledge;
    f.psn = psn();
    f.msn = u32() & 0xffffff;
    f.original = rng();
    ok &= w.Add(b, "atomic_ack", f);
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OUT.pcap OUT.json\n", argv[0]);
    return 2;
  }
  char a0[] = "roce_pcap_tool", a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "64",
       a5[] = "--no-pci", a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry",
       a9[] = "--log-level=error";
  char* eal_argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) {
    std::fprintf(stderr, "cannot initialise EAL\n");
    return 1;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("roce_pcap", 63, 0, 0,
                                              4096 + 256 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  pcap_dumper_t* dumper = dead ? pcap_dump_open(dead, argv[1]) : nullptr;
  if (pool == nullptr || dumper == nullptr) {
    std::fprintf(stderr, "cannot create the mbuf pool or open %s\n", argv[1]);
    return 1;
  }
  Writer w(pool, dumper);
  const bool ok = Generate(w);
  pcap_dump_close(dumper);
  pcap_close(dead);
  std::ofstream(argv[2]) << w.records().dump(1) << "\n";
  std::printf("%zu packets\n", w.records().size());
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return ok ? 0 : 1;
}
