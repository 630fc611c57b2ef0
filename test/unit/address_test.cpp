#include "softfino/net/address.h"

#include "gtest/gtest.h"

namespace softfino::net {
namespace {

TEST(Address, ParsesPrefixes) {
  auto p = ParseIpv4Prefix("10.1.0.0/16");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->addr, 0x0a010000u);
  EXPECT_EQ(p->length, 16);
  EXPECT_EQ(FormatIpv4Prefix(*p), "10.1.0.0/16");
  EXPECT_TRUE(ParseIpv4Prefix("0.0.0.0/0").ok());
  EXPECT_TRUE(ParseIpv4Prefix("1.2.3.4/32").ok());
  auto q = ParseIpv6Prefix("2001:db8:1::/48");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->addr[0], 0x20);
  EXPECT_EQ(q->addr[5], 0x01);
  EXPECT_EQ(FormatIpv6Prefix(*q), "2001:db8:1::/48");
}

TEST(Address, RefusesBadPrefixesWithTheFix) {
  EXPECT_FALSE(ParseIpv4Prefix("10.1.0.0").ok());
  EXPECT_FALSE(ParseIpv4Prefix("10.1.0.0/33").ok());
  EXPECT_FALSE(ParseIpv4Prefix("10.1.0.0/-1").ok());
  EXPECT_FALSE(ParseIpv4Prefix("10.1.0.0/1x").ok());
  EXPECT_FALSE(ParseIpv4Prefix("10.1.0/16").ok());
  EXPECT_FALSE(ParseIpv6Prefix("2001:db8::/129").ok());
  EXPECT_FALSE(ParseIpv6Prefix("10.0.0.0/8").ok());
  const auto host_bits = ParseIpv4Prefix("10.1.2.3/16");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(host_bits.status().message().find("did you mean 10.1.0.0/16?"), absl::string_view::npos)
      << host_bits.status();
  const auto host_bits6 = ParseIpv6Prefix("2001:db8::1/64");
  ASSERT_FALSE(host_bits6.ok());
  EXPECT_NE(host_bits6.status().message().find("did you mean 2001:db8::/64?"),
            absl::string_view::npos)
      << host_bits6.status();
}

TEST(Address, Macs) {
  auto m = ParseMac("02:00:0a:FF:01:10");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(FormatMac(*m), "02:00:0a:ff:01:10");
  EXPECT_TRUE(ParseMac("02-00-0a-ff-01-10").ok());
  EXPECT_FALSE(ParseMac("02:00:0a:ff:01").ok());
  EXPECT_FALSE(ParseMac("02:00:0a:ff:01:1g").ok());
  EXPECT_FALSE(ParseMac("02:00:0a:ff:01:100").ok());
}

}  // namespace
}  // namespace softfino::net
