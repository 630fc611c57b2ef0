#include "softfino/net/dta.h"

#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace softfino::net {
namespace {

constexpr uint32_t kEth = sizeof(rte_ether_hdr);
constexpr uint32_t kVlan = sizeof(rte_vlan_hdr);
constexpr uint32_t kIp = sizeof(rte_ipv4_hdr);
constexpr uint32_t kUdp = sizeof(rte_udp_hdr);

constexpr void Store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Writes Ethernet, IPv4 and UDP for a payload of `payload_len` bytes to
// `dst_port`; returns where the payload goes, or 0 when the frame would not
// fit in `buf`.
uint32_t BuildUdp(std::span<uint8_t> buf, const DtaAddresses& a, uint16_t dst_port,
                  uint32_t payload_len) {
  const uint32_t l3 = kEth + (a.vlan ? kVlan : 0);
  const uint32_t payload = l3 + kIp + kUdp;
  if (buf.size() < payload + payload_len) return 0;
  uint8_t* p = buf.data();

  std::memcpy(p, a.dst_mac.data(), 6);
  std::memcpy(p + 6, a.src_mac.data(), 6);
  if (a.vlan) {
    Store16(p + 12, RTE_ETHER_TYPE_VLAN);
    Store16(p + 14, a.vlan_tci);
  }
  Store16(p + l3 - 2, RTE_ETHER_TYPE_IPV4);

  uint8_t* ip = p + l3;
  ip[0] = 0x45;
  ip[1] = a.tos;
  Store16(ip + 2, static_cast<uint16_t>(kIp + kUdp + payload_len));
  Store16(ip + 4, 0);       // ID 0 with DF: an atomic datagram (RFC 6864)
  Store16(ip + 6, 0x4000);  // DF: a report is never worth fragmenting
  ip[8] = a.ttl;
  ip[9] = IPPROTO_UDP;
  Store16(ip + 10, 0);
  DtaStore32(ip + 12, a.src_ip);
  DtaStore32(ip + 16, a.dst_ip);
  // rte_ipv4_cksum returns the value in the header's own byte order.
  const uint16_t cksum = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip));
  std::memcpy(ip + 10, &cksum, sizeof(cksum));

  uint8_t* udp = ip + kIp;
  Store16(udp, a.src_port);
  Store16(udp + 2, dst_port);
  Store16(udp + 4, static_cast<uint16_t>(kUdp + payload_len));
  Store16(udp + 6, 0);  // no checksum (allowed over IPv4): reporters on Tofino send none
  return payload;
}

}  // namespace

const char* DtaOpcodeName(DtaOpcode opcode) {
  switch (opcode) {
    case DtaOpcode::kKeyWrite:
      return "key_write";
    case DtaOpcode::kAppend:
      return "append";
    case DtaOpcode::kKeyIncrement:
      return "key_increment";
    case DtaOpcode::kPostcarding:
      return "postcarding";
  }
  return "unknown";
}

const char* DtaParseErrorName(DtaParseError e) {
  switch (e) {
    case DtaParseError::kOk:
      return "ok";
    case DtaParseError::kNotDta:
      return "not_dta";
    case DtaParseError::kTruncatedEthernet:
      return "truncated_ethernet";
    case DtaParseError::kTruncatedIpv4:
      return "truncated_ipv4";
    case DtaParseError::kBadIpv4Header:
      return "bad_ipv4_header";
    case DtaParseError::kBadIpv4Checksum:
      return "bad_ipv4_checksum";
    case DtaParseError::kIpv4Fragment:
      return "ipv4_fragment";
    case DtaParseError::kTruncatedUdp:
      return "truncated_udp";
    case DtaParseError::kBadUdpLength:
      return "bad_udp_length";
    case DtaParseError::kTruncatedBase:
      return "truncated_base";
    case DtaParseError::kBadOpcode:
      return "bad_opcode";
    case DtaParseError::kTruncatedPrimitive:
      return "truncated_primitive";
    case DtaParseError::kTrailingBytes:
      return "trailing_bytes";
    case DtaParseError::kBadRedundancy:
      return "bad_redundancy";
    case DtaParseError::kBadHop:
      return "bad_hop";
    case DtaParseError::kTruncatedNack:
      return "truncated_nack";
    case DtaParseError::kCount:
      break;
  }
  return "unknown";
}

DtaParseError ParseDtaNack(std::span<const uint8_t> frame, DtaNack* out) {
  using E = DtaParseError;
  DtaUdpPayload u;
  if (const E e = ParseDtaUdp(frame, kDtaNackPort, &u); e != E::kOk) return e;
  if (u.end - u.begin < sizeof(DtaNackHeader)) return E::kTruncatedNack;
  if (u.end - u.begin > sizeof(DtaNackHeader)) return E::kTrailingBytes;
  const uint8_t* p = frame.data();
  const auto* h = reinterpret_cast<const DtaNackHeader*>(p + u.begin);
  DtaNack n;
  n.seqnum = h->seqnum;
  n.nack = h->nack();
  n.src_ip = DtaLoad32(p + u.l3 + offsetof(rte_ipv4_hdr, src_addr));
  n.dst_ip = DtaLoad32(p + u.l3 + offsetof(rte_ipv4_hdr, dst_addr));
  n.src_port = DtaLoad16(p + u.l4);
  n.l3_offset = static_cast<uint16_t>(u.l3);
  n.nack_offset = static_cast<uint16_t>(u.begin);
  *out = n;
  return E::kOk;
}

