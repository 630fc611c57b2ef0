#include "softfino/rdma/roce_parser.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>

#include "softfino/rdma/icrc.h"

namespace softfino::rdma {
namespace {

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// RC opcodes have the transport bits 7..5 clear (IBA 9.2.1).
constexpr bool IsRc(uint8_t opcode) { return (opcode & 0xe0) == 0; }

}  // namespace

const char* RoceParseErrorName(RoceParseError e) {
  switch (e) {
    case RoceParseError::kOk:
      return "ok";
    case RoceParseError::kNotRoce:
      return "not_roce";
    case RoceParseError::kIpv6Unsupported:
      return "ipv6_unsupported";
    case RoceParseError::kTruncatedEthernet:
      return "truncated_ethernet";
    case RoceParseError::kTruncatedIpv4:
      return "truncated_ipv4";
    case RoceParseError::kBadIpv4Header:
      return "bad_ipv4_header";
    case RoceParseError::kBadIpv4Checksum:
      return "bad_ipv4_checksum";
    case RoceParseError::kIpv4Fragment:
      return "ipv4_fragment";
    case RoceParseError::kTruncatedUdp:
      return "truncated_udp";
    case RoceParseError::kBadUdpLength:
      return "bad_udp_length";
    case RoceParseError::kTruncatedBth:
      return "truncated_bth";
    case RoceParseError::kBadTransportVersion:
      return "bad_transport_version";
    case RoceParseError::kBadOpcode:
      return "bad_opcode";
    case RoceParseError::kTruncatedHeaders:
      return "truncated_headers";
    case RoceParseError::kUnexpectedPayload:
      return "unexpected_payload";
    case RoceParseError::kBadPad:
      return "bad_pad";
    case RoceParseError::kBadIcrc:
      return "bad_icrc";
    case RoceParseError::kCount:
      break;
  }
  return "unknown";
}

uint32_t RocePacket::icrc() const {
  return LoadIcrc(frame + l3_offset + datagram_len - net::kIcrcBytes);
}
uint32_t RocePacket::src_ip() const {
  return Get32(frame + l3_offset + offsetof(rte_ipv4_hdr, src_addr));
}
uint32_t RocePacket::dst_ip() const {
  return Get32(frame + l3_offset + offsetof(rte_ipv4_hdr, dst_addr));
}
uint16_t RocePacket::udp_src_port() const { return Get16(frame + l4_offset); }

RoceParseError ParseRoce(std::span<const uint8_t> frame, RocePacket* out,
                         RoceParseOptions options) {
  using E = RoceParseError;
  const uint8_t* p = frame.data();
  // Frames are at most a jumbo MTU; offsets are kept in 16 bits.
  const uint32_t n = static_cast<uint32_t>(frame.size() > 0xffff ? 0xffff : frame.size());

  uint32_t off = sizeof(rte_ether_hdr);
  if (n < off) return E::kTruncatedEthernet;
  uint16_t type = Get16(p + 12);
  if (type == RTE_ETHER_TYPE_VLAN) {
    off += sizeof(rte_vlan_hdr);
    if (n < off) return E::kTruncatedEthernet;
    type = Get16(p + 16);
  }
  if (type == RTE_ETHER_TYPE_IPV6) {
    // Only an IPv6 UDP packet to 4791 would be RoCEv2; anything else over
    // IPv6 is simply not ours.
    const uint32_t udp = off + 40;
    return n >= udp + 4 && p[off + 6] == IPPROTO_UDP && Get16(p + udp + 2) == net::kRoceV2UdpPort
               ? E::kIpv6Unsupported
               : E::kNotRoce;
  }
  if (type != RTE_ETHER_TYPE_IPV4) return E::kNotRoce;

  // IPv4
  const uint32_t l3 = off;
  if (n < l3 + sizeof(rte_ipv4_hdr)) return E::kTruncatedIpv4;
  const uint8_t* ip = p + l3;
  const uint32_t ihl = (ip[0] & 0xfu) * 4u;
  const uint32_t total = Get16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl) return E::kBadIpv4Header;
  if (n < l3 + ihl || n - l3 < total) return E::kTruncatedIpv4;
  if (rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip)) != 0) return E::kBadIpv4Checksum;
  if (ip[offsetof(rte_ipv4_hdr, next_proto_id)] != IPPROTO_UDP) return E::kNotRoce;
  const uint16_t frag = Get16(ip + offsetof(rte_ipv4_hdr, fragment_offset));
  if ((frag & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
    // A non-first fragment has no UDP header to tell whether it is RoCE:
    // report it as a fragment all the same, RoCE traffic should have none.
    return E::kIpv4Fragment;
  }
  const uint32_t end = l3 + total;  // bytes after it are Ethernet padding

  // UDP
  const uint32_t l4 = l3 + ihl;
  if (end < l4 + sizeof(rte_udp_hdr)) return E::kTruncatedUdp;
  if (Get16(p + l4 + 2) != net::kRoceV2UdpPort) return E::kNotRoce;
  if (Get16(p + l4 + 4) != end - l4) return E::kBadUdpLength;

  // BTH
  const uint32_t bth_off = l4 + sizeof(rte_udp_hdr);
  if (end < bth_off + sizeof(net::Bth) + net::kIcrcBytes) return E::kTruncatedBth;
  const auto* bth = reinterpret_cast<const net::Bth*>(p + bth_off);
  if (bth->tver() != 0) return E::kBadTransportVersion;
  const net::OpcodeLayout layout = net::LayoutOf(bth->op());
  if (!IsRc(bth->opcode) || !layout.valid) return E::kBadOpcode;

  // Extension headers, in the order the layout lists them.
  RocePacket& r = *out;
  r.reth_offset = r.atomic_eth_offset = r.aeth_offset = r.atomic_ack_eth_offset = r.immdt_offset =
      0;
  const uint32_t payload_off = bth_off + layout.header_bytes();
  if (end < payload_off + net::kIcrcBytes) return E::kTruncatedHeaders;
  uint32_t h = bth_off + sizeof(net::Bth);
  auto take = [&h](bool present, uint16_t* field, uint32_t size) {
    if (present) {
      *field = static_cast<uint16_t>(h);
      h += size;
    }
  };
  take(layout.reth, &r.reth_offset, sizeof(net::Reth));
  take(layout.atomic_eth, &r.atomic_eth_offset, sizeof(net::AtomicEth));
  take(layout.aeth, &r.aeth_offset, sizeof(net::Aeth));
  take(layout.atomic_ack_eth, &r.atomic_ack_eth_offset, sizeof(net::AtomicAckEth));
  take(layout.immdt, &r.immdt_offset, sizeof(net::ImmDt));

  // Payload and pad.
  const uint32_t padded = end - net::kIcrcBytes - payload_off;
  const uint8_t pad = bth->pad_count();
  if (!layout.payload && (padded != 0 || pad != 0)) return E::kUnexpectedPayload;
  if ((padded & 3) != 0 || pad > padded) return E::kBadPad;

  if (options.verify_icrc && IcrcOfIpv4Datagram(ip, total) != LoadIcrc(p + end - net::kIcrcBytes)) {
    return E::kBadIcrc;
  }

  r.frame = p;
  r.frame_len = n;
  r.l3_offset = static_cast<uint16_t>(l3);
  r.l4_offset = static_cast<uint16_t>(l4);
  r.bth_offset = static_cast<uint16_t>(bth_off);
  r.payload_offset = payload_off;
  r.payload_len = padded - pad;
  r.datagram_len = total;
  r.pad = pad;
  r.layout = layout;
  return E::kOk;
}

RoceParseError ParseRoce(const rte_mbuf* m, RocePacket* out, RoceParseOptions options) {
  return ParseRoce(std::span<const uint8_t>(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len), out,
                   options);
}

}  // namespace softfino::rdma
