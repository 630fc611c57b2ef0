// Longest-prefix-match tables for IPv4 and IPv6 destination addresses,
// mapping a prefix to a 24-bit action index.
//
// Why DPDK's rte_lpm / rte_lpm6: DIR-24-8 answers most lookups with one memory
// access (two for prefixes longer than /24) and has a bulk lookup that
// overlaps the misses of a whole burst. Neither accepts a /0 route, so the
// default route is kept beside the table and applied on a miss.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "softfino/net/address.h"

struct rte_lpm;
struct rte_lpm6;

namespace softfino::pipe {

struct LpmTableSize {
  uint32_t max_rules;
  uint32_t tbl8_groups;  // one per distinct /24 (IPv4) or 8-bit level (IPv6) beyond the first 24 bits
};

class Ipv4LpmTable {
 public:
  static constexpr uint32_t kMiss = 0xffffffff;
  static constexpr uint32_t kMaxValue = (1u << 24) - 1;

  static absl::StatusOr<std::unique_ptr<Ipv4LpmTable>> Create(const std::string& name,
                                                              LpmTableSize size);
  ~Ipv4LpmTable();
  Ipv4LpmTable(const Ipv4LpmTable&) = delete;
  Ipv4LpmTable& operator=(const Ipv4LpmTable&) = delete;

  // Adds or replaces the value of `prefix`.
  absl::Status Add(const net::Ipv4Prefix& prefix, uint32_t value);
  absl::Status Delete(const net::Ipv4Prefix& prefix);

  // `addr` in host byte order. Returns kMiss when no prefix covers it.
  uint32_t Lookup(uint32_t addr) const;
  // Looks up `n` addresses (host byte order) at once; misses get kMiss.
  void LookupBulk(const uint32_t* addrs, uint32_t* values, unsigned n) const;

 private:
  Ipv4LpmTable(rte_lpm* lpm) : lpm_(lpm) {}
  rte_lpm* lpm_;
  std::optional<uint32_t> default_value_;  // the /0 route
};

class Ipv6LpmTable {
 public:
  static constexpr uint32_t kMiss = 0xffffffff;
  static constexpr uint32_t kMaxValue = (1u << 21) - 1;  // rte_lpm6 keeps 21 bits of next hop

  static absl::StatusOr<std::unique_ptr<Ipv6LpmTable>> Create(const std::string& name,
                                                              LpmTableSize size);
  ~Ipv6LpmTable();
  Ipv6LpmTable(const Ipv6LpmTable&) = delete;
  Ipv6LpmTable& operator=(const Ipv6LpmTable&) = delete;

  absl::Status Add(const net::Ipv6Prefix& prefix, uint32_t value);
  absl::Status Delete(const net::Ipv6Prefix& prefix);

  // `addr`: 16 bytes in network order.
  uint32_t Lookup(const uint8_t* addr) const;
  // `addrs`: n addresses of 16 bytes each, contiguous.
  void LookupBulk(const uint8_t (*addrs)[16], uint32_t* values, unsigned n) const;

 private:
  Ipv6LpmTable(rte_lpm6* lpm) : lpm_(lpm) {}
  rte_lpm6* lpm_;
  std::optional<uint32_t> default_value_;
};

}  // namespace softfino::pipe
