// RoCEv2's invariant CRC (ICRC; InfiniBand Architecture Specification vol. 1,
// Annex A17 "RoCEv2", A17.4.3.1): CRC-32 (the standard reflected CRC-32,
// CRC-32/ISO-HDLC) over
//   8 bytes of 0xff (a pseudo LRH: RoCEv2 has no LRH, IB's ICRC covers one)
//   ++ the IPv4 header with TOS, TTL and header checksum set to all ones
//   ++ the UDP header with its checksum set to all ones
//   ++ the BTH with byte 4 (FECN, BECN, reserved) set to all ones
//   ++ the rest of the BTH, the extension headers and the payload incl. pad,
// i.e. everything a router may rewrite is masked. The ICRC is the last 4
// bytes of the IP datagram; on the wire it is the CRC value least significant
// byte first (as Linux rxe stores it and scapy.contrib.roce packs it:
// struct.pack("!I", crc)[::-1]).
//
// Only IPv4 is supported; RoCEv2 over IPv6 masks other fields (traffic
// class, flow label, hop limit) and is not implemented yet: the frame-level
// functions answer kIpv6Unsupported for it.
//
// Two engines compute it. On x86 with PCLMULQDQ (every x86-64 server CPU
// since 2010) the fold engine reads the datagram in place and masks in
// registers; elsewhere the portable one runs DPDK's rte_net_crc over a
// masked copy. IcrcOfIpv4Datagram picks the fold engine when the CPU has it.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <span>

namespace softfino::rdma {

// Why an ICRC could not be computed, or did not match.
enum class IcrcStatus : uint8_t {
  kOk = 0,
  kMismatch,         // Verify: the carried ICRC is not the computed one
  kNotIpv4,          // the Ethernet type is neither IPv4 nor IPv6
  kIpv6Unsupported,  // RoCEv2 over IPv6 is not supported yet
  kTruncated,        // headers, ICRC or the IPv4 total length run past the frame
  kMultiSegment,     // a chained mbuf (only single-segment mbufs are handled)
};
const char* IcrcStatusName(IcrcStatus status);

// The ICRC of the RoCEv2 packet whose IPv4 header is at `ip` and whose IP
// datagram (the IPv4 total length, ICRC included) is `datagram_len` bytes.
// No checks: the caller (ParseRoce, the builders) has made sure that the
// IPv4 header (IHL >= 5), the UDP header, the BTH and the 4 ICRC bytes lie
// within `datagram_len`.
uint32_t IcrcOfIpv4Datagram(const uint8_t* ip, uint32_t datagram_len);

// The engines by name, for tests that check each against a naive CRC.
enum class IcrcEngine : uint8_t { kFold, kPortable };
bool IcrcEngineAvailable(IcrcEngine engine);
uint32_t IcrcOfIpv4DatagramBy(IcrcEngine engine, const uint8_t* ip, uint32_t datagram_len);

// The ICRC as the 4 wire bytes at `p`, and back.
inline void StoreIcrc(uint8_t* p, uint32_t icrc) {
  p[0] = static_cast<uint8_t>(icrc);
  p[1] = static_cast<uint8_t>(icrc >> 8);
  p[2] = static_cast<uint8_t>(icrc >> 16);
  p[3] = static_cast<uint8_t>(icrc >> 24);
}
inline uint32_t LoadIcrc(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// Frame-level: `frame` starts at the Ethernet header (one 802.1Q tag
// allowed). The datagram ends where the IPv4 total length says, so Ethernet
// padding after it is ignored. Only the lengths are checked, not the UDP
// port or the opcode: ParseRoce does that.
IcrcStatus ComputeIcrc(std::span<const uint8_t> frame, uint32_t* icrc);
IcrcStatus VerifyIcrc(std::span<const uint8_t> frame);
// Computes the ICRC and stores it in the datagram's last 4 bytes.
IcrcStatus WriteIcrc(std::span<uint8_t> frame);

// The same on an mbuf's data; single-segment mbufs only (kMultiSegment
// otherwise): every mbuf the switch builds or receives at RoCE sizes is one.
IcrcStatus ComputeIcrc(const rte_mbuf* m, uint32_t* icrc);
IcrcStatus VerifyIcrc(const rte_mbuf* m);
IcrcStatus WriteIcrc(rte_mbuf* m);

}  // namespace softfino::rdma
