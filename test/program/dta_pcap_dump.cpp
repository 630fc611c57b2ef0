// Reads a pcap and parses every record as a DTA report (or NACK) with
// net/dta.h, printing one JSON line per record: the parse result, the
// decoded fields and, for records that parsed, the frame that
// BuildDtaReport/BuildDtaNack makes from those fields and the frame's own
// addresses. dta_wire_oracle.py builds the pcap with scapy from the spec and
// judges both directions from the output.
//
//   dta_pcap_dump 2-byte|3-byte|nack FILE.pcap
#include <pcap/pcap.h>

#include <cstdio>
#include <cstring>
#include <span>
#include <string>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"
#include "softfino/net/dta.h"

namespace {

namespace net = softfino::net;
using json = nlohmann::json;

std::string Hex(const uint8_t* p, size_t n) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(p), n));
}

std::string Ip(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

// The addresses a frame that parsed was sent with, read from its bytes, so
// that the builder can be asked for the same frame.
net::DtaAddresses AddressesOf(std::span<const uint8_t> f, uint16_t l3_offset, uint32_t src_ip,
                              uint32_t dst_ip, uint16_t src_port) {
  net::DtaAddresses a;
  std::memcpy(a.dst_mac.data(), f.data(), 6);
  std::memcpy(a.src_mac.data(), f.data() + 6, 6);
  a.vlan = l3_offset > 14;
  if (a.vlan) a.vlan_tci = static_cast<uint16_t>((f[14] << 8) | f[15]);
  a.tos = f[l3_offset + 1];
  a.ttl = f[l3_offset + 8];
  a.src_ip = src_ip;
  a.dst_ip = dst_ip;
  a.src_port = src_port;
  return a;
}

json Report(std::span<const uint8_t> f, net::DtaBaseForm form) {
  net::DtaReport r;
  const net::DtaParseError e = net::ParseDtaReport(f, form, &r);
  json j = {{"error", net::DtaParseErrorName(e)}};
  if (e != net::DtaParseError::kOk) return j;
  j.update({
      {"opcode", static_cast<int>(r.opcode)},
      {"seqnum", r.seqnum},
      {"immediate", r.immediate},
      {"retransmitable", r.retransmitable},
      {"redundancy", r.redundancy},
      {"hop", r.hop},
      {"key", r.key},
      {"list_id", r.list_id},
      {"data", r.data},
      {"counter", r.counter},
      {"src_ip", Ip(r.src_ip)},
      {"dst_ip", Ip(r.dst_ip)},
      {"src_port", r.src_port},
      {"primitive_offset", r.primitive_offset},
  });
  uint8_t buf[128];
  const size_t n = net::BuildDtaReport(
      buf, AddressesOf(f, r.l3_offset, r.src_ip, r.dst_ip, r.src_port), form, r);
  j["rebuilt"] = Hex(buf, n);
  return j;
}

json Nack(std::span<const uint8_t> f) {
  net::DtaNack n;
  const net::DtaParseError e = net::ParseDtaNack(f, &n);
  json j = {{"error", net::DtaParseErrorName(e)}};
  if (e != net::DtaParseError::kOk) return j;
  j.update({
      {"seqnum", n.seqnum},
      {"nack", n.nack},
      {"src_ip", Ip(n.src_ip)},
      {"dst_ip", Ip(n.dst_ip)},
      {"src_port", n.src_port},
  });
  uint8_t buf[128];
  const size_t len =
      net::BuildDtaNack(buf, AddressesOf(f, n.l3_offset, n.src_ip, n.dst_ip, n.src_port), n);
  j["rebuilt"] = Hex(buf, len);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s 2-byte|3-byte|nack FILE.pcap\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const bool nack = mode == "nack";
  net::DtaBaseForm form = net::kDefaultDtaBaseForm;
  if (!nack) {
    const auto parsed = net::ParseDtaBaseForm(mode);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n", std::string(parsed.status().message()).c_str());
      return 2;
    }
    form = *parsed;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* pcap = pcap_open_offline(argv[2], err);
  if (pcap == nullptr) {
    std::fprintf(stderr, "cannot open %s: %s\n", argv[2], err);
    return 1;
  }
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  size_t index = 0;
  int rc;
  while ((rc = pcap_next_ex(pcap, &h, &data)) == 1) {
    const std::span<const uint8_t> f(data, h->caplen);
    json j = nack ? Nack(f) : Report(f, form);
    j["index"] = index++;
    std::printf("%s\n", j.dump().c_str());
  }
  const bool ok = rc == PCAP_ERROR_BREAK;
  if (!ok) std::fprintf(stderr, "reading %s: %s\n", argv[2], pcap_geterr(pcap));
  pcap_close(pcap);
  return ok ? 0 : 1;
}
