// Text forms of addresses and prefixes, for configs and the control plane.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"

namespace softfino::net {

using MacAddress = std::array<uint8_t, 6>;

struct Ipv4Prefix {
  uint32_t addr = 0;  // host byte order
  uint8_t length = 0;
  friend bool operator==(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

struct Ipv6Prefix {
  std::array<uint8_t, 16> addr{};  // network byte order
  uint8_t length = 0;
  friend bool operator==(const Ipv6Prefix&, const Ipv6Prefix&) = default;
};

// "02:00:00:00:01:0a" (also accepts '-' separators).
absl::StatusOr<MacAddress> ParseMac(absl::string_view text);
std::string FormatMac(const MacAddress& mac);

// "10.1.0.0/16". Host bits past the length must be zero: a route written as
// 10.1.2.3/16 is almost always a typo, so it is refused with the fix named.
absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(absl::string_view text);
absl::StatusOr<Ipv6Prefix> ParseIpv6Prefix(absl::string_view text);
std::string FormatIpv4Prefix(const Ipv4Prefix& prefix);
std::string FormatIpv6Prefix(const Ipv6Prefix& prefix);

}  // namespace softfino::net
