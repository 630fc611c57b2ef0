// The DTA report parser, inline: included at the end of dta.h, not on its
// own. The translator parses every report it receives; called out of line,
// the parser handed the report back through memory in narrow stores that
// the translator read at once with 16-byte loads (a store-forwarding stall:
// 38% of the translator's IngressOne). Inlined, the report stays in
// registers.
#pragma once

#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace softfino::net {

// Where the UDP payload of a frame to `port` lies, after the checks every
// DTA frame shares (Ethernet, IPv4, UDP).
struct DtaUdpPayload {
  uint32_t l3 = 0;
  uint32_t l4 = 0;
  uint32_t begin = 0;  // first payload byte
  uint32_t end = 0;    // one past the datagram: later frame bytes are Ethernet padding
};

[[gnu::always_inline]] inline DtaParseError ParseDtaUdp(std::span<const uint8_t> frame,
                                                        uint16_t port, DtaUdpPayload* out) {
  using E = DtaParseError;
  const uint8_t* p = frame.data();
  // Offsets are kept in 16 bits; no frame a NIC hands over is longer.
  const uint32_t n = static_cast<uint32_t>(frame.size() > 0xffff ? 0xffff : frame.size());

  uint32_t off = sizeof(rte_ether_hdr);
  if (n < off) return E::kTruncatedEthernet;
  uint16_t type = DtaLoad16(p + 12);
  if (type == RTE_ETHER_TYPE_VLAN) {
    off += sizeof(rte_vlan_hdr);
    if (n < off) return E::kTruncatedEthernet;
    type = DtaLoad16(p + 16);
  }
  if (type != RTE_ETHER_TYPE_IPV4) return E::kNotDta;

  const uint32_t l3 = off;
  if (n < l3 + sizeof(rte_ipv4_hdr)) return E::kTruncatedIpv4;
  const uint8_t* ip = p + l3;
  const uint32_t ihl = (ip[0] & 0xfu) * 4u;
  const uint32_t total = DtaLoad16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl) return E::kBadIpv4Header;
  if (n < l3 + ihl || n - l3 < total) return E::kTruncatedIpv4;
  if (rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip)) != 0) return E::kBadIpv4Checksum;
  if (ip[offsetof(rte_ipv4_hdr, next_proto_id)] != IPPROTO_UDP) return E::kNotDta;
  const uint16_t frag = DtaLoad16(ip + offsetof(rte_ipv4_hdr, fragment_offset));
  if ((frag & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
    // A later fragment has no UDP header to tell whether it is DTA; it is
    // reported as a fragment all the same, since reports are never split.
    return E::kIpv4Fragment;
  }
  const uint32_t end = l3 + total;

  const uint32_t l4 = l3 + ihl;
  if (end < l4 + sizeof(rte_udp_hdr)) return E::kTruncatedUdp;
  if (DtaLoad16(p + l4 + 2) != port) return E::kNotDta;
  if (DtaLoad16(p + l4 + 4) != end - l4) return E::kBadUdpLength;

  out->l3 = l3;
  out->l4 = l4;
  out->begin = l4 + sizeof(rte_udp_hdr);
  out->end = end;
  return E::kOk;
}

