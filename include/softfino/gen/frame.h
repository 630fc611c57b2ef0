// The Ethernet and IPv4 headers every generated frame starts with.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <cstdint>
#include <cstring>
#include <span>

#include "softfino/net/address.h"

namespace softfino::gen {

// Writes Ethernet (IPv4 EtherType) and an IPv4 header (no options, TTL 64,
// total length: the rest of `frame`, valid checksum) at the start of
// `frame`, which must hold both; returns the IPv4 header. Addresses in host
// order.
inline rte_ipv4_hdr* PutEthernetIpv4(std::span<uint8_t> frame, const net::MacAddress& src_mac,
                                     const net::MacAddress& dst_mac, uint32_t src_ip,
                                     uint32_t dst_ip, uint8_t proto) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame.data());
  std::memcpy(&eth->src_addr, src_mac.data(), 6);
  std::memcpy(&eth->dst_addr, dst_mac.data(), 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  *ip = {};
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(frame.size() - sizeof(rte_ether_hdr)));
  ip->time_to_live = 64;
  ip->next_proto_id = proto;
  ip->src_addr = rte_cpu_to_be_32(src_ip);
  ip->dst_addr = rte_cpu_to_be_32(dst_ip);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  return ip;
}

}  // namespace softfino::gen
