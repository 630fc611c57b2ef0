// DTA reports and NACKs (net/dta.h) as a translator receives them: any
// frame, parsed with both base-header forms and as a NACK.
//
// Invariants: a parse that fails leaves the output untouched; a parsed
// report is valid (opcode, redundancy, hop in range) and its offsets lie in
// the frame; and it round-trips: built again with BuildDtaReport from the
// fields parsed (addresses, VLAN, seqnum and flags included) and parsed
// back, it gives the same report. The same for NACKs.
#include <algorithm>
#include <cstring>
#include <vector>

#include "softfino/net/dta.h"
#include "test/fuzz/fuzz_util.h"

namespace net = softfino::net;
using net::DtaParseError;

namespace {

bool SameFields(const net::DtaReport& a, const net::DtaReport& b) {
  return a.opcode == b.opcode && a.seqnum == b.seqnum && a.immediate == b.immediate &&
         a.retransmitable == b.retransmitable && a.redundancy == b.redundancy && a.hop == b.hop &&
         a.key == b.key && a.list_id == b.list_id && a.data == b.data && a.counter == b.counter &&
         a.src_ip == b.src_ip && a.dst_ip == b.dst_ip && a.src_port == b.src_port &&
         a.l3_offset == b.l3_offset;
}

// The addresses a frame was sent with, so a rebuilt one matches it.
net::DtaAddresses AddressesOf(std::span<const uint8_t> frame, uint16_t l3_offset, uint32_t src_ip,
                              uint32_t dst_ip, uint16_t src_port) {
  net::DtaAddresses a;
  std::memcpy(a.dst_mac.data(), frame.data(), 6);
  std::memcpy(a.src_mac.data(), frame.data() + 6, 6);
  a.src_ip = src_ip;
  a.dst_ip = dst_ip;
  a.src_port = src_port;
  a.tos = frame[l3_offset + 1];
  a.ttl = frame[l3_offset + 8];
  a.vlan = l3_offset == 18;
  if (a.vlan) a.vlan_tci = static_cast<uint16_t>(frame[14] << 8 | frame[15]);
  return a;
}

void CheckReport(std::span<const uint8_t> frame, net::DtaBaseForm form) {
  net::DtaReport r;
  r.key = 0x5a5a5a5a;  // a sentinel: a failed parse must leave it
  const DtaParseError e = net::ParseDtaReport(frame, form, &r);
  FUZZ_CHECK(static_cast<size_t>(e) < net::kDtaParseErrorCount);
  if (e != DtaParseError::kOk) {
    FUZZ_CHECK(r.key == 0x5a5a5a5a);
    return;
  }
  FUZZ_CHECK(net::DtaPrimitiveBytes(r.opcode) != 0);
  FUZZ_CHECK(r.l3_offset < r.l4_offset && r.l4_offset < r.base_offset &&
             r.base_offset < r.primitive_offset);
  FUZZ_CHECK(r.primitive_offset + net::DtaPrimitiveBytes(r.opcode) <= frame.size());
  FUZZ_CHECK(uint32_t{r.primitive_offset} - r.base_offset == net::DtaBaseBytes(form));
  if (r.opcode == net::DtaOpcode::kKeyWrite || r.opcode == net::DtaOpcode::kKeyIncrement) {
    FUZZ_CHECK(r.redundancy >= net::kDtaMinRedundancy && r.redundancy <= net::kDtaMaxRedundancy);
  }
  if (r.opcode == net::DtaOpcode::kPostcarding) {
    FUZZ_CHECK(r.hop >= net::kDtaMinHop && r.hop <= net::kDtaMaxHop);
  }

  const net::DtaAddresses a = AddressesOf(frame, r.l3_offset, r.src_ip, r.dst_ip, r.src_port);
  std::vector<uint8_t> rebuilt(256);
  const size_t n = net::BuildDtaReport(rebuilt, a, form, r);
  FUZZ_CHECK(n == net::DtaReportFrameBytes(form, r.opcode, a.vlan));
  net::DtaReport back;
  FUZZ_CHECK(net::ParseDtaReport(std::span(rebuilt.data(), n), form, &back) == DtaParseError::kOk);
  FUZZ_CHECK(SameFields(r, back));
}

void CheckNack(std::span<const uint8_t> frame) {
  net::DtaNack k;
  k.seqnum = 0xa5;
  const DtaParseError e = net::ParseDtaNack(frame, &k);
  FUZZ_CHECK(static_cast<size_t>(e) < net::kDtaParseErrorCount);
  if (e != DtaParseError::kOk) {
    FUZZ_CHECK(k.seqnum == 0xa5);
    return;
  }
  FUZZ_CHECK(k.l3_offset < k.nack_offset && k.nack_offset + 2u <= frame.size());
  const net::DtaAddresses a = AddressesOf(frame, k.l3_offset, k.src_ip, k.dst_ip, k.src_port);
  std::vector<uint8_t> rebuilt(256);
  const size_t n = net::BuildDtaNack(rebuilt, a, k);
  FUZZ_CHECK(n == net::DtaNackFrameBytes(a.vlan));
  net::DtaNack back;
  FUZZ_CHECK(net::ParseDtaNack(std::span(rebuilt.data(), n), &back) == DtaParseError::kOk);
  FUZZ_CHECK(back.seqnum == k.seqnum && back.nack == k.nack && back.src_ip == k.src_ip &&
             back.dst_ip == k.dst_ip && back.src_port == k.src_port &&
             back.l3_offset == k.l3_offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so ASan sees any read past the frame.
  const std::vector<uint8_t> frame(data, data + size);
  CheckReport(frame, net::DtaBaseForm::kThreeByte);
  CheckReport(frame, net::DtaBaseForm::kTwoByte);
  CheckNack(frame);
  FUZZ_CHECK(std::equal(frame.begin(), frame.end(), data));  // parsers never write
  return 0;
}