uint32_t DtaReportFrameBytes(DtaBaseForm form, DtaOpcode opcode, bool vlan) {
  return kEth + (vlan ? kVlan : 0) + kIp + kUdp + DtaBaseBytes(form) + DtaPrimitiveBytes(opcode);
}

uint32_t DtaNackFrameBytes(bool vlan) {
  return kEth + (vlan ? kVlan : 0) + kIp + kUdp + sizeof(DtaNackHeader);
}

size_t BuildDtaReport(std::span<uint8_t> buf, const DtaAddresses& addresses, DtaBaseForm form,
                      const DtaReport& r) {
  const uint32_t primitive_bytes = DtaPrimitiveBytes(r.opcode);
  if (primitive_bytes == 0) return 0;
  const uint32_t base_bytes = DtaBaseBytes(form);
  const uint32_t base = BuildUdp(buf, addresses, kDtaReportPort, base_bytes + primitive_bytes);
  if (base == 0) return 0;
  uint8_t* p = buf.data();

  if (form == DtaBaseForm::kThreeByte) {
    auto* h = reinterpret_cast<DtaBaseHeader3*>(p + base);
    h->opcode = static_cast<uint8_t>(r.opcode);
    h->seqnum = r.seqnum;
    h->set_flags(r.immediate, r.retransmitable);
  } else {
    auto* h = reinterpret_cast<DtaBaseHeader2*>(p + base);
    h->opcode = static_cast<uint8_t>(r.opcode);
    h->set_flags(r.immediate);
  }

  uint8_t* prim = p + base + base_bytes;
  switch (r.opcode) {
    case DtaOpcode::kKeyWrite: {
      auto* h = reinterpret_cast<DtaKeyWriteHeader*>(prim);
      h->redundancy = r.redundancy;
      h->set_key(r.key);
      h->set_data(r.data);
      break;
    }
    case DtaOpcode::kAppend: {
      auto* h = reinterpret_cast<DtaAppendHeader*>(prim);
      h->set_list_id(r.list_id);
      h->set_data(r.data);
      break;
    }
    case DtaOpcode::kKeyIncrement: {
      auto* h = reinterpret_cast<DtaKeyIncrementHeader*>(prim);
      h->redundancy = r.redundancy;
      h->set_key(r.key);
      h->set_counter(r.counter);
      break;
    }
    case DtaOpcode::kPostcarding: {
      auto* h = reinterpret_cast<DtaPostcardHeader*>(prim);
      h->set_key(r.key);
      h->hop = r.hop;
      h->set_data(r.data);
      break;
    }
  }
  return base + base_bytes + primitive_bytes;
}

size_t BuildDtaNack(std::span<uint8_t> buf, const DtaAddresses& addresses, const DtaNack& n) {
  const uint32_t off = BuildUdp(buf, addresses, kDtaNackPort, sizeof(DtaNackHeader));
  if (off == 0) return 0;
  auto* h = reinterpret_cast<DtaNackHeader*>(buf.data() + off);
  h->seqnum = n.seqnum;
  h->set_flags(n.nack);
  return off + sizeof(DtaNackHeader);
}

absl::StatusOr<DtaBaseForm> ParseDtaBaseForm(absl::string_view name) {
  if (name == "3-byte") return DtaBaseForm::kThreeByte;
  if (name == "2-byte") return DtaBaseForm::kTwoByte;
  return absl::InvalidArgumentError(absl::StrCat(
      "DTA base header form \"", name,
      "\" is unknown; use \"3-byte\" (opcode, seqnum, immediate/retransmitable flags: DTA's "
      "traffic generator and manager, the default) or \"2-byte\" (opcode, immediate flag: "
      "DTA's reporter P4), whichever the reporters send"));
}

const char* DtaBaseFormName(DtaBaseForm form) {
  return form == DtaBaseForm::kTwoByte ? "2-byte" : "3-byte";
}

absl::Status ValidateDtaRedundancy(int64_t redundancy) {
  if (redundancy >= kDtaMinRedundancy && redundancy <= kDtaMaxRedundancy) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("DTA redundancy ", redundancy,
                   " is out of range; use 1..4 (Key-Write copies or "
                   "Key-Increment rows; 2 is the paper's recommendation)"));
}

absl::Status ValidateDtaHop(int64_t hop) {
  if (hop >= kDtaMinHop && hop <= kDtaMaxHop) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "DTA Postcarding hop ", hop,
      " is out of range; hops are numbered 1..5 (the first switch on the path is hop 1)"));
}

absl::Status ValidateDtaPathLength(int64_t hops) {
  if (hops >= kDtaMinHop && hops <= kDtaMaxHop) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "DTA Postcarding path length ", hops,
      " is out of range; use 1..5 hops (one CRC-32 polynomial per hop, five of them)"));
}

}  // namespace softfino::net
