// The RoCEv2 wire layer (ICRC, builders, parser) against independent truths:
// a frame and ICRC computed by scapy.contrib.roce (copied here as bytes), a
// bit-at-a-time CRC-32 with the Annex A17 masks applied to a copy of the
// whole packet, and field values written down from the IBA spec. Every
// parser failure reason is produced from a crafted packet.
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "softfino/net/roce.h"
#include "softfino/rdma/icrc.h"
#include "softfino/rdma/roce_builder.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::rdma {
namespace {

using net::RcOpcode;
using Bytes = std::vector<uint8_t>;

// --- references written from the spec, not from the code under test ---

// CRC-32 (reflected 0x04c11db7, init and xor-out all ones), one bit at a time.
uint32_t NaiveCrc32(const Bytes& data) {
  uint32_t reg = 0xffffffff;
  for (uint8_t byte : data) {
    reg ^= byte;
    for (int i = 0; i < 8; ++i) reg = (reg >> 1) ^ ((reg & 1) ? 0xedb88320u : 0);
  }
  return ~reg;
}

// Annex A17.4.3.1 on a whole copy of the packet: 8 x 0xff, then the IPv4
// datagram without its ICRC, with TOS, TTL, IP checksum, UDP checksum and
// BTH byte 4 set to ones. `l3` is where IPv4 starts in `frame`.
uint32_t NaiveIcrc(const Bytes& frame, size_t l3) {
  const size_t ihl = (frame[l3] & 0xf) * 4;
  const size_t total = (frame[l3 + 2] << 8) | frame[l3 + 3];
  Bytes d(frame.begin() + l3, frame.begin() + l3 + total - 4);
  d[1] = 0xff;                     // TOS
  d[8] = 0xff;                     // TTL
  d[10] = d[11] = 0xff;            // header checksum
  d[ihl + 6] = d[ihl + 7] = 0xff;  // UDP checksum
  d[ihl + 8 + 4] = 0xff;           // BTH FECN/BECN/reserved
  Bytes all(8, 0xff);
  all.insert(all.end(), d.begin(), d.end());
  return NaiveCrc32(all);
}

// Recomputes the IPv4 header checksum after a test edited the header.
void FixIpChecksum(Bytes& f, size_t l3 = 14) {
  f[l3 + 10] = f[l3 + 11] = 0;
  uint32_t sum = 0;
  const size_t ihl = (f[l3] & 0xf) * 4;
  for (size_t i = 0; i < ihl; i += 2) sum += (f[l3 + i] << 8) | f[l3 + i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  f[l3 + 10] = static_cast<uint8_t>(~sum >> 8);
  f[l3 + 11] = static_cast<uint8_t>(~sum);
}
void Set16(Bytes& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

Bytes Hex(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// --- fixtures ---

rte_mempool* Pool() {
  // Room for a 4096-MTU packet in one segment.
  static rte_mempool* pool =
      rte_pktmbuf_pool_create("roce_wire_test", 128, 0, 0, 8192 + RTE_PKTMBUF_HEADROOM, 0);
  return pool;
}

struct Mbuf {
  rte_mbuf* m = rte_pktmbuf_alloc(Pool());
  ~Mbuf() { rte_pktmbuf_free(m); }
  Bytes bytes() const {
    const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
    return Bytes(p, p + m->data_len);
  }
};

Endpoint TestEndpoint() {
  Endpoint ep;
  ep.src_mac = {0x02, 0, 0, 0, 0, 0x01};
  ep.dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  ep.src_ip = RTE_IPV4(10, 0, 0, 1);
  ep.dst_ip = RTE_IPV4(10, 0, 0, 2);
  ep.udp_src_port = 0xc123;
  ep.ttl = 64;
  return ep;
}

RoceBuilder TestBuilder(uint32_t qpn = 0x123, Endpoint ep = TestEndpoint()) {
  auto b = RoceBuilder::Create(ep, qpn);
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

RoceParseError Parse(const Bytes& f, RocePacket* p, bool verify_icrc = true) {
  return ParseRoce(std::span<const uint8_t>(f), p, RoceParseOptions{.verify_icrc = verify_icrc});
}

uint64_t Be64(const rte_be64_t& v) { return rte_be_to_cpu_64(v); }
uint32_t Be32(const rte_be32_t& v) { return rte_be_to_cpu_32(v); }

// --- ICRC ---

TEST(RoceWire, WriteOnlyMatchesScapyByteForByte) {
  // scapy: Ether/IP(flags=DF,id=0,ttl=64)/UDP(sport=0xc123,chksum=0)/
  // BTH(opcode=0x0a,migreq=1,padcount=3,dqpn=0x123,ackreq=1,psn=0x456)/
  // RETH(va 0x1122334455667788, rkey 0xdeadbeef, len 5)/"hello"/pad, ICRC by
  // scapy.contrib.roce.
  const Bytes expected =
      Hex("02000000000202000000000108004500004400004000401126a70a0000010a000002c12312b7003000000a70"
          "ffff00000123800004561122334455667788deadbeef0000000568656c6c6f000000fb5819f8");
  Mbuf mb;
  const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_EQ(TestBuilder().WriteOnly(mb.m, 0x456, true, {0x1122334455667788, 0xdeadbeef}, hello),
            BuildStatus::kOk);
  EXPECT_EQ(mb.bytes(), expected);
  EXPECT_EQ(mb.m->pkt_len, 82u);
  EXPECT_EQ(VerifyIcrc(mb.m), IcrcStatus::kOk);
  // The wire carries the CRC least significant byte first.
  EXPECT_EQ(LoadIcrc(expected.data() + 78), 0xf81958fbu);
}

TEST(RoceWire, IcrcEqualsNaiveMaskedCrcForEveryKindAndLength) {
  std::mt19937 gen(7);
  auto rng = [&gen] { return static_cast<uint32_t>(gen()); };
  const RoceBuilder b = TestBuilder(0xabcdef);
  for (int len = 0; len <= 300; len += 1 + len / 16) {
    Bytes payload(len);
    for (auto& x : payload) x = static_cast<uint8_t>(rng());
    const uint32_t psn = rng() & 0xffffff;
    for (int kind = 0; kind < 9; ++kind) {
      Mbuf mb;
      BuildStatus s = BuildStatus::kOk;
      switch (kind) {
        case 0:
          s = b.WriteOnly(mb.m, psn, true, {rng(), rng()}, payload);
          break;
        case 1:
          s = b.WriteOnlyImm(mb.m, psn, false, {rng(), rng()}, rng(), payload);
          break;
        case 2:
          s = b.WriteMiddle(mb.m, psn, payload);
          break;
        case 3:
          s = b.ReadResponseOnly(mb.m, psn, rng(), payload);
          break;
        case 4:
          s = b.SendOnly(mb.m, psn, true, true, payload);
          break;
        case 5:
          s = b.FetchAdd(mb.m, psn, {rng(), rng()}, rng());
          break;
        case 6:
          s = b.CompareSwap(mb.m, psn, {rng(), rng()}, rng(), rng());
          break;
        case 7:
          s = b.Nak(mb.m, psn, rng(), net::NakCode::kRemoteAccessError);
          break;
        case 8:
          s = b.AtomicAck(mb.m, psn, rng(), rng());
          break;
      }
      ASSERT_EQ(s, BuildStatus::kOk);
      const Bytes f = mb.bytes();
      const uint32_t want = NaiveIcrc(f, 14);
      ASSERT_EQ(LoadIcrc(f.data() + f.size() - 4), want) << "kind " << kind << " len " << len;
      ASSERT_EQ(IcrcOfIpv4Datagram(f.data() + 14, static_cast<uint32_t>(f.size() - 14)), want);
    }
  }
}

// Datagrams of every size up to a jumbo frame, either side of the length
// up to which the ICRC is computed in one piece by DPDK's CRC (4,352 bytes)
// and beyond it by tables: the same naive CRC for all.
TEST(RoceWire, IcrcOfLargeDatagramsEqualsNaive) {
  std::mt19937 gen(11);
  for (const uint32_t total : {64u, 1500u, 4096u + 255u, 4096u + 256u, 4096u + 257u, 9000u}) {
    Bytes f(14 + total);
    for (auto& x : f) x = static_cast<uint8_t>(gen());
    f[14] = 0x45;  // IPv4, no options
    f[14 + 2] = static_cast<uint8_t>(total >> 8);
    f[14 + 3] = static_cast<uint8_t>(total);
    EXPECT_EQ(IcrcOfIpv4Datagram(f.data() + 14, total), NaiveIcrc(f, 14)) << total;
  }
}

// Each engine on its own (IcrcOfIpv4Datagram uses one of them): random
// datagrams of every length from the shortest RoCEv2 one (IPv4, UDP, BTH,
// ICRC) to 300 bytes and some up to a jumbo frame, with every IHL. Each is
// the only thing in its allocation, so a read before or past it fails
// under ASan.
TEST(RoceWire, EachIcrcEngineEqualsNaiveForEveryLengthAndIhl) {
#if defined(__x86_64__)
  ASSERT_TRUE(IcrcEngineAvailable(IcrcEngine::kFold));  // PCLMULQDQ: every x86-64 server CPU
#endif
  ASSERT_TRUE(IcrcEngineAvailable(IcrcEngine::kPortable));
  std::mt19937 gen(13);
  int checked = 0;
  for (const IcrcEngine engine : {IcrcEngine::kFold, IcrcEngine::kPortable}) {
    if (!IcrcEngineAvailable(engine)) continue;
    for (uint32_t words = 5; words <= 15; ++words) {
      const uint32_t shortest = words * 4 + 8 + 12 + 4;
      std::vector<uint32_t> totals;
      for (uint32_t t = shortest; t <= 300; ++t) totals.push_back(t);
      for (uint32_t t : {1024u, 4351u, 4352u, 4353u, 9000u}) totals.push_back(t);
      for (const uint32_t total : totals) {
        Bytes d(total);
        for (auto& x : d) x = static_cast<uint8_t>(gen());
        d[0] = static_cast<uint8_t>(0x40 | words);
        d[2] = static_cast<uint8_t>(total >> 8);
        d[3] = static_cast<uint8_t>(total);
        Bytes f(14, 0);  // the naive CRC takes a frame
        f.insert(f.end(), d.begin(), d.end());
        ASSERT_EQ(IcrcOfIpv4DatagramBy(engine, d.data(), total), NaiveIcrc(f, 14))
            << "engine " << static_cast<int>(engine) << " ihl " << words * 4 << " total " << total;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 2500);
}

// A packet built with its ICRC left for later and then finished is the
// packet built at once, byte for byte, for every kind and many lengths.
TEST(RoceWire, BuildWithIcrcLaterThenFinishEqualsBuildNow) {
  std::mt19937 gen(17);
  const RoceBuilder b = TestBuilder(0x1234);
  for (int len = 0; len <= 200; len += 1 + len / 8) {
    Bytes payload(len);
    for (auto& x : payload) x = static_cast<uint8_t>(gen());
    for (const net::RcOpcode op : {RcOpcode::kWriteOnly, RcOpcode::kSendOnly, RcOpcode::kFetchAdd}) {
      PacketFields f;
      f.opcode = op;
      f.psn = gen() & 0xffffff;
      f.vaddr = gen();
      f.rkey = gen();
      if (op != RcOpcode::kFetchAdd) {
        f.payload = payload;
        f.dma_length = static_cast<uint32_t>(len);
      } else if (len != 0) {
        continue;
      }
      Mbuf now, later;
      ASSERT_EQ(b.Build(now.m, f), BuildStatus::kOk);
      ASSERT_EQ(b.Build(later.m, f, RoceBuilder::IcrcWhen::kLater), BuildStatus::kOk);
      const Bytes before = later.bytes();
      RoceBuilder::FinishIcrc(later.m);
      ASSERT_EQ(later.bytes(), now.bytes()) << "len " << len;
      // Only the ICRC was left to write.
      ASSERT_TRUE(std::equal(before.begin(), before.end() - 4, now.bytes().begin()));
    }
  }
}

TEST(RoceWire, IcrcMasksOnlyTheVariantFields) {
  Mbuf mb;
  const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_EQ(TestBuilder().WriteOnly(mb.m, 1, true, {0x1000, 7}, data), BuildStatus::kOk);
  const Bytes good = mb.bytes();
  // What a router may change: TOS (DSCP/ECN), TTL, IP checksum, UDP
  // checksum, FECN/BECN. The ICRC still holds.
  for (size_t off : {15u, 22u, 24u, 25u, 40u, 41u, 46u}) {
    Bytes f = good;
    f[off] ^= 0x5a;
    if (off != 24 && off != 25) FixIpChecksum(f);
    EXPECT_EQ(VerifyIcrc(std::span<const uint8_t>(f)), IcrcStatus::kOk) << off;
  }
  // Anything else is covered: every other byte of the datagram.
  for (size_t off = 14; off < good.size() - 4; ++off) {
    if (off == 15 || off == 22 || off == 24 || off == 25 || off == 40 || off == 41 || off == 46) {
      continue;
    }
    Bytes f = good;
    f[off] ^= 0x01;
    if (off >= 14 && off < 34) FixIpChecksum(f);
    const IcrcStatus s = VerifyIcrc(std::span<const uint8_t>(f));
    EXPECT_NE(s, IcrcStatus::kOk) << off;
  }
}

TEST(RoceWire, IcrcWithIpv4OptionsAndVlan) {
  Mbuf mb;
  const uint8_t data[4] = {9, 9, 9, 9};
  ASSERT_EQ(TestBuilder().WriteOnly(mb.m, 1, true, {0x1000, 7}, data), BuildStatus::kOk);
  Bytes f = mb.bytes();
  // Four NOP options: IHL 6.
  f.insert(f.begin() + 34, {1, 1, 1, 1});
  f[14] = 0x46;
  Set16(f, 16, static_cast<uint16_t>(f.size() - 14));
  FixIpChecksum(f);
  ASSERT_EQ(WriteIcrc(std::span<uint8_t>(f)), IcrcStatus::kOk);
  EXPECT_EQ(LoadIcrc(f.data() + f.size() - 4), NaiveIcrc(f, 14));
  RocePacket p;
  ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
  EXPECT_EQ(p.l4_offset, 38);
  EXPECT_EQ(p.payload_len, 4u);

  // An 802.1Q tag moves everything by 4 and changes nothing else.
  Bytes v = mb.bytes();
  v.insert(v.begin() + 12, {0x81, 0x00, 0x00, 0x05});
  EXPECT_EQ(VerifyIcrc(std::span<const uint8_t>(v)), IcrcStatus::kOk);
  ASSERT_EQ(Parse(v, &p), RoceParseError::kOk);
  EXPECT_EQ(p.l3_offset, 18);
  EXPECT_EQ(p.bth().qpn(), 0x123u);
}

TEST(RoceWire, IcrcFrameErrors) {
  Mbuf mb;
  ASSERT_EQ(TestBuilder().Ack(mb.m, 5, 6), BuildStatus::kOk);
  Bytes f = mb.bytes();
  uint32_t icrc = 0;
  EXPECT_EQ(ComputeIcrc(std::span<const uint8_t>(f.data(), 10), &icrc), IcrcStatus::kTruncated);
  EXPECT_EQ(ComputeIcrc(std::span<const uint8_t>(f.data(), f.size() - 1), &icrc),
            IcrcStatus::kTruncated);
  Bytes v6 = f;
  Set16(v6, 12, RTE_ETHER_TYPE_IPV6);
  EXPECT_EQ(VerifyIcrc(std::span<const uint8_t>(v6)), IcrcStatus::kIpv6Unsupported);
  Bytes arp = f;
  Set16(arp, 12, RTE_ETHER_TYPE_ARP);
  EXPECT_EQ(VerifyIcrc(std::span<const uint8_t>(arp)), IcrcStatus::kNotIpv4);

  // mbuf forms: verify, break, rewrite.
  EXPECT_EQ(VerifyIcrc(mb.m), IcrcStatus::kOk);
  rte_pktmbuf_mtod(mb.m, uint8_t*)[mb.m->data_len - 1] ^= 1;
  EXPECT_EQ(VerifyIcrc(mb.m), IcrcStatus::kMismatch);
  EXPECT_EQ(WriteIcrc(mb.m), IcrcStatus::kOk);
  EXPECT_EQ(VerifyIcrc(mb.m), IcrcStatus::kOk);
  ASSERT_EQ(ComputeIcrc(mb.m, &icrc), IcrcStatus::kOk);
  EXPECT_EQ(icrc, NaiveIcrc(f, 14));

  // A chained mbuf is refused rather than half-read.
  Mbuf tail;
  ASSERT_EQ(rte_pktmbuf_chain(mb.m, tail.m), 0);
  tail.m = nullptr;  // now owned by the chain
  EXPECT_EQ(VerifyIcrc(mb.m), IcrcStatus::kMultiSegment);
  EXPECT_EQ(TestBuilder().Ack(mb.m, 5, 6), BuildStatus::kMultiSegment);
  EXPECT_STREQ(IcrcStatusName(IcrcStatus::kMultiSegment), "multi_segment");
}

// --- every packet kind, built and parsed back ---

// The fixed part every packet shares, checked against literals.
void ExpectCommon(const Bytes& f, const RocePacket& p, uint8_t opcode, uint32_t psn, bool ack_req,
                  uint32_t frame_len) {
  EXPECT_EQ(f.size(), frame_len);
  EXPECT_EQ(f[12], 0x08);  // IPv4
  EXPECT_EQ(f[13], 0x00);
  EXPECT_EQ(f[14], 0x45);
  EXPECT_EQ((f[16] << 8) | f[17], static_cast<int>(frame_len - 14));  // total length
  EXPECT_EQ((f[20] << 8) | f[21], 0x4000);                            // DF
  EXPECT_EQ(f[23], 17);                                               // UDP
  EXPECT_EQ(rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(f.data() + 14)), 0);
  EXPECT_EQ((f[34] << 8) | f[35], 0xc123);                            // UDP source
  EXPECT_EQ((f[36] << 8) | f[37], 4791);                              // UDP destination
  EXPECT_EQ((f[38] << 8) | f[39], static_cast<int>(frame_len - 34));  // UDP length
  EXPECT_EQ((f[40] << 8) | f[41], 0);                                 // UDP checksum
  EXPECT_EQ(f[42], opcode);
  EXPECT_EQ((f[43] >> 4) & 3, (4 - p.payload_len % 4) % 4);  // pad
  EXPECT_EQ(f[43] & 0xf, 0);                                 // TVer
  EXPECT_EQ((f[44] << 8) | f[45], 0xffff);                   // P_Key
  EXPECT_EQ((f[47] << 16) | (f[48] << 8) | f[49], 0x123);    // dest QP
  EXPECT_EQ(f[50] >> 7, ack_req ? 1 : 0);
  EXPECT_EQ((f[51] << 16) | (f[52] << 8) | f[53], static_cast<int>(psn));
  EXPECT_EQ(p.bth().psn_value(), psn);
  EXPECT_EQ(p.icrc(), NaiveIcrc(f, 14));
}

TEST(RoceWire, EveryKindRoundTrips) {
  const RoceBuilder b = TestBuilder();
  const Bytes data = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6};  // 7: pad 1
  const RemoteBuffer rb{0x0000'7f00'dead'b000, 0x1234'5678};
  RocePacket p;

  {  // WRITE Only: RETH + payload. 54 + 16 + 7 + 1 + 4
    Mbuf mb;
    ASSERT_EQ(b.WriteOnly(mb.m, 0xfffffe, true, rb, data), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x0a, 0xfffffe, true, 82);
    ASSERT_NE(p.reth(), nullptr);
    EXPECT_EQ(p.reth_offset, 54);
    EXPECT_EQ(Be64(p.reth()->vaddr), 0x00007f00deadb000u);
    EXPECT_EQ(Be32(p.reth()->rkey), 0x12345678u);
    EXPECT_EQ(Be32(p.reth()->dma_length), 7u);
    EXPECT_EQ(p.pad, 1);
    EXPECT_EQ(Bytes(p.payload().begin(), p.payload().end()), data);
    EXPECT_EQ(p.payload_offset, 70u);
    EXPECT_EQ(p.aeth(), nullptr);
    EXPECT_EQ(p.atomic_eth(), nullptr);
    EXPECT_EQ(f[77], 0);  // pad byte
  }
  {  // WRITE Only with immediate: RETH, ImmDt, payload
    Mbuf mb;
    ASSERT_EQ(b.WriteOnlyImm(mb.m, 3, true, rb, 0xcafef00d, data), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x0b, 3, true, 86);
    EXPECT_EQ(p.immdt_offset, 70);
    EXPECT_EQ(Be32(p.immdt()->value), 0xcafef00du);
    EXPECT_EQ(p.payload_offset, 74u);
    EXPECT_EQ(p.payload_len, 7u);
  }
  {  // WRITE First: RETH with the message length, no AckReq
    Mbuf mb;
    const Bytes first(256, 0x11);
    ASSERT_EQ(b.WriteFirst(mb.m, 10, rb, 600, first), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x06, 10, false, 54 + 16 + 256 + 4);
    EXPECT_EQ(Be32(p.reth()->dma_length), 600u);
    EXPECT_EQ(p.payload_len, 256u);
  }
  {  // WRITE Middle: BTH only
    Mbuf mb;
    const Bytes mid(256, 0x22);
    ASSERT_EQ(b.WriteMiddle(mb.m, 11, mid), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x07, 11, false, 54 + 256 + 4);
    EXPECT_EQ(p.reth(), nullptr);
    EXPECT_EQ(p.payload_offset, 54u);
  }
  {  // WRITE Last: BTH, 88 bytes, AckReq
    Mbuf mb;
    const Bytes last(88, 0x33);
    ASSERT_EQ(b.WriteLast(mb.m, 12, true, last), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x08, 12, true, 54 + 88 + 4);
    EXPECT_EQ(p.payload_len, 88u);
  }
  {  // READ Request: RETH, no payload
    Mbuf mb;
    ASSERT_EQ(b.ReadRequest(mb.m, 0x10000, rb, 4096), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x0c, 0x10000, true, 74);
    EXPECT_EQ(Be32(p.reth()->dma_length), 4096u);
    EXPECT_EQ(p.payload_len, 0u);
  }
  {  // READ Responses: First/Last/Only carry an ACK AETH (syndrome 0x1f), Middle none
    const struct {
      RcOpcode op;
      uint8_t code;
      bool aeth;
    } cases[] = {{RcOpcode::kReadResponseFirst, 0x0d, true},
                 {RcOpcode::kReadResponseMiddle, 0x0e, false},
                 {RcOpcode::kReadResponseLast, 0x0f, true},
                 {RcOpcode::kReadResponseOnly, 0x10, true}};
    for (const auto& c : cases) {
      Mbuf mb;
      ASSERT_EQ(b.ReadResponse(mb.m, c.op, 77, 0x00abcd, data), BuildStatus::kOk);
      const Bytes f = mb.bytes();
      ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
      ExpectCommon(f, p, c.code, 77, false, (c.aeth ? 58 : 54) + 8 + 4);
      if (c.aeth) {
        ASSERT_NE(p.aeth(), nullptr);
        EXPECT_EQ(p.aeth()->syndrome, 0x1f);
        EXPECT_EQ(p.aeth()->msn_value(), 0xabcdu);
      } else {
        EXPECT_EQ(p.aeth(), nullptr);
      }
      EXPECT_EQ(Bytes(p.payload().begin(), p.payload().end()), data);
    }
  }
  {  // FETCH_ADD: AtomicETH (28), no payload
    Mbuf mb;
    ASSERT_EQ(b.FetchAdd(mb.m, 20, rb, 0x0102030405060708), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x14, 20, true, 54 + 28 + 4);
    ASSERT_NE(p.atomic_eth(), nullptr);
    EXPECT_EQ(Be64(p.atomic_eth()->vaddr), rb.vaddr);
    EXPECT_EQ(Be32(p.atomic_eth()->rkey), rb.rkey);
    EXPECT_EQ(Be64(p.atomic_eth()->swap_add), 0x0102030405060708u);
    EXPECT_EQ(Be64(p.atomic_eth()->compare), 0u);
  }
  {  // CMP_SWAP
    Mbuf mb;
    ASSERT_EQ(b.CompareSwap(mb.m, 21, rb, 0xaaaa, 0xbbbb), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x13, 21, true, 86);
    EXPECT_EQ(Be64(p.atomic_eth()->swap_add), 0xbbbbu);
    EXPECT_EQ(Be64(p.atomic_eth()->compare), 0xaaaau);
  }
  {  // SEND Only, solicited
    Mbuf mb;
    ASSERT_EQ(b.SendOnly(mb.m, 22, true, true, data), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x04, 22, true, 54 + 8 + 4);
    EXPECT_TRUE(p.bth().solicited());
    EXPECT_EQ(f[43], 0x80 | 0x40 | 0x10);  // SE, MigReq, pad 1
  }
  {  // ACK: AETH syndrome 0x1f (ACK, no credit count)
    Mbuf mb;
    ASSERT_EQ(b.Ack(mb.m, 30, 0x000777), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x11, 30, false, 62);
    EXPECT_EQ(f[54], 0x1f);
    EXPECT_EQ(net::AethKindOf(p.aeth()->syndrome), net::AethKind::kAck);
    EXPECT_EQ(p.aeth()->msn_value(), 0x777u);
  }
  {  // NAKs: syndrome 011 + code (0x60 PSN sequence error ... 0x64)
    const std::pair<net::NakCode, uint8_t> naks[] = {{net::NakCode::kPsnSequenceError, 0x60},
                                                     {net::NakCode::kInvalidRequest, 0x61},
                                                     {net::NakCode::kRemoteAccessError, 0x62},
                                                     {net::NakCode::kRemoteOperationalError, 0x63},
                                                     {net::NakCode::kInvalidRdRequest, 0x64}};
    for (const auto& [code, syndrome] : naks) {
      Mbuf mb;
      ASSERT_EQ(b.Nak(mb.m, 31, 5, code), BuildStatus::kOk);
      const Bytes f = mb.bytes();
      ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
      ExpectCommon(f, p, 0x11, 31, false, 62);
      EXPECT_EQ(f[54], syndrome);
      EXPECT_EQ(net::AethKindOf(p.aeth()->syndrome), net::AethKind::kNak);
    }
  }
  {  // Atomic Acknowledge: AETH + AtomicAckETH
    Mbuf mb;
    ASSERT_EQ(b.AtomicAck(mb.m, 40, 9, 0x1111222233334444), BuildStatus::kOk);
    const Bytes f = mb.bytes();
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    ExpectCommon(f, p, 0x12, 40, false, 70);
    EXPECT_EQ(p.aeth_offset, 54);
    EXPECT_EQ(p.atomic_ack_eth_offset, 58);
    EXPECT_EQ(Be64(p.atomic_ack_eth()->original), 0x1111222233334444u);
  }
}

TEST(RoceWire, EndpointFieldsReachTheWire) {
  Endpoint ep = TestEndpoint();
  ep.dscp = 26;  // AF31
  ep.ecn = 2;    // ECT(0)
  ep.ttl = 7;
  ep.udp_src_port = RoceUdpSourcePort(0x11, 0x22);
  Mbuf mb;
  ASSERT_EQ(TestBuilder(0xfedcba, ep).Ack(mb.m, 0, 0), BuildStatus::kOk);
  const Bytes f = mb.bytes();
  EXPECT_EQ(f[15], (26 << 2) | 2);
  EXPECT_EQ(f[22], 7);
  EXPECT_EQ(Bytes(f.begin(), f.begin() + 12), Bytes({2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}));
  EXPECT_EQ(Bytes(f.begin() + 26, f.begin() + 34), Bytes({10, 0, 0, 1, 10, 0, 0, 2}));
  RocePacket p;
  ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
  EXPECT_EQ(p.src_ip(), RTE_IPV4(10, 0, 0, 1));
  EXPECT_EQ(p.dst_ip(), RTE_IPV4(10, 0, 0, 2));
  // 0x11 * 0x22 = 0x242: a flow label below 2^14 folds to itself.
  EXPECT_EQ(p.udp_src_port(), 0xc242);
  EXPECT_EQ(p.bth().qpn(), 0xfedcbau);
}

TEST(RoceWire, UdpSourcePortStaysInRoceRange) {
  std::mt19937 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t a = rng() & 0xffffff, c = rng() & 0xffffff;
    const uint16_t port = RoceUdpSourcePort(a, c);
    EXPECT_GE(port, 0xc000);
    EXPECT_EQ(port, RoceUdpSourcePort(a, c));
  }
}

TEST(RoceWire, BuilderRefusesWhatDoesNotFit) {
  const RoceBuilder b = TestBuilder();
  Mbuf mb;
  const Bytes big(200, 1);
  // Leave 100 bytes of room: a 200-byte WRITE does not fit, an ACK does.
  mb.m->data_off = static_cast<uint16_t>(mb.m->buf_len - 100);
  EXPECT_EQ(b.WriteOnly(mb.m, 1, true, {0, 0}, big), BuildStatus::kNoRoom);
  EXPECT_EQ(mb.m->data_len, 0);  // untouched
  EXPECT_EQ(b.Ack(mb.m, 1, 1), BuildStatus::kOk);
  EXPECT_EQ(mb.m->data_len, 62);

  PacketFields f;
  f.opcode = RcOpcode::kAcknowledge;
  f.payload = big;
  EXPECT_EQ(b.Build(mb.m, f), BuildStatus::kUnexpectedPayload);
  f.opcode = static_cast<RcOpcode>(0x15);
  EXPECT_EQ(b.Build(mb.m, f), BuildStatus::kBadOpcode);
  f.opcode = static_cast<RcOpcode>(0x64);  // UD SEND Only
  f.payload = {};
  EXPECT_EQ(b.Build(mb.m, f), BuildStatus::kBadOpcode);
  EXPECT_STREQ(BuildStatusName(BuildStatus::kNoRoom), "no_room");
  EXPECT_EQ(RoceBuilder::FrameLength(RcOpcode::kWriteOnly, 5), 82u);
  EXPECT_EQ(RoceBuilder::FrameLength(RcOpcode::kFetchAdd, 0), 86u);
}

TEST(RoceWire, EndpointValidation) {
  Endpoint ep = TestEndpoint();
  EXPECT_TRUE(ValidateEndpoint(ep).ok());
  ep.dscp = 64;
  EXPECT_NE(ValidateEndpoint(ep).message().find("dscp 64"), std::string::npos);
  ep = TestEndpoint();
  ep.ecn = 4;
  EXPECT_FALSE(ValidateEndpoint(ep).ok());
  ep = TestEndpoint();
  ep.ttl = 0;
  EXPECT_FALSE(ValidateEndpoint(ep).ok());
  ep = TestEndpoint();
  ep.dst_ip = 0;
  EXPECT_FALSE(ValidateEndpoint(ep).ok());
  ep = TestEndpoint();
  ep.udp_src_port = 4791;
  EXPECT_NE(ValidateEndpoint(ep).message().find("RoceUdpSourcePort"), std::string::npos);
  auto b = RoceBuilder::Create(TestEndpoint(), 0x1000000);
  EXPECT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("24 bits"), std::string::npos);
}

// --- parser failures, one crafted packet per reason ---

Bytes WriteOnlyFrame(size_t payload_len = 8) {
  Mbuf mb;
  const Bytes data(payload_len, 0x5c);
  EXPECT_EQ(TestBuilder().WriteOnly(mb.m, 100, true, {0x2000, 3}, data), BuildStatus::kOk);
  return mb.bytes();
}
Bytes WriteMiddleFrame(size_t payload_len) {
  Mbuf mb;
  const Bytes data(payload_len, 0x6d);
  EXPECT_EQ(TestBuilder().WriteMiddle(mb.m, 100, data), BuildStatus::kOk);
  return mb.bytes();
}
// Shortens the IPv4 datagram (and frame) by `n` bytes, keeping lengths and
// checksum consistent.
Bytes Shorten(Bytes f, size_t n) {
  f.resize(f.size() - n);
  Set16(f, 16, static_cast<uint16_t>(f.size() - 14));
  Set16(f, 38, static_cast<uint16_t>(f.size() - 34));
  FixIpChecksum(f);
  return f;
}

TEST(RoceWire, ParserNamesEveryFailure) {
  using E = RoceParseError;
  const Bytes good = WriteOnlyFrame();
  RocePacket p;
  ASSERT_EQ(Parse(good, &p), E::kOk);
  RoceDropCounters drops;
  auto expect = [&](const Bytes& f, E want, const char* what) {
    const E got = Parse(f, &p);
    drops.Count(got);
    EXPECT_EQ(got, want) << what << ": got " << RoceParseErrorName(got);
  };

  // Truncated at each header.
  expect(Bytes(good.begin(), good.begin() + 13), E::kTruncatedEthernet, "13 bytes");
  {
    Bytes v(good.begin(), good.begin() + 16);
    v[12] = 0x81;
    v[13] = 0x00;
    expect(v, E::kTruncatedEthernet, "VLAN tag cut");
  }
  expect(Bytes(good.begin(), good.begin() + 30), E::kTruncatedIpv4, "IPv4 header cut");
  expect(Bytes(good.begin(), good.end() - 1), E::kTruncatedIpv4, "frame < total length");
  {
    Bytes f(good.begin(), good.begin() + 38);
    Set16(f, 16, 24);
    FixIpChecksum(f);
    expect(f, E::kTruncatedUdp, "UDP header cut");
  }
  expect(Shorten(good, good.size() - (14 + 20 + 8 + 12 + 3)), E::kTruncatedBth,
         "BTH without room for ICRC");
  {
    // An ACK (BTH + AETH + ICRC) relabelled READ Request needs a 16-byte RETH.
    Mbuf mb;
    ASSERT_EQ(TestBuilder().Ack(mb.m, 1, 1), BuildStatus::kOk);
    Bytes f = mb.bytes();
    f[42] = 0x0c;
    expect(f, E::kTruncatedHeaders, "RETH cut");
  }

  // Not RoCE at all.
  {
    Bytes f = good;
    Set16(f, 12, RTE_ETHER_TYPE_ARP);
    expect(f, E::kNotRoce, "ARP");
    f = good;
    f[23] = 6;  // TCP
    FixIpChecksum(f);
    expect(f, E::kNotRoce, "TCP");
    f = good;
    Set16(f, 36, 4790);
    expect(f, E::kNotRoce, "UDP port 4790");
  }
  {
    Bytes f(14 + 40 + 8 + 12 + 4, 0);
    Set16(f, 12, RTE_ETHER_TYPE_IPV6);
    f[14] = 0x60;
    f[14 + 6] = 17;
    Set16(f, 14 + 40 + 2, 4791);
    expect(f, E::kIpv6Unsupported, "RoCEv2 over IPv6");
    f[14 + 6] = 6;
    expect(f, E::kNotRoce, "TCP over IPv6");
  }

  // Bad IPv4.
  {
    Bytes f = good;
    f[14] = 0x65;
    FixIpChecksum(f);
    expect(f, E::kBadIpv4Header, "version 6");
    f = good;
    f[14] = 0x44;
    expect(f, E::kBadIpv4Header, "IHL 4");
    f = good;
    Set16(f, 16, 16);
    FixIpChecksum(f);
    expect(f, E::kBadIpv4Header, "total length < IHL");
    f = good;
    f[22] ^= 1;  // TTL changed, checksum not
    expect(f, E::kBadIpv4Checksum, "checksum");
    f = good;
    Set16(f, 20, 0x2000);  // MF
    FixIpChecksum(f);
    expect(f, E::kIpv4Fragment, "MF");
    f = good;
    Set16(f, 20, 0x0010);  // offset 128
    FixIpChecksum(f);
    expect(f, E::kIpv4Fragment, "offset");
  }

  // Bad UDP / BTH.
  {
    Bytes f = good;
    Set16(f, 38, static_cast<uint16_t>(f.size() - 34 + 4));
    expect(f, E::kBadUdpLength, "UDP length");
    f = good;
    f[43] |= 0x01;
    expect(f, E::kBadTransportVersion, "TVer 1");
    for (uint8_t op : {0x15, 0x1f, 0x24 /* UC WRITE Only */, 0x64 /* UD SEND */, 0x81 /* CNP */}) {
      f = good;
      f[42] = op;
      expect(f, E::kBadOpcode, "opcode");
    }
  }

  // Lengths after the headers.
  {
    Bytes f = WriteMiddleFrame(8);
    f[42] = 0x11;  // ACK: its AETH takes 4 of the 8 bytes, 4 are left over
    expect(f, E::kUnexpectedPayload, "ACK with payload");
    f = WriteMiddleFrame(0);
    f[43] |= 0x10;  // pad 1 with no payload
    expect(f, E::kBadPad, "pad > payload");
    f = Shorten(WriteMiddleFrame(8), 1);  // 7 bytes + ICRC: not 4-aligned
    expect(f, E::kBadPad, "unaligned payload");
    f = WriteMiddleFrame(4);
    f[43] |= 0x30;  // pad 3 of 4 payload bytes: legal, 1 byte left
    expect(f, E::kBadIcrc, "pad changed after the ICRC");  // well-formed but ICRC covers it
  }

  // ICRC.
  {
    Bytes f = good;
    f[good.size() - 6] ^= 0x80;  // a payload byte
    expect(f, E::kBadIcrc, "payload bit");
    EXPECT_EQ(Parse(f, &p, /*verify_icrc=*/false), E::kOk);
    f = good;
    f.back() ^= 1;
    expect(f, E::kBadIcrc, "ICRC bit");
  }

  // Every reason was produced at least once.
  for (size_t i = 1; i < kRoceParseErrorCount; ++i) {
    EXPECT_GT(drops[static_cast<E>(i)], 0u) << RoceParseErrorName(static_cast<E>(i));
  }
  EXPECT_EQ(drops[E::kOk], 0u);
  EXPECT_EQ(drops[E::kBadOpcode], 5u);
  EXPECT_EQ(drops[E::kBadIcrc], 3u);
  for (size_t i = 0; i < kRoceParseErrorCount; ++i) {
    EXPECT_STRNE(RoceParseErrorName(static_cast<E>(i)), "unknown") << i;
  }
}

TEST(RoceWire, ParserIgnoresEthernetPaddingAndMaskedRewrites) {
  Bytes f = WriteOnlyFrame(4);
  f.insert(f.end(), 10, 0);  // padding after the datagram
  RocePacket p;
  ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
  EXPECT_EQ(p.payload_len, 4u);
  EXPECT_EQ(p.datagram_len, f.size() - 14 - 10);
  // A router marking CE and decrementing TTL keeps the ICRC valid.
  f[15] |= 3;
  f[22] -= 1;
  FixIpChecksum(f);
  f[46] = 0x80;  // FECN
  EXPECT_EQ(Parse(f, &p), RoceParseError::kOk);
}

TEST(RoceWire, ParsesFromMbuf) {
  Mbuf mb;
  ASSERT_EQ(TestBuilder().FetchAdd(mb.m, 9, {0x40, 2}, 1), BuildStatus::kOk);
  RocePacket p;
  ASSERT_EQ(ParseRoce(mb.m, &p), RoceParseError::kOk);
  EXPECT_EQ(p.opcode(), RcOpcode::kFetchAdd);
  EXPECT_EQ(p.payload_len, 0u);
  EXPECT_EQ(mb.m->packet_type, RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP);
}

// --- MTU splitting ---

TEST(RoceWire, MessageSegmentsFollowTheMtu) {
  using O = RcOpcode;
  auto ops = [](const MessageSegments& s) {
    std::vector<std::pair<O, uint32_t>> out;
    for (uint32_t i = 0; i < s.count(); ++i) {
      const Segment seg = s[i];
      EXPECT_EQ(seg.index, i);
      out.emplace_back(seg.opcode, seg.length);
    }
    return out;
  };
  using V = std::vector<std::pair<O, uint32_t>>;
  EXPECT_EQ(ops(MessageSegments(MessageKind::kWrite, 0, PathMtu::k1024)), V({{O::kWriteOnly, 0}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kWrite, 8, PathMtu::k256)), V({{O::kWriteOnly, 8}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kWrite, 256, PathMtu::k256)),
            V({{O::kWriteOnly, 256}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kWrite, 257, PathMtu::k256)),
            V({{O::kWriteFirst, 256}, {O::kWriteLast, 1}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kWrite, 1100, PathMtu::k512)),
            V({{O::kWriteFirst, 512}, {O::kWriteMiddle, 512}, {O::kWriteLast, 76}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kWriteWithImm, 4096, PathMtu::k1024)),
            V({{O::kWriteFirst, 1024},
               {O::kWriteMiddle, 1024},
               {O::kWriteMiddle, 1024},
               {O::kWriteLastImm, 1024}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kWriteWithImm, 10, PathMtu::k1024)),
            V({{O::kWriteOnlyImm, 10}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kReadResponse, 5000, PathMtu::k2048)),
            V({{O::kReadResponseFirst, 2048},
               {O::kReadResponseMiddle, 2048},
               {O::kReadResponseLast, 904}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kReadResponse, 4096, PathMtu::k4096)),
            V({{O::kReadResponseOnly, 4096}}));
  EXPECT_EQ(ops(MessageSegments(MessageKind::kReadResponse, 0, PathMtu::k4096)),
            V({{O::kReadResponseOnly, 0}}));
  const MessageSegments big(MessageKind::kReadResponse, 1u << 20, PathMtu::k4096);
  EXPECT_EQ(big.count(), 256u);
  EXPECT_EQ(big[255].offset, 255u * 4096);
  EXPECT_EQ(MessageSegments::PsnOf(0xfffffe, 3), 1u);  // PSNs wrap at 2^24

  EXPECT_EQ(*PathMtuFromBytes(1024), PathMtu::k1024);
  auto bad = PathMtuFromBytes(1500);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("256, 512, 1024, 2048 or 4096"), std::string::npos);
}

TEST(RoceWire, SplitReadResponseBuildsAndReassembles) {
  // A 5000-byte READ at MTU 1024 from PSN 0xfffffd: five responses whose
  // payloads put the message back together and whose PSNs wrap.
  Bytes message(5000);
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>(i * 7);
  const RoceBuilder b = TestBuilder();
  const MessageSegments segs(MessageKind::kReadResponse, 5000, PathMtu::k1024);
  ASSERT_EQ(segs.count(), 5u);
  Bytes got;
  for (uint32_t i = 0; i < segs.count(); ++i) {
    const Segment s = segs[i];
    Mbuf mb;
    ASSERT_EQ(b.ReadResponse(mb.m, s.opcode, MessageSegments::PsnOf(0xfffffd, i), 42,
                             std::span<const uint8_t>(message).subspan(s.offset, s.length)),
              BuildStatus::kOk);
    const Bytes f = mb.bytes();
    RocePacket p;
    ASSERT_EQ(Parse(f, &p), RoceParseError::kOk);
    EXPECT_EQ(p.bth().psn_value(), (0xfffffdu + i) & 0xffffff);
    got.insert(got.end(), p.payload().begin(), p.payload().end());
  }
  EXPECT_EQ(got, message);
}

}  // namespace
}  // namespace softfino::rdma
