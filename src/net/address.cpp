#include "softfino/net/address.h"

#include <arpa/inet.h>

#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace softfino::net {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "addr/len" and parses len in [0, max_length].
absl::Status SplitPrefix(absl::string_view text, int max_length, std::string& addr, uint8_t& length,
                         absl::string_view family) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an ", family, " prefix: expected address/length"));
  }
  addr = std::string(text.substr(0, slash));
  absl::string_view len_text = text.substr(slash + 1);
  int value = -1;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), value);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || value < 0 ||
      value > max_length) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' has a bad prefix length: expected 0-",
                                                   max_length));
  }
  length = static_cast<uint8_t>(value);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MacAddress> ParseMac(absl::string_view text) {
  MacAddress mac{};
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a MAC address: expected six hex bytes like 02:00:00:00:00:01"));
  };
  if (text.size() != 17) return bad();
  for (int i = 0; i < 6; ++i) {
    const int hi = HexDigit(text[i * 3]);
    const int lo = HexDigit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return bad();
    if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return bad();
    mac[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return mac;
}

std::string FormatMac(const MacAddress& mac) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
}

absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(absl::string_view text) {
  std::string addr_text;
  Ipv4Prefix prefix;
  if (absl::Status s = SplitPrefix(text, 32, addr_text, prefix.length, "IPv4"); !s.ok()) return s;
  in_addr addr{};
  if (inet_pton(AF_INET, addr_text.c_str(), &addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an IPv4 prefix: '", addr_text, "' is not an IPv4 address"));
  }
  prefix.addr = ntohl(addr.s_addr);
  const uint32_t mask = prefix.length == 0 ? 0 : ~uint32_t{0} << (32 - prefix.length);
  if ((prefix.addr & ~mask) != 0) {
    Ipv4Prefix fixed{prefix.addr & mask, prefix.length};
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' has host bits set past /",
                                                   prefix.length, "; did you mean ",
                                                   FormatIpv4Prefix(fixed), "?"));
  }
  return prefix;
}

absl::StatusOr<Ipv6Prefix> ParseIpv6Prefix(absl::string_view text) {
  std::string addr_text;
  Ipv6Prefix prefix;
  if (absl::Status s = SplitPrefix(text, 128, addr_text, prefix.length, "IPv6"); !s.ok()) return s;
  if (inet_pton(AF_INET6, addr_text.c_str(), prefix.addr.data()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an IPv6 prefix: '", addr_text, "' is not an IPv6 address"));
  }
  Ipv6Prefix fixed = prefix;
  for (int bit = prefix.length; bit < 128; ++bit) {
    fixed.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (fixed.addr != prefix.addr) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' has host bits set past /",
                                                   prefix.length, "; did you mean ",
                                                   FormatIpv6Prefix(fixed), "?"));
  }
  return prefix;
}

std::string FormatIpv4Prefix(const Ipv4Prefix& prefix) {
  in_addr addr{htonl(prefix.addr)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, buf, sizeof(buf));
  return absl::StrCat(buf, "/", prefix.length);
}

std::string FormatIpv6Prefix(const Ipv6Prefix& prefix) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, prefix.addr.data(), buf, sizeof(buf));
  return absl::StrCat(buf, "/", prefix.length);
}

}  // namespace softfino::net
