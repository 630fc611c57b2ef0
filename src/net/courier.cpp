#include "softfino/net/courier.h"

namespace softfino::net {

namespace {

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Load32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

}  // namespace

CourierParse ParseCourier(std::span<const uint8_t> frame, CourierEntry& e) {
  const uint8_t* p = frame.data();
  size_t left = frame.size();
  if (left < 14) return CourierParse::kNotCourier;
  uint16_t ether_type = Load16(p + 12);
  p += 14;
  left -= 14;
  if (ether_type == 0x8100) {
    if (left < 4) return CourierParse::kNotCourier;
    ether_type = Load16(p + 2);
    p += 4;
    left -= 4;
  }
  if (ether_type != 0x0800 || left < 20 || p[0] >> 4 != 4) return CourierParse::kNotCourier;
  const size_t ihl = (p[0] & 0xfu) * 4u;
  // A fragment's UDP header is not where it seems: only first fragments count.
  if (ihl < 20 || left < ihl + 8 || p[9] != 17 || (Load16(p + 6) & 0x1fff) != 0) {
    return CourierParse::kNotCourier;
  }
  p += ihl;
  left -= ihl;
  if (Load16(p + 2) != kCourierUdpPort) return CourierParse::kNotCourier;
  p += 8;
  left -= 8;
  if (left < kCourierPayloadBytes) return CourierParse::kTruncated;
  e.seq = Load32(p);
  e.src_ip = Load32(p + 4);
  e.dst_ip = Load32(p + 8);
  e.src_port = Load16(p + 12);
  e.dst_port = Load16(p + 14);
  e.proto = p[16];
  e.egress_port = Load16(p + 18);
  e.enq_tstamp = Load32(p + 20);
  e.deq_tstamp = Load32(p + 24);
  e.enq_qdepth = Load32(p + 28);
  e.deq_qdepth = Load32(p + 32);
  e.pkt_length = Load16(p + 36);
  return CourierParse::kCourier;
}

}  // namespace softfino::net
