// The RoCEv2 parser (rdma/roce_parser.h) on any frame, with and without
// the ICRC check. ICRC verification would stop nearly every mutated frame
// at the last step, so the frame is also parsed with it off, which reaches
// every layer before it.
//
// Invariants: everything a parsed packet points at lies inside the frame
// and inside the IPv4 datagram, in header order; the headers present are
// exactly those the opcode's layout names; payload + pad + ICRC end the
// datagram; a frame that parses with the check off parses with it on once
// its ICRC is rewritten (WriteIcrc and the verifier agree), and a frame
// that parses with it on carries the ICRC ComputeIcrc gives.
#include <algorithm>
#include <cstring>
#include <vector>

#include "softfino/net/roce.h"
#include "softfino/rdma/icrc.h"
#include "softfino/rdma/roce_parser.h"
#include "test/fuzz/fuzz_util.h"

namespace net = softfino::net;
namespace rdma = softfino::rdma;
using rdma::RoceParseError;

namespace {

void CheckPacket(const rdma::RocePacket& p, std::span<const uint8_t> frame) {
  FUZZ_CHECK(p.frame == frame.data() && p.frame_len == frame.size());
  FUZZ_CHECK(p.l3_offset == 14 || p.l3_offset == 18);
  const uint32_t datagram_end = p.l3_offset + p.datagram_len;
  FUZZ_CHECK(datagram_end <= frame.size());
  FUZZ_CHECK(p.l4_offset >= p.l3_offset + 20u && p.l4_offset + 8u == p.bth_offset);
  FUZZ_CHECK(p.layout.valid);
  const net::OpcodeLayout want = net::LayoutOf(p.opcode());
  FUZZ_CHECK(want.valid);
  FUZZ_CHECK((p.reth_offset != 0) == want.reth);
  FUZZ_CHECK((p.atomic_eth_offset != 0) == want.atomic_eth);
  FUZZ_CHECK((p.aeth_offset != 0) == want.aeth);
  FUZZ_CHECK((p.atomic_ack_eth_offset != 0) == want.atomic_ack_eth);
  FUZZ_CHECK((p.immdt_offset != 0) == want.immdt);
  FUZZ_CHECK(p.bth_offset + want.header_bytes() == p.payload_offset);
  FUZZ_CHECK(want.payload || p.payload_len == 0);
  FUZZ_CHECK(p.pad == p.bth().pad_count());
  FUZZ_CHECK(p.payload_offset + p.payload_len + p.pad + net::kIcrcBytes == datagram_end);
  FUZZ_CHECK(p.bth().tver() == 0);
  // Touch every byte the packet exposes, so ASan checks the bounds too.
  uint32_t sum = 0;
  for (uint8_t b : p.payload()) sum += b;
  (void)sum;
  (void)p.icrc();
  (void)p.src_ip();
  (void)p.udp_src_port();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> frame(data, data + size);  // exact size: ASan sees overreads

  rdma::RocePacket p;
  const RoceParseError checked = rdma::ParseRoce(frame, &p);
  FUZZ_CHECK(static_cast<size_t>(checked) < rdma::kRoceParseErrorCount);
  if (checked == RoceParseError::kOk) {
    CheckPacket(p, frame);
    uint32_t icrc = 0;
    FUZZ_CHECK(rdma::ComputeIcrc(frame, &icrc) == rdma::IcrcStatus::kOk);
    FUZZ_CHECK(icrc == p.icrc());
  }

  rdma::RocePacket q;
  const RoceParseError unchecked = rdma::ParseRoce(frame, &q, {.verify_icrc = false});
  FUZZ_CHECK(std::equal(frame.begin(), frame.end(), data));  // parsers never write
  // The ICRC is the last check: with it off, the same frames get as far.
  if (checked == RoceParseError::kOk || checked == RoceParseError::kBadIcrc) {
    FUZZ_CHECK(unchecked == RoceParseError::kOk);
  } else {
    FUZZ_CHECK(unchecked == checked);
  }
  if (unchecked != RoceParseError::kOk) return 0;
  CheckPacket(q, frame);

  // Fix the ICRC up (the variant fields it masks stay as they are): now the
  // checked parse must accept it and see the same packet.
  FUZZ_CHECK(rdma::WriteIcrc(frame) == rdma::IcrcStatus::kOk);
  rdma::RocePacket r;
  FUZZ_CHECK(rdma::ParseRoce(frame, &r) == RoceParseError::kOk);
  FUZZ_CHECK(r.payload_offset == q.payload_offset && r.payload_len == q.payload_len &&
             r.datagram_len == q.datagram_len);
  return 0;
}
