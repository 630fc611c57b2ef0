// BurstRadar's courier packet (pipelines/burstradar/README.md, "Courier
// format"): Ethernet | IPv4 | UDP to port 9393 | 40 bytes of one ring
// entry, big endian. The monitor reads these; softfino-ctl couriers decodes
// a pcap of them. Byte-wise loads only, no DPDK: the decoder runs anywhere.
#pragma once

#include <cstdint>
#include <span>

namespace softfino::net {

inline constexpr uint16_t kCourierUdpPort = 9393;
inline constexpr uint32_t kCourierPayloadBytes = 40;

// One ring entry as a courier carries it (host order).
struct CourierEntry {
  uint32_t seq = 0;  // the mark's number in its pipe; gaps are overwritten entries
  uint32_t src_ip = 0, dst_ip = 0;
  uint16_t src_port = 0, dst_port = 0;
  uint8_t proto = 0;
  uint16_t egress_port = 0;
  uint32_t enq_tstamp = 0, deq_tstamp = 0;  // ns, wrap at 32 bits
  uint32_t enq_qdepth = 0, deq_qdepth = 0;  // 80-byte cells
  uint16_t pkt_length = 0;
};

enum class CourierParse {
  kCourier,
  kNotCourier,  // not IPv4/UDP to kCourierUdpPort: other traffic on the monitor port
  kTruncated,   // UDP to kCourierUdpPort, but too short to hold an entry
};

// Reads the entry of an Ethernet frame (one optional 802.1Q tag, IPv4 with
// any options). Never reads past `frame`.
CourierParse ParseCourier(std::span<const uint8_t> frame, CourierEntry& entry);

}  // namespace softfino::net
