// The common packet parser (pipe/parser.h ParseL3) on any frame. The first
// input byte says how much of the frame is in the first segment, as a chained
// mbuf would have it; the rest is the frame. Only that segment is in the
// buffer handed over, so ASan catches any read past it.
//
// Invariants: the parser writes nothing into the packet; an accepted header
// lies inside the segment, its lengths fit the frame, an accepted IPv4
// header's checksum is valid and its version/IHL what they must be.
#include <rte_ip.h>

#include <cstring>
#include <vector>

#include "softfino/pipe/parser.h"
#include "test/fuzz/fuzz_util.h"

using softfino::pipe::DropReason;
using softfino::pipe::L3Type;
using softfino::pipe::ParsedHeaders;
using softfino::pipe::ParseL3;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint32_t len = static_cast<uint32_t>(size - 1);
  // 0: the whole frame is contiguous; otherwise a prefix of it.
  const uint32_t contiguous = data[0] == 0 ? len : std::min<uint32_t>(len, data[0]);
  std::vector<uint8_t> segment(data + 1, data + 1 + contiguous);
  const std::vector<uint8_t> before = segment;

  ParsedHeaders h;
  const DropReason r = ParseL3(segment.data(), contiguous, len, h);
  FUZZ_CHECK(segment == before);
  if (r != DropReason::kNone) return 0;

  FUZZ_CHECK(contiguous >= softfino::pipe::kEthernetHeaderLength);
  FUZZ_CHECK(reinterpret_cast<uint8_t*>(h.eth) == segment.data());
  const uint32_t readable = contiguous - softfino::pipe::kEthernetHeaderLength;
  const uint32_t avail = len - softfino::pipe::kEthernetHeaderLength;
  const uint8_t* l3 = segment.data() + softfino::pipe::kEthernetHeaderLength;
  FUZZ_CHECK(h.l3_length <= avail);
  if (h.l3_type == L3Type::kIpv4) {
    FUZZ_CHECK(reinterpret_cast<const uint8_t*>(h.ipv4) == l3);
    const uint32_t ihl = (l3[0] & 0x0f) * 4u;
    FUZZ_CHECK((l3[0] >> 4) == 4);
    FUZZ_CHECK(ihl >= 20 && ihl <= readable);
    FUZZ_CHECK(h.l3_length >= ihl);
    FUZZ_CHECK(h.l3_length == (uint32_t{l3[2]} << 8 | l3[3]));
    // The one's complement sum, computed here byte-wise, not with DPDK's.
    uint32_t sum = 0;
    for (uint32_t i = 0; i < ihl; i += 2) sum += uint32_t{l3[i]} << 8 | l3[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    FUZZ_CHECK(sum == 0xffff);
  } else {
    FUZZ_CHECK(h.l3_type == L3Type::kIpv6);
    FUZZ_CHECK(reinterpret_cast<const uint8_t*>(h.ipv6) == l3);
    FUZZ_CHECK(readable >= 40);
    FUZZ_CHECK((l3[0] >> 4) == 6);
    FUZZ_CHECK(h.l3_length == 40 + (uint32_t{l3[4]} << 8 | l3[5]));
  }
  return 0;
}
