// The common L2/L3 parser against hand-built frames: every reject reason,
// and the edges of each check (exact lengths, padding, options).
#include "softfino/pipe/parser.h"

#include <algorithm>
#include <array>
#include <vector>

#include "gtest/gtest.h"
#include "test/unit/reference_checksum.h"

namespace softfino::pipe {
namespace {

using Frame = std::vector<uint8_t>;

// Ethernet header with the given EtherType.
Frame Ethernet(uint16_t ether_type) {
  Frame f = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
  f.push_back(ether_type >> 8);
  f.push_back(ether_type & 0xff);
  return f;
}

// An IPv4 packet: header of `ihl` words (options zero-filled) with a valid
// checksum, then `payload` bytes. total_length is the true length unless given.
Frame Ipv4(int ihl, size_t payload, int total_length = -1, uint8_t version = 4) {
  Frame f = Ethernet(0x0800);
  const size_t start = f.size();
  const size_t header = static_cast<size_t>(ihl) * 4;
  const size_t true_total = header + payload;
  const uint16_t total = total_length < 0 ? static_cast<uint16_t>(true_total)
                                          : static_cast<uint16_t>(total_length);
  f.resize(start + std::max<size_t>(header, 20) + payload, 0);
  uint8_t* h = f.data() + start;
  h[0] = static_cast<uint8_t>(version << 4 | (ihl & 0xf));
  h[2] = total >> 8;
  h[3] = total & 0xff;
  h[8] = 64;  // TTL
  h[9] = 17;  // UDP
  h[12] = 10, h[13] = 0, h[14] = 0, h[15] = 1;
  h[16] = 10, h[17] = 1, h[18] = 2, h[19] = 3;
  const uint16_t c = testing::ReferenceChecksum(h, std::max<size_t>(header, 20));
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return f;
}

Frame Ipv6(size_t payload, int payload_length = -1, uint8_t version = 6) {
  Frame f = Ethernet(0x86dd);
  const size_t start = f.size();
  f.resize(start + 40 + payload, 0);
  uint8_t* h = f.data() + start;
  const uint16_t len = payload_length < 0 ? static_cast<uint16_t>(payload)
                                          : static_cast<uint16_t>(payload_length);
  h[0] = static_cast<uint8_t>(version << 4);
  h[4] = len >> 8;
  h[5] = len & 0xff;
  h[6] = 17;
  h[7] = 64;
  return f;
}

DropReason Parse(Frame& f, ParsedHeaders* out = nullptr) {
  ParsedHeaders h;
  const auto len = static_cast<uint32_t>(f.size());
  const DropReason r = ParseL3(f.data(), len, len, h);
  if (out) *out = h;
  return r;
}

TEST(Parser, AcceptsPlainIpv4) {
  Frame f = Ipv4(5, 8);
  ParsedHeaders h;
  ASSERT_EQ(Parse(f, &h), DropReason::kNone);
  EXPECT_EQ(h.l3_type, L3Type::kIpv4);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(h.ipv4), f.data() + 14);
  EXPECT_EQ(h.l3_length, 28u);
}

TEST(Parser, AcceptsIpv4WithOptionsAndPadding) {
  Frame f = Ipv4(15, 0);  // 60-byte header, maximum options
  EXPECT_EQ(Parse(f), DropReason::kNone);
  Frame padded = Ipv4(5, 6);
  padded.resize(60, 0xee);  // minimum Ethernet frame: padding after the IP packet
  ParsedHeaders h;
  EXPECT_EQ(Parse(padded, &h), DropReason::kNone);
  EXPECT_EQ(h.l3_length, 26u);
}

TEST(Parser, RejectsShortEthernet) {
  for (size_t len = 0; len < 14; ++len) {
    Frame f = Ethernet(0x0800);
    f.resize(len);
    EXPECT_EQ(Parse(f), DropReason::kEthTruncated) << len;
  }
}

TEST(Parser, RejectsUnknownEtherTypes) {
  for (uint16_t type : {0x0806, 0x8100, 0x88cc, 0x0000, 0xffff}) {
    Frame f = Ethernet(type);
    f.resize(60, 0);
    EXPECT_EQ(Parse(f), DropReason::kUnknownEtherType) << std::hex << type;
  }
}

TEST(Parser, Ipv4LengthEdges) {
  Frame f = Ipv4(5, 0);
  for (size_t cut = 14; cut < 34; ++cut) {
    Frame t(f.begin(), f.begin() + static_cast<long>(cut));
    EXPECT_EQ(Parse(t), DropReason::kIpv4Truncated) << cut;
  }
  EXPECT_EQ(Parse(f), DropReason::kNone);  // exactly 20 bytes

  Frame options = Ipv4(8, 0);  // 32-byte header
  options.resize(14 + 31);
  EXPECT_EQ(Parse(options), DropReason::kIpv4Truncated);
}

TEST(Parser, RejectsBadVersionAndIhl) {
  Frame v6_in_v4 = Ipv4(5, 8, -1, 6);
  EXPECT_EQ(Parse(v6_in_v4), DropReason::kIpv4BadVersion);
  for (int ihl = 0; ihl < 5; ++ihl) {
    Frame f = Ipv4(ihl, 8);
    EXPECT_EQ(Parse(f), DropReason::kIpv4BadIhl) << ihl;
  }
}

TEST(Parser, RejectsBadTotalLength) {
  Frame short_total = Ipv4(6, 10, 23);  // below the 24-byte header
  EXPECT_EQ(Parse(short_total), DropReason::kIpv4BadTotalLength);
  Frame long_total = Ipv4(5, 10, 31);  // one byte past the frame
  EXPECT_EQ(Parse(long_total), DropReason::kIpv4BadTotalLength);
  Frame exact = Ipv4(5, 10, 30);
  EXPECT_EQ(Parse(exact), DropReason::kNone);
  Frame header_only = Ipv4(6, 10, 24);
  EXPECT_EQ(Parse(header_only), DropReason::kNone);
}

TEST(Parser, RejectsBadChecksumAnywhereInTheHeader) {
  Frame good = Ipv4(7, 4);
  for (size_t byte = 0; byte < 28; ++byte) {
    if (byte == 0 || byte == 2 || byte == 3) continue;  // version/IHL/length have their own checks
    Frame f = good;
    f[14 + byte] ^= 0x01;
    EXPECT_EQ(Parse(f), DropReason::kIpv4BadChecksum) << "byte " << byte;
  }
}

TEST(Parser, RejectsBadChecksumInAPlainHeader) {  // the 20-byte fast sum
  Frame good = Ipv4(5, 4);
  for (size_t byte = 0; byte < 20; ++byte) {
    if (byte == 0 || byte == 2 || byte == 3) continue;
    Frame f = good;
    f[14 + byte] ^= 0x80;
    EXPECT_EQ(Parse(f), DropReason::kIpv4BadChecksum) << "byte " << byte;
  }
}

// Ipv4HeaderSum's 32-bit sum of a plain header is rte_raw_cksum's exactly,
// carries and the all-zero and all-ones headers included.
TEST(Parser, Ipv4HeaderSumMatchesRawChecksum) {
  std::vector<std::array<uint8_t, 20>> headers;
  headers.push_back({});
  std::array<uint8_t, 20> ones;
  ones.fill(0xff);
  headers.push_back(ones);
  uint32_t x = 12345;
  for (int n = 0; n < 10000; ++n) {
    std::array<uint8_t, 20> h;
    for (uint8_t& b : h) {
      x = x * 1103515245u + 12345u;
      b = static_cast<uint8_t>(x >> 16);
    }
    if (n % 3 == 0) std::fill(h.begin(), h.begin() + n % 20, 0xff);  // many carries
    headers.push_back(h);
  }
  for (const auto& h : headers) {
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(h.data());
    ASSERT_EQ(Ipv4HeaderSum(ip, 20), rte_raw_cksum(h.data(), 20));
  }
}

TEST(Parser, Ipv6Edges) {
  Frame ok = Ipv6(8);
  ParsedHeaders h;
  ASSERT_EQ(Parse(ok, &h), DropReason::kNone);
  EXPECT_EQ(h.l3_type, L3Type::kIpv6);
  EXPECT_EQ(h.l3_length, 48u);
  for (size_t cut = 14; cut < 54; ++cut) {
    Frame t(ok.begin(), ok.begin() + static_cast<long>(cut));
    EXPECT_EQ(Parse(t), DropReason::kIpv6Truncated) << cut;
  }
  Frame bad_version = Ipv6(8, -1, 4);
  EXPECT_EQ(Parse(bad_version), DropReason::kIpv6BadVersion);
  Frame too_long = Ipv6(8, 9);
  EXPECT_EQ(Parse(too_long), DropReason::kIpv6BadPayloadLength);
  Frame padded = Ipv6(8, 2);
  EXPECT_EQ(Parse(padded), DropReason::kNone);
}

TEST(Parser, LengthsCheckedAgainstWholeChainedFrame) {
  // A jumbo frame whose first segment holds only the headers.
  Frame f = Ipv4(5, 3000);
  ParsedHeaders h;
  EXPECT_EQ(ParseL3(f.data(), 128, static_cast<uint32_t>(f.size()), h), DropReason::kNone);
  EXPECT_EQ(h.l3_length, 3020u);
}

}  // namespace
}  // namespace softfino::pipe
