// BurstRadar's courier packets (net/courier.h ParseCourier) as the monitor
// and softfino-ctl couriers read them: any frame.
//
// Invariants: nothing past the frame is read (ASan, exact-size copy); a
// courier is IPv4/UDP to port 9393 whose 40-byte entry the parser decoded
// from right after the UDP header (checked against a plain decode here);
// kTruncated only for UDP to 9393.
#include <cstring>
#include <vector>

#include "softfino/net/courier.h"
#include "test/fuzz/fuzz_util.h"

namespace net = softfino::net;

namespace {
uint32_t Be(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> frame(data, data + size);
  net::CourierEntry e;
  const net::CourierParse r = net::ParseCourier(frame, e);
  if (r == net::CourierParse::kNotCourier) return 0;
  // Where the UDP header must be, found independently.
  FUZZ_CHECK(size >= 14 + 20 + 8);
  size_t l3 = 14;
  if (Be(data + 12, 2) == 0x8100) l3 = 18;
  FUZZ_CHECK(Be(data + l3 - 2, 2) == 0x0800);
  FUZZ_CHECK(data[l3] >> 4 == 4 && data[l3 + 9] == 17);
  const size_t l4 = l3 + (data[l3] & 0xf) * 4u;
  FUZZ_CHECK(l4 + 8 <= size);
  FUZZ_CHECK(Be(data + l4 + 2, 2) == net::kCourierUdpPort);
  if (r == net::CourierParse::kTruncated) {
    FUZZ_CHECK(size - l4 - 8 < net::kCourierPayloadBytes);
    return 0;
  }
  const uint8_t* p = data + l4 + 8;
  FUZZ_CHECK(l4 + 8 + net::kCourierPayloadBytes <= size);
  FUZZ_CHECK(e.seq == Be(p, 4) && e.src_ip == Be(p + 4, 4) && e.dst_ip == Be(p + 8, 4));
  FUZZ_CHECK(e.src_port == Be(p + 12, 2) && e.dst_port == Be(p + 14, 2) && e.proto == p[16]);
  FUZZ_CHECK(e.egress_port == Be(p + 18, 2) && e.enq_tstamp == Be(p + 20, 4));
  FUZZ_CHECK(e.deq_tstamp == Be(p + 24, 4) && e.enq_qdepth == Be(p + 28, 4));
  FUZZ_CHECK(e.deq_qdepth == Be(p + 32, 4) && e.pkt_length == Be(p + 36, 2));
  return 0;
}