[[gnu::always_inline]] inline DtaParseError ParseDtaReport(std::span<const uint8_t> frame,
                                                           DtaBaseForm form, DtaReport* out) {
  using E = DtaParseError;
  DtaUdpPayload u;
  if (const E e = ParseDtaUdp(frame, kDtaReportPort, &u); e != E::kOk) return e;
  const uint8_t* p = frame.data();

  const uint32_t base_bytes = DtaBaseBytes(form);
  if (u.end - u.begin < base_bytes) return E::kTruncatedBase;
  DtaReport r;
  const uint8_t* base = p + u.begin;
  r.opcode = static_cast<DtaOpcode>(base[0]);
  if (form == DtaBaseForm::kThreeByte) {
    const auto* h = reinterpret_cast<const DtaBaseHeader3*>(base);
    r.seqnum = h->seqnum;
    r.immediate = h->immediate();
    r.retransmitable = h->retransmitable();
  } else {
    r.immediate = reinterpret_cast<const DtaBaseHeader2*>(base)->immediate();
  }
  const uint32_t primitive_bytes = DtaPrimitiveBytes(base[0]);
  if (primitive_bytes == 0) return E::kBadOpcode;
  const uint32_t prim = u.begin + base_bytes;
  if (u.end - prim < primitive_bytes) return E::kTruncatedPrimitive;
  if (u.end - prim > primitive_bytes) return E::kTrailingBytes;

  switch (r.opcode) {
    case DtaOpcode::kKeyWrite: {
      const auto* h = reinterpret_cast<const DtaKeyWriteHeader*>(p + prim);
      r.redundancy = h->redundancy;
      r.key = h->key_value();
      r.data = h->data_value();
      break;
    }
    case DtaOpcode::kAppend: {
      const auto* h = reinterpret_cast<const DtaAppendHeader*>(p + prim);
      r.list_id = h->list_id_value();
      r.data = h->data_value();
      break;
    }
    case DtaOpcode::kKeyIncrement: {
      const auto* h = reinterpret_cast<const DtaKeyIncrementHeader*>(p + prim);
      r.redundancy = h->redundancy;
      r.key = h->key_value();
      r.counter = h->counter_value();
      break;
    }
    case DtaOpcode::kPostcarding: {
      const auto* h = reinterpret_cast<const DtaPostcardHeader*>(p + prim);
      r.key = h->key_value();
      r.hop = h->hop;
      r.data = h->data_value();
      break;
    }
  }
  // Range checks belong here rather than in each program: a report outside
  // them has no meaning anywhere (no copy to write, no hop polynomial).
  const bool keyed = r.opcode == DtaOpcode::kKeyWrite || r.opcode == DtaOpcode::kKeyIncrement;
  if (keyed && (r.redundancy < kDtaMinRedundancy || r.redundancy > kDtaMaxRedundancy)) {
    return E::kBadRedundancy;
  }
  if (r.opcode == DtaOpcode::kPostcarding && (r.hop < kDtaMinHop || r.hop > kDtaMaxHop)) {
    return E::kBadHop;
  }

  r.src_ip = DtaLoad32(p + u.l3 + offsetof(rte_ipv4_hdr, src_addr));
  r.dst_ip = DtaLoad32(p + u.l3 + offsetof(rte_ipv4_hdr, dst_addr));
  r.src_port = DtaLoad16(p + u.l4);
  r.l3_offset = static_cast<uint16_t>(u.l3);
  r.l4_offset = static_cast<uint16_t>(u.l4);
  r.base_offset = static_cast<uint16_t>(u.begin);
  r.primitive_offset = static_cast<uint16_t>(prim);
  static_assert(sizeof(DtaReport) == 56, "a new DtaReport field: copy it below too");
  // Field by field, not `*out = r`: the struct copy made GCC build `r` on
  // the stack with narrow stores and read it back with 16-byte loads, each
  // waiting for those stores to reach the cache (store-forwarding stalls:
  // 60% of this function's samples, 15% of the DTA translator's). Copied
  // field by field, `r` stays in registers.
  out->opcode = r.opcode;
  out->seqnum = r.seqnum;
  out->immediate = r.immediate;
  out->retransmitable = r.retransmitable;
  out->redundancy = r.redundancy;
  out->hop = r.hop;
  out->key = r.key;
  out->list_id = r.list_id;
  out->data = r.data;
  out->counter = r.counter;
  out->src_ip = r.src_ip;
  out->dst_ip = r.dst_ip;
  out->src_port = r.src_port;
  out->l3_offset = r.l3_offset;
  out->l4_offset = r.l4_offset;
  out->base_offset = r.base_offset;
  out->primitive_offset = r.primitive_offset;
  return E::kOk;
}

[[gnu::always_inline]] inline DtaParseError ParseDtaReport(const rte_mbuf* m, DtaBaseForm form,
                                                           DtaReport* out) {
  return ParseDtaReport(std::span<const uint8_t>(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len),
                        form, out);
}

}  // namespace softfino::net
