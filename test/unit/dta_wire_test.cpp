// DTA report wire formats (net/dta.h) against truths written down from the
// bit layouts in REFERENCE.md, not from the code under test: whole frames
// and DTA headers as literal bytes, IPv4 checksums from a plain RFC 1071
// sum. Every parser failure reason is produced from a crafted frame, and the
// two base header forms are read as each other.
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "softfino/net/dta.h"
#include "test/unit/reference_checksum.h"

namespace softfino::net {
namespace {

using Bytes = std::vector<uint8_t>;
using E = DtaParseError;

constexpr DtaBaseForm kForms[] = {DtaBaseForm::kTwoByte, DtaBaseForm::kThreeByte};

// Hex digits to bytes; spaces only group the fields for the reader.
Bytes Hex(const std::string& spaced) {
  std::string hex;
  for (char c : spaced) {
    if (c != ' ') hex += c;
  }
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

void Set16(Bytes& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

// Recomputes the IPv4 header checksum after a test edited the header.
void FixIpChecksum(Bytes& f, size_t l3 = 14) {
  const size_t ihl = (f[l3] & 0xf) * 4;
  f[l3 + 10] = f[l3 + 11] = 0;
  Set16(f, l3 + 10, testing::ReferenceChecksum(f.data() + l3, ihl));
}

// Makes the UDP payload of an untagged frame `len` bytes long (cutting or
// appending zeros) and fixes IPv4 total length, UDP length and checksum, so
// that only the DTA layer is wrong.
Bytes WithUdpPayload(Bytes f, size_t len) {
  f.resize(14 + 20 + 8 + len, 0);
  Set16(f, 16, static_cast<uint16_t>(20 + 8 + len));
  Set16(f, 38, static_cast<uint16_t>(8 + len));
  FixIpChecksum(f);
  return f;
}

DtaAddresses TestAddresses() {
  DtaAddresses a;
  a.src_mac = {0x02, 0, 0, 0, 0, 0x01};
  a.dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  a.src_ip = RTE_IPV4(10, 0, 0, 1);
  a.dst_ip = RTE_IPV4(10, 0, 0, 2);
  a.src_port = 5000;
  return a;
}

Bytes Build(DtaBaseForm form, const DtaReport& r, const DtaAddresses& a = TestAddresses()) {
  Bytes f(128);
  const size_t n = BuildDtaReport(f, a, form, r);
  EXPECT_NE(n, 0u);
  f.resize(n);
  return f;
}

E Parse(const Bytes& f, DtaBaseForm form, DtaReport* r) {
  return ParseDtaReport(std::span<const uint8_t>(f), form, r);
}

// The DTA part of an untagged frame: everything after the UDP header.
Bytes DtaBytes(const Bytes& f) { return Bytes(f.begin() + 42, f.end()); }

DtaReport WithBase(DtaReport r, uint8_t seqnum, bool immediate, bool retransmitable) {
  r.seqnum = seqnum;
  r.immediate = immediate;
  r.retransmitable = retransmitable;
  return r;
}

void ExpectSameFields(const DtaReport& got, const DtaReport& want, DtaBaseForm form) {
  EXPECT_EQ(got.opcode, want.opcode);
  EXPECT_EQ(got.immediate, want.immediate);
  // The 2-byte form carries neither.
  const bool three = form == DtaBaseForm::kThreeByte;
  EXPECT_EQ(got.seqnum, three ? want.seqnum : 0);
  EXPECT_EQ(got.retransmitable, three && want.retransmitable);
  EXPECT_EQ(got.redundancy, want.redundancy);
  EXPECT_EQ(got.hop, want.hop);
  EXPECT_EQ(got.key, want.key);
  EXPECT_EQ(got.list_id, want.list_id);
  EXPECT_EQ(got.data, want.data);
  EXPECT_EQ(got.counter, want.counter);
}

// --- exact bytes, written from the spec's bit layout ---

TEST(DtaWire, KeyWriteThreeByteIsTheseExactBytes) {
  // Ethernet: dst 02:..:02, src 02:..:01, type 0x0800.
  // IPv4: 45 00, total 20+8+3+9 = 40 = 0x0028, ID 0, DF (0x4000), TTL 64,
  //   proto 17, checksum, 10.0.0.1 -> 10.0.0.2. The checksum by hand:
  //   4500+0028+0000+4000+4011+0a00+0001+0a00+0002 = 0xd93c, ~ = 0x26c3.
  // UDP: 5000 (0x1388) -> 40040 (0x9c68), length 8+12 = 0x0014, checksum 0.
  // Base (3-byte): opcode 01, seqnum 2a, immediate=1 retransmitable=0 -> 80.
  // Key-Write: redundancy 02, key 01020304, data aabbccdd.
  const Bytes expected =
      Hex("020000000002 020000000001 0800"
          "4500 0028 0000 4000 4011 26c3 0a000001 0a000002"
          "1388 9c68 0014 0000"
          "01 2a 80"
          "02 01020304 aabbccdd");
  ASSERT_EQ(expected.size(), 54u);
  EXPECT_EQ(testing::ReferenceChecksum(expected.data() + 14, 20), 0);  // the sum checks out

  DtaReport r = WithBase(DtaKeyWrite(2, 0x01020304, 0xaabbccdd), 0x2a, true, false);
  EXPECT_EQ(Build(DtaBaseForm::kThreeByte, r), expected);
  EXPECT_EQ(DtaReportFrameBytes(DtaBaseForm::kThreeByte, DtaOpcode::kKeyWrite, false), 54u);

  DtaReport got;
  ASSERT_EQ(Parse(expected, DtaBaseForm::kThreeByte, &got), E::kOk);
  EXPECT_EQ(got.opcode, DtaOpcode::kKeyWrite);
  EXPECT_EQ(got.seqnum, 0x2a);
  EXPECT_TRUE(got.immediate);
  EXPECT_FALSE(got.retransmitable);
  EXPECT_EQ(got.redundancy, 2);
  EXPECT_EQ(got.key, 0x01020304u);
  EXPECT_EQ(got.data, 0xaabbccddu);
  EXPECT_EQ(got.src_ip, RTE_IPV4(10, 0, 0, 1));
  EXPECT_EQ(got.dst_ip, RTE_IPV4(10, 0, 0, 2));
  EXPECT_EQ(got.src_port, 5000);
  EXPECT_EQ(got.l3_offset, 14);
  EXPECT_EQ(got.l4_offset, 34);
  EXPECT_EQ(got.base_offset, 42);
  EXPECT_EQ(got.primitive_offset, 45);
}

TEST(DtaWire, EveryPrimitiveInBothFormsIsTheseExactBytes) {
  struct Case {
    DtaBaseForm form;
    DtaReport report;
    const char* dta_hex;  // base header then primitive header
  };
  const Case cases[] = {
      // Key-Write, 2-byte: opcode 01 | immediate=0 -> 00 | redundancy 04 | key | data.
      {DtaBaseForm::kTwoByte, DtaKeyWrite(4, 0xfffffffe, 0x00000001), "01 00 04 fffffffe 00000001"},
      // 3-byte: seqnum ff, immediate=0 retransmitable=1 -> 40.
      {DtaBaseForm::kThreeByte, WithBase(DtaKeyWrite(1, 0x80000000, 0x7f), 0xff, false, true),
       "01 ff 40 01 80000000 0000007f"},
      // Append: list_id:32 data:32.
      {DtaBaseForm::kTwoByte, WithBase(DtaAppend(7, 0xdeadbeef), 0, true, false),
       "02 80 00000007 deadbeef"},
      {DtaBaseForm::kThreeByte, WithBase(DtaAppend(0x01000000, 0x00c0ffee), 0x01, true, true),
       "02 01 c0 01000000 00c0ffee"},
      // Key-Increment: redundancy:8 key:32 counter:64.
      {DtaBaseForm::kTwoByte, DtaKeyIncrement(3, 0x11223344, 0x0102030405060708ull),
       "03 00 03 11223344 0102030405060708"},
      {DtaBaseForm::kThreeByte,
       WithBase(DtaKeyIncrement(2, 0xa0b0c0d0, 0xfedcba9876543210ull), 0x80, false, false),
       "03 80 00 02 a0b0c0d0 fedcba9876543210"},
      // Postcarding: key:32 hop:8 data:32.
      {DtaBaseForm::kTwoByte, WithBase(DtaPostcard(0x0a0b0c0d, 3, 0x12345678), 0, true, false),
       "04 80 0a0b0c0d 03 12345678"},
      {DtaBaseForm::kThreeByte, WithBase(DtaPostcard(0xcafef00d, 5, 0xffffffff), 0x10, true, true),
       "04 10 c0 cafef00d 05 ffffffff"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dta_hex);
    const Bytes f = Build(c.form, c.report);
    const Bytes dta = Hex(c.dta_hex);
    EXPECT_EQ(DtaBytes(f), dta);
    EXPECT_EQ(f.size(), DtaReportFrameBytes(c.form, c.report.opcode, false));
    // IPv4 total length, UDP length and the IPv4 checksum agree with the bytes.
    EXPECT_EQ((f[16] << 8) | f[17], 28 + static_cast<int>(dta.size()));
    EXPECT_EQ((f[38] << 8) | f[39], 8 + static_cast<int>(dta.size()));
    EXPECT_EQ(testing::ReferenceChecksum(f.data() + 14, 20), 0);
    EXPECT_EQ((f[40] << 8) | f[41], 0);  // UDP checksum 0

    DtaReport got;
    ASSERT_EQ(Parse(f, c.form, &got), E::kOk);
    ExpectSameFields(got, c.report, c.form);
    EXPECT_EQ(got.primitive_offset, 42 + DtaBaseBytes(c.form));
  }
}

TEST(DtaWire, WireStructsLayOverTheBytes) {
  const Bytes kw = Hex("02 01020304 aabbccdd");
  const auto* h = reinterpret_cast<const DtaKeyWriteHeader*>(kw.data());
  EXPECT_EQ(h->redundancy, 2);
  EXPECT_EQ(h->key_value(), 0x01020304u);
  EXPECT_EQ(h->data_value(), 0xaabbccddu);
  const Bytes ki = Hex("01 00000009 8000000000000001");
  EXPECT_EQ(reinterpret_cast<const DtaKeyIncrementHeader*>(ki.data())->counter_value(),
            0x8000000000000001ull);
  const Bytes pc = Hex("00000001 05 00000002");
  EXPECT_EQ(reinterpret_cast<const DtaPostcardHeader*>(pc.data())->hop, 5);
  const Bytes b3 = Hex("03 09 c0");
  const auto* base = reinterpret_cast<const DtaBaseHeader3*>(b3.data());
  EXPECT_TRUE(base->immediate());
  EXPECT_TRUE(base->retransmitable());
  EXPECT_EQ(base->seqnum, 9);
  // The flag bits are the first bits of their byte.
  DtaBaseHeader3 only_retx{};
  only_retx.set_flags(false, true);
  EXPECT_EQ(only_retx.flags, 0x40);
  DtaNackHeader nack{};
  nack.set_flags(true);
  EXPECT_EQ(nack.flags, 0x80);
  EXPECT_EQ(DtaPrimitiveBytes(DtaOpcode::kKeyWrite), 9u);
  EXPECT_EQ(DtaPrimitiveBytes(DtaOpcode::kAppend), 8u);
  EXPECT_EQ(DtaPrimitiveBytes(DtaOpcode::kKeyIncrement), 13u);
  EXPECT_EQ(DtaPrimitiveBytes(DtaOpcode::kPostcarding), 9u);
  EXPECT_EQ(DtaPrimitiveBytes(uint8_t{0}), 0u);
  EXPECT_EQ(DtaPrimitiveBytes(uint8_t{5}), 0u);
}

TEST(DtaWire, NackIsTheseExactBytes) {
  // From 10.0.0.2:40040 back to 10.0.0.1:40044. IPv4 total 20+8+2 = 30 =
  // 0x001e; checksum 4500+001e+4000+4011+0a00+0002+0a00+0001 = 0xd932, ~ =
  // 0x26cd. NACK: seqnum 7b, nack=1 -> 80.
  DtaAddresses a = TestAddresses();
  std::swap(a.src_mac, a.dst_mac);
  std::swap(a.src_ip, a.dst_ip);
  a.src_port = kDtaReportPort;
  const Bytes expected =
      Hex("020000000001 020000000002 0800"
          "4500 001e 0000 4000 4011 26cd 0a000002 0a000001"
          "9c68 9c6c 000a 0000"
          "7b 80");
  EXPECT_EQ(testing::ReferenceChecksum(expected.data() + 14, 20), 0);
  Bytes f(64);
  DtaNack n;
  n.seqnum = 0x7b;
  n.nack = true;
  const size_t len = BuildDtaNack(f, a, n);
  ASSERT_EQ(len, expected.size());
  ASSERT_EQ(len, DtaNackFrameBytes(false));
  f.resize(len);
  EXPECT_EQ(f, expected);

  DtaNack got;
  ASSERT_EQ(ParseDtaNack(f, &got), E::kOk);
  EXPECT_EQ(got.seqnum, 0x7b);
  EXPECT_TRUE(got.nack);
  EXPECT_EQ(got.src_ip, RTE_IPV4(10, 0, 0, 2));
  EXPECT_EQ(got.src_port, kDtaReportPort);
  EXPECT_EQ(got.nack_offset, 42);

  n.nack = false;
  f.assign(64, 0);
  f.resize(BuildDtaNack(f, a, n));
  ASSERT_EQ(ParseDtaNack(f, &got), E::kOk);
  EXPECT_FALSE(got.nack);
  // A NACK is not a report, and a report is not a NACK.
  DtaReport r;
  EXPECT_EQ(Parse(f, DtaBaseForm::kTwoByte, &r), E::kNotDta);
  EXPECT_EQ(ParseDtaNack(Build(DtaBaseForm::kTwoByte, DtaAppend(1, 2)), &got), E::kNotDta);
}

// --- round trips ---

TEST(DtaWire, EveryKindRoundTripsInBothFormsWithAndWithoutVlan) {
  std::mt19937_64 gen(40040);
  for (int i = 0; i < 2000; ++i) {
    const uint32_t a32 = static_cast<uint32_t>(gen()), b32 = static_cast<uint32_t>(gen());
    const uint8_t small = static_cast<uint8_t>(gen());
    DtaReport r;
    switch (i % 4) {
      case 0:
        r = DtaKeyWrite(1 + small % 4, a32, b32);
        break;
      case 1:
        r = DtaAppend(a32, b32);
        break;
      case 2:
        r = DtaKeyIncrement(1 + small % 4, a32, gen());
        break;
      case 3:
        r = DtaPostcard(a32, 1 + small % 5, b32);
        break;
    }
    r = WithBase(r, static_cast<uint8_t>(gen()), gen() & 1, gen() & 1);
    DtaAddresses a = TestAddresses();
    a.vlan = (i / 4) % 2;
    a.vlan_tci = static_cast<uint16_t>(gen());
    a.src_ip = static_cast<uint32_t>(gen());
    a.src_port = static_cast<uint16_t>(gen());
    a.tos = static_cast<uint8_t>(gen());
    a.ttl = static_cast<uint8_t>(gen());
    const DtaBaseForm form = kForms[(i / 8) % 2];
    const Bytes f = Build(form, r, a);
    ASSERT_EQ(f.size(), DtaReportFrameBytes(form, r.opcode, a.vlan));
    const size_t l3 = a.vlan ? 18 : 14;
    ASSERT_EQ(testing::ReferenceChecksum(f.data() + l3, 20), 0);
    if (a.vlan) {
      ASSERT_EQ(f[12], 0x81);
      ASSERT_EQ(f[13], 0x00);
      ASSERT_EQ((f[14] << 8) | f[15], a.vlan_tci);
    }

    DtaReport got;
    ASSERT_EQ(Parse(f, form, &got), E::kOk) << i;
    ExpectSameFields(got, r, form);
    ASSERT_EQ(got.src_ip, a.src_ip);
    ASSERT_EQ(got.src_port, a.src_port);
    ASSERT_EQ(got.l3_offset, l3);
    ASSERT_EQ(got.primitive_offset, l3 + 28 + DtaBaseBytes(form));
    // Rebuilt from what was parsed, the frame is the same byte for byte.
    ASSERT_EQ(Build(form, got, a), f);
  }
}

TEST(DtaWire, EthernetPaddingAndIpOptionsAndReservedBitsAreAccepted) {
  const DtaReport r = WithBase(DtaAppend(1, 2), 3, true, true);
  Bytes f = Build(DtaBaseForm::kThreeByte, r);
  // A 60-byte minimum frame: padding after the IPv4 datagram is not ours.
  Bytes padded = f;
  padded.resize(60, 0xee);
  DtaReport got;
  ASSERT_EQ(Parse(padded, DtaBaseForm::kThreeByte, &got), E::kOk);
  ExpectSameFields(got, r, DtaBaseForm::kThreeByte);

  // Reserved bits are ignored on receipt (they say nothing about the form).
  Bytes reserved = f;
  reserved[44] |= 0x3f;
  ASSERT_EQ(Parse(reserved, DtaBaseForm::kThreeByte, &got), E::kOk);
  ExpectSameFields(got, r, DtaBaseForm::kThreeByte);

  // IHL 6: a 4-byte option (NOP x4) moves UDP and DTA back by 4.
  Bytes opt(f.size() + 4, 1);
  std::copy(f.begin(), f.begin() + 34, opt.begin());
  std::copy(f.begin() + 34, f.end(), opt.begin() + 38);
  opt[14] = 0x46;
  Set16(opt, 16, static_cast<uint16_t>(((f[16] << 8) | f[17]) + 4));
  FixIpChecksum(opt);
  ASSERT_EQ(Parse(opt, DtaBaseForm::kThreeByte, &got), E::kOk);
  ExpectSameFields(got, r, DtaBaseForm::kThreeByte);
  EXPECT_EQ(got.l4_offset, 38);
  EXPECT_EQ(got.primitive_offset, 49);
}

TEST(DtaWire, BuilderReturnsZeroWhenItDoesNotFit) {
  for (DtaBaseForm form : kForms) {
    for (bool vlan : {false, true}) {
      DtaAddresses a = TestAddresses();
      a.vlan = vlan;
      const DtaReport r = DtaKeyIncrement(2, 1, 2);
      const size_t need = DtaReportFrameBytes(form, r.opcode, vlan);
      Bytes f(need + 1);
      for (size_t size = 0; size < need; ++size) {
        ASSERT_EQ(BuildDtaReport(std::span<uint8_t>(f.data(), size), a, form, r), 0u) << size;
      }
      EXPECT_EQ(BuildDtaReport(std::span<uint8_t>(f.data(), need), a, form, r), need);
      EXPECT_EQ(BuildDtaReport(f, a, form, r), need);
    }
  }
  Bytes f(64);
  for (size_t size = 0; size < DtaNackFrameBytes(false); ++size) {
    ASSERT_EQ(BuildDtaNack(std::span<uint8_t>(f.data(), size), TestAddresses(), DtaNack{}), 0u);
  }
  // Not a primitive: nothing to build.
  DtaReport bad;
  bad.opcode = static_cast<DtaOpcode>(0x05);
  EXPECT_EQ(BuildDtaReport(f, TestAddresses(), DtaBaseForm::kThreeByte, bad), 0u);
}

TEST(DtaWire, ParsesAnMbuf) {
  static rte_mempool* pool =
      rte_pktmbuf_pool_create("dta_wire_test", 64, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  ASSERT_NE(pool, nullptr);
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  ASSERT_NE(m, nullptr);
  const DtaReport r = WithBase(DtaPostcard(0x1234, 2, 0x5678), 9, false, true);
  const Bytes f = Build(DtaBaseForm::kThreeByte, r);
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
  DtaReport got;
  EXPECT_EQ(ParseDtaReport(m, DtaBaseForm::kThreeByte, &got), E::kOk);
  ExpectSameFields(got, r, DtaBaseForm::kThreeByte);
  rte_pktmbuf_free(m);
}

// --- every parse error ---

TEST(DtaWire, EveryParseErrorFromACraftedFrame) {
  const DtaBaseForm form = DtaBaseForm::kThreeByte;
  const Bytes good = Build(form, DtaKeyWrite(2, 0x01020304, 0xaabbccdd));
  const Bytes nack = [] {
    Bytes f(64);
    f.resize(BuildDtaNack(f, TestAddresses(), DtaNack{}));
    return f;
  }();
  std::set<E> seen;
  auto expect = [&](const Bytes& f, E want, const char* what, bool as_nack = false) {
    DtaReport r;
    r.key = 0x5a5a5a5a;
    DtaNack n;
    const E got = as_nack ? ParseDtaNack(f, &n) : Parse(f, form, &r);
    EXPECT_EQ(got, want) << what << ": got " << DtaParseErrorName(got);
    if (!as_nack && got != E::kOk) {
      EXPECT_EQ(r.key, 0x5a5a5a5au) << what << ": out written";
    }
    seen.insert(got);
  };
  expect(good, E::kOk, "good");

  expect(Bytes(good.begin(), good.begin() + 13), E::kTruncatedEthernet, "13 bytes");
  Bytes vlan_only = Hex("020000000002 020000000001 8100 00");
  expect(vlan_only, E::kTruncatedEthernet, "VLAN tag cut");

  Bytes arp = good;
  Set16(arp, 12, 0x0806);
  expect(arp, E::kNotDta, "ARP");
  Bytes ipv6 = good;
  Set16(ipv6, 12, 0x86dd);
  expect(ipv6, E::kNotDta, "IPv6");
  Bytes tcp = good;
  tcp[23] = 6;
  FixIpChecksum(tcp);
  expect(tcp, E::kNotDta, "TCP");
  Bytes other_port = good;
  Set16(other_port, 36, 40041);
  expect(other_port, E::kNotDta, "UDP to 40041");
  Bytes to_nack_port = good;
  Set16(to_nack_port, 36, kDtaNackPort);
  expect(to_nack_port, E::kNotDta, "report sent to the NACK port");

  expect(Bytes(good.begin(), good.begin() + 14 + 19), E::kTruncatedIpv4, "19 IPv4 bytes");
  expect(Bytes(good.begin(), good.end() - 1), E::kTruncatedIpv4, "datagram cut");
  Bytes long_ihl = good;
  long_ihl[14] = 0x4f;  // 60-byte header: passes the total-length check, not the frame's
  Set16(long_ihl, 16, 60);
  expect(Bytes(long_ihl.begin(), long_ihl.begin() + 14 + 40), E::kTruncatedIpv4, "IHL past frame");

  Bytes v6 = good;
  v6[14] = 0x65;
  FixIpChecksum(v6);
  expect(v6, E::kBadIpv4Header, "version 6");
  Bytes ihl4 = good;
  ihl4[14] = 0x44;
  expect(ihl4, E::kBadIpv4Header, "IHL 4");
  Bytes short_total = good;
  Set16(short_total, 16, 19);
  FixIpChecksum(short_total);
  expect(short_total, E::kBadIpv4Header, "total length < IHL");

  Bytes bad_sum = good;
  bad_sum[24] ^= 0x01;
  expect(bad_sum, E::kBadIpv4Checksum, "checksum");
  Bytes ttl = good;
  ttl[22] = 63;  // a router that forgot the checksum
  expect(ttl, E::kBadIpv4Checksum, "TTL changed");

  Bytes mf = good;
  Set16(mf, 20, 0x2000);
  FixIpChecksum(mf);
  expect(mf, E::kIpv4Fragment, "MF");
  Bytes later = good;
  Set16(later, 20, 0x0001);
  FixIpChecksum(later);
  expect(later, E::kIpv4Fragment, "offset 8");

  Bytes udp_cut = good;
  Set16(udp_cut, 16, 20 + 7);
  FixIpChecksum(udp_cut);
  expect(udp_cut, E::kTruncatedUdp, "7 UDP bytes");

  Bytes udp_len = good;
  Set16(udp_len, 38, 8 + 11);
  expect(udp_len, E::kBadUdpLength, "UDP length short");
  Set16(udp_len, 38, 8 + 13);
  expect(udp_len, E::kBadUdpLength, "UDP length long");

  expect(WithUdpPayload(good, 0), E::kTruncatedBase, "no DTA bytes");
  expect(WithUdpPayload(good, 2), E::kTruncatedBase, "2 of 3 base bytes");

  for (uint8_t op : {0x00, 0x05, 0x81, 0xff}) {
    Bytes f = good;
    f[42] = op;
    expect(f, E::kBadOpcode, "opcode");
  }

  expect(WithUdpPayload(good, 3), E::kTruncatedPrimitive, "base only");
  expect(WithUdpPayload(good, 11), E::kTruncatedPrimitive, "primitive cut by one");
  expect(WithUdpPayload(good, 13), E::kTrailingBytes, "one byte too many");
  expect(WithUdpPayload(good, 100), E::kTrailingBytes, "payload after the primitive");

  for (uint8_t red : {0, 5, 255}) {
    Bytes kw = good;
    kw[45] = red;
    expect(kw, E::kBadRedundancy, "Key-Write redundancy");
    Bytes ki = Build(form, DtaKeyIncrement(1, 1, 1));
    ki[45] = red;
    expect(ki, E::kBadRedundancy, "Key-Increment redundancy");
  }
  for (uint8_t hop : {0, 6, 255}) {
    Bytes pc = Build(form, DtaPostcard(1, 1, 1));
    pc[45 + 4] = hop;
    expect(pc, E::kBadHop, "hop");
  }
  // Append has no ranged field: every list id and data value is fine.
  expect(Build(form, DtaAppend(0xffffffff, 0)), E::kOk, "append");

  expect(nack, E::kOk, "good NACK", true);
  expect(WithUdpPayload(nack, 1), E::kTruncatedNack, "1 NACK byte", true);
  expect(WithUdpPayload(nack, 3), E::kTrailingBytes, "3 NACK bytes", true);
  expect(good, E::kNotDta, "report parsed as NACK", true);

  // Every reason was produced, so a drop counter can show each of them.
  EXPECT_EQ(seen.size(), kDtaParseErrorCount);
}

TEST(DtaWire, ParseErrorNamesAreDistinctSnakeCase) {
  std::set<std::string> names;
  for (size_t i = 0; i < kDtaParseErrorCount; ++i) {
    const std::string name = DtaParseErrorName(static_cast<E>(i));
    EXPECT_NE(name, "unknown");
    for (char c : name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
    }
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kDtaParseErrorCount);
  EXPECT_STREQ(DtaParseErrorName(E::kBadOpcode), "bad_opcode");
  EXPECT_STREQ(DtaOpcodeName(DtaOpcode::kKeyIncrement), "key_increment");

  DtaDropCounters c;
  c.Count(E::kBadHop);
  c.Count(E::kBadHop);
  c.Count(E::kOk);
  EXPECT_EQ(c[E::kBadHop], 2u);
  EXPECT_EQ(c[E::kOk], 1u);
}

// --- the two base forms read as each other ---
//
// Nothing in a report names its form, and the opcode is the first byte in
// both, so the primitive's size is the same either way. The forms differ by
// exactly one byte, so:
// - a 3-byte report read as 2-byte is always one byte too long: detected
//   (trailing_bytes);
// - a 2-byte report read as 3-byte is always one byte short: detected
//   (truncated_primitive).
// Not reliably detectable: a sender that pads its UDP payload by exactly
// one byte. A 2-byte report with one extra byte reads as a 3-byte one with
// the primitive shifted by a byte; only the range checks (redundancy 1..4,
// hop 1..5) can catch it, by chance of the values. This parser refuses
// padded reports for that reason. Reserved bits are no help: a 2-byte
// report's flags byte read as a seqnum may be any value, and a 3-byte
// report's seqnum read as flags only sets reserved bits that receivers must
// ignore.
TEST(DtaWire, BaseFormsMisreadAsEachOtherAreDetected) {
  struct Case {
    DtaReport report;
    E padded_as_three_byte;  // a 2-byte report padded by one byte, read as 3-byte
  };
  const Case cases[] = {
      // The shifted redundancy is the key's first byte, 0x01: in range.
      {DtaKeyWrite(2, 0x01020304, 0xaabbccdd), E::kOk},
      // No ranged field at all.
      {DtaAppend(7, 8), E::kOk},
      // The shifted redundancy is the key's first byte, 0x00.
      {DtaKeyIncrement(4, 9, 10), E::kBadRedundancy},
      // The shifted hop is the data's first byte, 0x00.
      {DtaPostcard(11, 5, 12), E::kBadHop},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(DtaOpcodeName(c.report.opcode));
    const DtaReport r = WithBase(c.report, 0x02, true, true);
    DtaReport got;
    EXPECT_EQ(Parse(Build(DtaBaseForm::kThreeByte, r), DtaBaseForm::kTwoByte, &got),
              E::kTrailingBytes);
    EXPECT_EQ(Parse(Build(DtaBaseForm::kTwoByte, r), DtaBaseForm::kThreeByte, &got),
              E::kTruncatedPrimitive);
    const Bytes two = Build(DtaBaseForm::kTwoByte, r);
    const Bytes padded = WithUdpPayload(two, two.size() - 42 + 1);
    ASSERT_EQ(Parse(padded, DtaBaseForm::kThreeByte, &got), c.padded_as_three_byte);
    if (c.padded_as_three_byte == E::kOk) {
      EXPECT_EQ(got.seqnum, 0x80);  // the 2-byte flags byte (immediate), read as a seqnum
    }
    // Read in its own form, the padded report is refused: padding is what
    // would hide a misread.
    EXPECT_EQ(Parse(padded, DtaBaseForm::kTwoByte, &got), E::kTrailingBytes);
  }
}

// --- configuration ---

TEST(DtaConfig, BaseFormNames) {
  EXPECT_EQ(*ParseDtaBaseForm("2-byte"), DtaBaseForm::kTwoByte);
  EXPECT_EQ(*ParseDtaBaseForm("3-byte"), DtaBaseForm::kThreeByte);
  EXPECT_STREQ(DtaBaseFormName(DtaBaseForm::kTwoByte), "2-byte");
  EXPECT_STREQ(DtaBaseFormName(DtaBaseForm::kThreeByte), "3-byte");
  EXPECT_EQ(kDefaultDtaBaseForm, DtaBaseForm::kThreeByte);
  EXPECT_EQ(DtaBaseBytes(DtaBaseForm::kTwoByte), 2u);
  EXPECT_EQ(DtaBaseBytes(DtaBaseForm::kThreeByte), 3u);
  for (const char* bad : {"", "2", "3byte", "2-Byte", "two-byte", "4-byte"}) {
    const auto form = ParseDtaBaseForm(bad);
    ASSERT_FALSE(form.ok()) << bad;
    EXPECT_EQ(form.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string msg(form.status().message());
    EXPECT_NE(msg.find("\"2-byte\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"3-byte\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::string("\"") + bad + "\""), std::string::npos) << msg;
  }
}

TEST(DtaConfig, RedundancyHopAndPathLength) {
  for (int64_t n = 1; n <= 4; ++n) EXPECT_TRUE(ValidateDtaRedundancy(n).ok()) << n;
  for (int64_t n : {int64_t{0}, int64_t{5}, int64_t{-1}, int64_t{1} << 40}) {
    const absl::Status s = ValidateDtaRedundancy(n);
    EXPECT_FALSE(s.ok()) << n;
    EXPECT_NE(s.message().find("1..4"), std::string::npos) << s;
  }
  for (int64_t h = 1; h <= 5; ++h) {
    EXPECT_TRUE(ValidateDtaHop(h).ok()) << h;
    EXPECT_TRUE(ValidateDtaPathLength(h).ok()) << h;
  }
  for (int64_t h : {0, 6, -3, 256}) {
    const absl::Status s = ValidateDtaHop(h);
    EXPECT_FALSE(s.ok()) << h;
    EXPECT_NE(s.message().find("1..5"), std::string::npos) << s;
    EXPECT_FALSE(ValidateDtaPathLength(h).ok()) << h;
  }
  // The parser's ranges and the config's agree.
  EXPECT_EQ(kDtaMinRedundancy, 1);
  EXPECT_EQ(kDtaMaxRedundancy, 4);
  EXPECT_EQ(kDtaMinHop, 1);
  EXPECT_EQ(kDtaMaxHop, 5);
}

}  // namespace
}  // namespace softfino::net
