// The headers a TEA NF reads and rewrites: IPv4 and the TCP or UDP ports,
// and the flow key TEA's tables use (tea/key.h's 5-tuple form), taken
// straight from the packet's bytes (they are already in network order).
#pragma once

#include <netinet/in.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "softfino/net/checksum.h"
#include "softfino/pipe/drop_reason.h"
#include "softfino/pipe/parser.h"
#include "softfino/tea/key.h"

namespace softfino::pipelines {

struct FlowHeaders {
  rte_ipv4_hdr* ip = nullptr;
  uint8_t* l4 = nullptr;     // the ports, then the checksum at l4_checksum
  uint32_t l4_checksum = 0;  // offset of the L4 checksum from l4
  bool udp = false;
};

// IPv4 TCP or UDP, unfragmented, with the L4 header in the first segment;
// anything else is kTeaUnsupported (or the parser's reason).
inline pipe::DropReason ParseFlow(rte_mbuf* m, FlowHeaders& out) {
  pipe::ParsedHeaders hdr;
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const pipe::DropReason parsed = pipe::ParseL3(frame, m->data_len, m->pkt_len, hdr);
  if (parsed != pipe::DropReason::kNone) return parsed;
  if (hdr.l3_type != pipe::L3Type::kIpv4) return pipe::DropReason::kTeaUnsupported;
  rte_ipv4_hdr* ip = hdr.ipv4;
  // A fragment's ports are in its first fragment only.
  if ((rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))) {
    return pipe::DropReason::kTeaUnsupported;
  }
  const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
  const bool udp = ip->next_proto_id == IPPROTO_UDP;
  if (!udp && ip->next_proto_id != IPPROTO_TCP) return pipe::DropReason::kTeaUnsupported;
  const uint32_t l4_min = udp ? 8 : 20;
  if (hdr.l3_length < ihl + l4_min || m->data_len < pipe::kEthernetHeaderLength + ihl + l4_min) {
    return pipe::DropReason::kTeaUnsupported;
  }
  out.ip = ip;
  out.l4 = reinterpret_cast<uint8_t*>(ip) + ihl;
  out.udp = udp;
  out.l4_checksum = udp ? 6 : 16;
  return pipe::DropReason::kNone;
}

// A key from its parts as they lie in the packet (network order): two
// 8-byte words, because its hash reads it back 8 bytes at a time and a load
// that spans narrower stores still in flight waits for them to reach the
// cache (a store-forwarding stall: 19% of tea_nat's Ingress when the key
// was written field by field).
inline tea::Key KeyOfWords(uint32_t first_addr, uint32_t second_addr, uint32_t ports,
                           uint8_t proto) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "words in memory order");
  const uint64_t words[2] = {uint64_t{first_addr} | uint64_t{second_addr} << 32,
                             uint64_t{ports} | uint64_t{proto} << 32};
  tea::Key k;
  std::memcpy(k.data(), words, sizeof(words));
  return k;
}

// The flow's key: source and destination address, ports, protocol.
inline tea::Key FlowKey(const FlowHeaders& h) {
  uint32_t ports;
  std::memcpy(&ports, h.l4, 4);  // source and destination port
  return KeyOfWords(h.ip->src_addr, h.ip->dst_addr, ports, h.ip->next_proto_id);
}

// The key of the flow's replies: the 5-tuple with source and destination
// (address and port) swapped.
inline tea::Key ReplyFlowKey(const FlowHeaders& h) {
  uint32_t ports;
  std::memcpy(&ports, h.l4, 4);
  return KeyOfWords(h.ip->dst_addr, h.ip->src_addr, ports >> 16 | ports << 16,  // ports swapped
                    h.ip->next_proto_id);
}

// Sets the source (or destination) address and port to `ip` and `port`
// (host order), updating the IPv4 header checksum and the TCP/UDP checksum
// incrementally (RFC 1624): the L4 checksum covers the addresses through
// its pseudo-header. A UDP checksum of 0 (none) stays 0. Always inline:
// it runs for every translated packet, and GCC kept it a call.
[[gnu::always_inline]] inline void RewriteEndpoint(const FlowHeaders& h, bool source, uint32_t ip,
                                                   uint16_t port) {
  // Byte pointers: the headers are packed structs at any alignment.
  uint8_t* addr = reinterpret_cast<uint8_t*>(h.ip) + (source ? 12 : 16);
  uint8_t* l4_port = h.l4 + (source ? 0 : 2);
  uint16_t l4_sum;
  std::memcpy(&l4_sum, h.l4 + h.l4_checksum, 2);
  const bool l4_sum_on = !(h.udp && l4_sum == 0);
  const rte_be32_t new_ip = rte_cpu_to_be_32(ip);
  const rte_be16_t new_port = rte_cpu_to_be_16(port);
  uint16_t new_words[2], old_words[2], old_port;
  std::memcpy(new_words, &new_ip, 4);
  std::memcpy(old_words, addr, 4);
  std::memcpy(&old_port, l4_port, 2);
  // The address is in the IPv4 header's checksum and, through the pseudo
  // header, in TCP's and UDP's; the port only in theirs.
  const uint32_t ip_change =
      net::WordChange(old_words[0], new_words[0]) + net::WordChange(old_words[1], new_words[1]);
  const uint16_t ip_sum = net::ChecksumUpdate(h.ip->hdr_checksum, ip_change);
  l4_sum = net::ChecksumUpdate(l4_sum, ip_change + net::WordChange(old_port, new_port));
  std::memcpy(addr, &new_ip, 4);
  std::memcpy(l4_port, &new_port, 2);
  h.ip->hdr_checksum = ip_sum;
  if (l4_sum_on) {
    if (h.udp && l4_sum == 0) l4_sum = 0xffff;  // 0 would mean "no checksum"
    std::memcpy(h.l4 + h.l4_checksum, &l4_sum, 2);
  }
}

}  // namespace softfino::pipelines
