// The common parser: Ethernet, then IPv4 or IPv6, with every check a router
// makes before trusting a header. Like a Tofino parser it reads only the
// headers and either extracts them or rejects the packet with a reason; it
// never touches the payload.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <cstdint>
#include <cstring>

#include "softfino/pipe/drop_reason.h"

namespace softfino::pipe {

inline constexpr uint16_t kEthernetHeaderLength = 14;

enum class L3Type : uint8_t { kNone, kIpv4, kIpv6 };

// Where the parser found things. Pointers point into the packet.
struct ParsedHeaders {
  rte_ether_hdr* eth = nullptr;
  L3Type l3_type = L3Type::kNone;
  union {
    rte_ipv4_hdr* ipv4;
    rte_ipv6_hdr* ipv6;
  };
  uint32_t l3_length = 0;  // IPv4 total length or 40 + IPv6 payload length
};

// The one's complement sum of an IPv4 header, folded to 16 bits: exactly
// rte_raw_cksum(ip, header_length). rte_raw_cksum adds one 16-bit word per
// step (about 70 instructions for 20 bytes, a fifth of l3fwd's ingress), so
// the usual header without options is added here as five 32-bit words.
// Each fold keeps the sum modulo 0xffff and a nonzero sum nonzero, so both
// give the same 16-bit value (0xffff over a valid header).
inline uint16_t Ipv4HeaderSum(const rte_ipv4_hdr* ip, uint32_t header_length) {
  if (header_length != sizeof(rte_ipv4_hdr)) return rte_raw_cksum(ip, header_length);
  // Word by word: GCC copies a 20-byte array through the stack first.
  const auto word = [ip](int i) {
    uint32_t w;
    std::memcpy(&w, reinterpret_cast<const uint8_t*>(ip) + 4 * i, 4);
    return uint64_t{w};
  };
  uint64_t sum = word(0) + word(1) + word(2) + word(3) + word(4);  // < 2^35
  sum = (sum & 0xffff) + ((sum >> 16) & 0xffff) + (sum >> 32);  // <= 0x20002
  sum = (sum & 0xffff) + (sum >> 16);                           // <= 0x10001
  sum = (sum & 0xffff) + (sum >> 16);                           // <= 0xffff
  return static_cast<uint16_t>(sum);
}

// Parses Ethernet + IPv4/IPv6 at `frame`. `contiguous` bytes can be read
// there (an mbuf's first segment); the frame is `len` bytes in all, which is
// what IP lengths are checked against, so chained jumbo frames still pass.
// Returns DropReason::kNone and fills `out`, or the reason to reject.
// Checks, in order: Ethernet length; EtherType IPv4 or IPv6; IPv4: 20 bytes,
// version, IHL >= 5, IHL*4 present, total length within [IHL*4, available],
// header checksum; IPv6: 40 bytes, version, payload length within available.
// Bytes after the IP packet are Ethernet padding and are allowed.
inline DropReason ParseL3(uint8_t* frame, uint32_t contiguous, uint32_t len, ParsedHeaders& out) {
  if (contiguous < kEthernetHeaderLength) return DropReason::kEthTruncated;
  out.eth = reinterpret_cast<rte_ether_hdr*>(frame);
  const uint32_t avail = len - kEthernetHeaderLength;
  const uint32_t readable = contiguous - kEthernetHeaderLength;  // L3 bytes in this segment
  uint8_t* l3 = frame + kEthernetHeaderLength;
  switch (out.eth->ether_type) {
    case RTE_BE16(RTE_ETHER_TYPE_IPV4): {
      if (readable < sizeof(rte_ipv4_hdr)) return DropReason::kIpv4Truncated;
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
      if ((ip->version_ihl >> 4) != 4) return DropReason::kIpv4BadVersion;
      const uint32_t header_length = (ip->version_ihl & 0x0f) * 4u;
      if (header_length < sizeof(rte_ipv4_hdr)) return DropReason::kIpv4BadIhl;
      if (header_length > readable) return DropReason::kIpv4Truncated;
      const uint32_t total_length = rte_be_to_cpu_16(ip->total_length);
      if (total_length < header_length || total_length > avail) {
        return DropReason::kIpv4BadTotalLength;
      }
      // The one's complement sum over a valid header, checksum included, is 0xffff.
      if (Ipv4HeaderSum(ip, header_length) != 0xffff) return DropReason::kIpv4BadChecksum;
      out.l3_type = L3Type::kIpv4;
      out.ipv4 = ip;
      out.l3_length = total_length;
      return DropReason::kNone;
    }
    case RTE_BE16(RTE_ETHER_TYPE_IPV6): {
      if (readable < sizeof(rte_ipv6_hdr)) return DropReason::kIpv6Truncated;
      auto* ip = reinterpret_cast<rte_ipv6_hdr*>(l3);
      if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return DropReason::kIpv6BadVersion;
      const uint32_t packet_length = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len);
      if (packet_length > avail) return DropReason::kIpv6BadPayloadLength;
      out.l3_type = L3Type::kIpv6;
      out.ipv6 = ip;
      out.l3_length = packet_length;
      return DropReason::kNone;
    }
    default:
      return DropReason::kUnknownEtherType;
  }
}

}  // namespace softfino::pipe
