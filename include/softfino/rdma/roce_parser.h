// Parses a received frame as a RoCEv2 RC packet: Ethernet (one optional
// 802.1Q tag) | IPv4 | UDP to 4791 | BTH | extension headers by opcode |
// payload | pad | ICRC. The soft RNIC responder and the requester's ACK and
// READ-response path both start here.
//
// Fast path: no allocation, no absl::Status. A failure is one RoceParseError
// value, dense from 0, so callers count drops by reason in a plain array
// (RoceDropCounters). Checks run from the outside in, so the reason is the
// first layer that is wrong.
//
// What is not checked here, because it needs per-QP state: the P_Key, the
// destination QPN, the PSN, whether First/Middle packets carry a full MTU.
// The UDP checksum is not checked either: RoCEv2 senders set it to 0 over
// IPv4 and the ICRC covers the datagram end to end.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <span>

#include "softfino/net/reason_counters.h"
#include "softfino/net/roce.h"

namespace softfino::rdma {

enum class RoceParseError : uint8_t {
  kOk = 0,
  kNotRoce,              // not IPv4/UDP to port 4791 (other traffic, not an error)
  kIpv6Unsupported,      // RoCEv2 over IPv6: not supported yet
  kTruncatedEthernet,    // shorter than the Ethernet (and VLAN) header
  kTruncatedIpv4,        // shorter than the IPv4 header or its total length
  kBadIpv4Header,        // version != 4, IHL < 5, total length < IHL
  kBadIpv4Checksum,      // header checksum wrong (the ICRC does not cover it)
  kIpv4Fragment,         // MF set or a fragment offset: RoCEv2 never fragments
  kTruncatedUdp,         // the UDP header runs past the IPv4 datagram
  kBadUdpLength,         // UDP length != the rest of the IPv4 datagram
  kTruncatedBth,         // BTH + ICRC do not fit in the UDP payload
  kBadTransportVersion,  // BTH TVer != 0
  kBadOpcode,            // not an RC opcode (UC, UD, CNP, reserved)
  kTruncatedHeaders,     // the opcode's extension headers + ICRC do not fit
  kUnexpectedPayload,    // bytes after the headers for an opcode without payload
  kBadPad,               // payload + pad not a multiple of 4, or pad > payload
  kBadIcrc,              // ICRC mismatch
  kCount,                // number of values, for counter arrays
};
inline constexpr size_t kRoceParseErrorCount = static_cast<size_t>(RoceParseError::kCount);
// snake_case names for stats ("bad_icrc"), one per value.
const char* RoceParseErrorName(RoceParseError e);

// Drops by reason; index kOk counts packets that parsed.
using RoceDropCounters = net::ReasonCounters<RoceParseError>;

// A parsed packet: offsets into the frame it was parsed from, which must
// outlive it. Offsets of absent extension headers are 0. The header
// pointers are to packed wire structs (alignment 1), valid at any offset.
struct RocePacket {
  const uint8_t* frame = nullptr;
  uint32_t frame_len = 0;
  uint16_t l3_offset = 0;  // IPv4 header
  uint16_t l4_offset = 0;  // UDP header
  uint16_t bth_offset = 0;
  uint16_t reth_offset = 0;
  uint16_t atomic_eth_offset = 0;
  uint16_t aeth_offset = 0;
  uint16_t atomic_ack_eth_offset = 0;
  uint16_t immdt_offset = 0;
  uint32_t payload_offset = 0;  // where the payload starts (also when it is empty)
  uint32_t payload_len = 0;     // without pad and ICRC
  uint32_t datagram_len = 0;    // IPv4 total length: frame bytes after it are Ethernet padding
  uint8_t pad = 0;
  net::OpcodeLayout layout;

  net::RcOpcode opcode() const { return bth().op(); }
  const net::Bth& bth() const { return *reinterpret_cast<const net::Bth*>(frame + bth_offset); }
  const net::Reth* reth() const { return At<net::Reth>(reth_offset); }
  const net::AtomicEth* atomic_eth() const { return At<net::AtomicEth>(atomic_eth_offset); }
  const net::Aeth* aeth() const { return At<net::Aeth>(aeth_offset); }
  const net::AtomicAckEth* atomic_ack_eth() const {
    return At<net::AtomicAckEth>(atomic_ack_eth_offset);
  }
  const net::ImmDt* immdt() const { return At<net::ImmDt>(immdt_offset); }
  std::span<const uint8_t> payload() const { return {frame + payload_offset, payload_len}; }
  // The ICRC as carried (the last 4 bytes of the datagram), as a number.
  uint32_t icrc() const;
  // IPv4 addresses and UDP source port in host order, for matching a QP.
  uint32_t src_ip() const;
  uint32_t dst_ip() const;
  uint16_t udp_src_port() const;

 private:
  template <typename T>
  const T* At(uint16_t off) const {
    return off == 0 ? nullptr : reinterpret_cast<const T*>(frame + off);
  }
};

struct RoceParseOptions {
  // Off only where the ICRC was already checked (a NIC that verifies it) or
  // for tests of the layers before it.
  bool verify_icrc = true;
};

// Parses `frame` (from the Ethernet header). On kOk `*out` describes the
// packet; otherwise `*out` is unspecified.
RoceParseError ParseRoce(std::span<const uint8_t> frame, RocePacket* out,
                         RoceParseOptions options = {});
// The same on an mbuf's first segment: every RoCE packet up to a 4096 MTU
// fits in one, and one split across segments reads as truncated.
RoceParseError ParseRoce(const rte_mbuf* m, RocePacket* out, RoceParseOptions options = {});

}  // namespace softfino::rdma
