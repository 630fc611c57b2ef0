#include "softfino/pipe/lpm_table.h"

#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace softfino::pipe {
namespace {

// rte_lpm objects live in named memzones; one process may build many tables
// (tests, several switches), so names are made unique here.
std::string UniqueName(const std::string& name) {
  static std::atomic<uint32_t> next{0};
  return absl::StrCat(name.substr(0, 16), "_", next.fetch_add(1));
}

absl::Status RuleError(int rc, const std::string& prefix) {
  if (rc == -ENOSPC) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no room for route ", prefix, ": the table is full (max rules or tbl8 groups)"));
  }
  return absl::InvalidArgumentError(absl::StrCat("cannot add route ", prefix, ": ", rte_strerror(-rc)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Ipv4LpmTable>> Ipv4LpmTable::Create(const std::string& name,
                                                                    LpmTableSize size) {
  rte_lpm_config config{};
  config.max_rules = size.max_rules;
  config.number_tbl8s = size.tbl8_groups;
  rte_lpm* lpm = rte_lpm_create(UniqueName(name).c_str(), SOCKET_ID_ANY, &config);
  if (lpm == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot create IPv4 LPM table '", name, "' (", size.max_rules, " rules): ",
        rte_strerror(rte_errno), "; give DPDK more memory (EAL -m) or make the table smaller"));
  }
  return std::unique_ptr<Ipv4LpmTable>(new Ipv4LpmTable(lpm));
}

Ipv4LpmTable::~Ipv4LpmTable() { rte_lpm_free(lpm_); }

absl::Status Ipv4LpmTable::Add(const net::Ipv4Prefix& prefix, uint32_t value) {
  if (value > kMaxValue) {
    return absl::OutOfRangeError(absl::StrCat("value ", value, " exceeds ", kMaxValue));
  }
  if (prefix.length == 0) {
    default_value_ = value;
    return absl::OkStatus();
  }
  const int rc = rte_lpm_add(lpm_, prefix.addr, prefix.length, value);
  return rc == 0 ? absl::OkStatus() : RuleError(rc, net::FormatIpv4Prefix(prefix));
}

absl::Status Ipv4LpmTable::Delete(const net::Ipv4Prefix& prefix) {
  const bool absent = prefix.length == 0 ? !default_value_.has_value()
                                         : rte_lpm_delete(lpm_, prefix.addr, prefix.length) != 0;
  if (absent) {
    return absl::NotFoundError(absl::StrCat("no route ", net::FormatIpv4Prefix(prefix)));
  }
  if (prefix.length == 0) default_value_.reset();
  return absl::OkStatus();
}

uint32_t Ipv4LpmTable::Lookup(uint32_t addr) const {
  uint32_t value;
  if (rte_lpm_lookup(lpm_, addr, &value) == 0) return value;
  return default_value_.value_or(kMiss);
}

// Four at a time with rte_lpm_lookupx4 (SSE on x86: four table reads and
// one test when none needs a second level), which also puts the default
// route in place of a miss; the last few one by one. A third fewer
// instructions than rte_lpm_lookup_bulk, which takes two passes and left
// misses to a third here.
void Ipv4LpmTable::LookupBulk(const uint32_t* addrs, uint32_t* values, unsigned n) const {
  const uint32_t on_miss = default_value_.value_or(kMiss);
  unsigned i = 0;
  for (; i + 4 <= n; i += 4) {
    rte_xmm_t ips;  // an unaligned 16-byte load
    std::memcpy(ips.u32, addrs + i, sizeof(ips.u32));
    rte_lpm_lookupx4(lpm_, ips.x, values + i, on_miss);
  }
  for (; i < n; ++i) {
    uint32_t value;
    values[i] = rte_lpm_lookup(lpm_, addrs[i], &value) == 0 ? value : on_miss;
  }
}

absl::StatusOr<std::unique_ptr<Ipv6LpmTable>> Ipv6LpmTable::Create(const std::string& name,
                                                                    LpmTableSize size) {
  rte_lpm6_config config{};
  config.max_rules = size.max_rules;
  config.number_tbl8s = size.tbl8_groups;
  rte_lpm6* lpm = rte_lpm6_create(UniqueName(name).c_str(), SOCKET_ID_ANY, &config);
  if (lpm == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot create IPv6 LPM table '", name, "' (", size.max_rules, " rules): ",
        rte_strerror(rte_errno), "; give DPDK more memory (EAL -m) or make the table smaller"));
  }
  return std::unique_ptr<Ipv6LpmTable>(new Ipv6LpmTable(lpm));
}

Ipv6LpmTable::~Ipv6LpmTable() { rte_lpm6_free(lpm_); }

absl::Status Ipv6LpmTable::Add(const net::Ipv6Prefix& prefix, uint32_t value) {
  if (value > kMaxValue) {
    return absl::OutOfRangeError(absl::StrCat("value ", value, " exceeds ", kMaxValue));
  }
  if (prefix.length == 0) {
    default_value_ = value;
    return absl::OkStatus();
  }
  const int rc = rte_lpm6_add(lpm_, prefix.addr.data(), prefix.length, value);
  return rc == 0 ? absl::OkStatus() : RuleError(rc, net::FormatIpv6Prefix(prefix));
}

absl::Status Ipv6LpmTable::Delete(const net::Ipv6Prefix& prefix) {
  const bool absent = prefix.length == 0
                          ? !default_value_.has_value()
                          : rte_lpm6_delete(lpm_, prefix.addr.data(), prefix.length) != 0;
  if (absent) {
    return absl::NotFoundError(absl::StrCat("no route ", net::FormatIpv6Prefix(prefix)));
  }
  if (prefix.length == 0) default_value_.reset();
  return absl::OkStatus();
}

uint32_t Ipv6LpmTable::Lookup(const uint8_t* addr) const {
  uint32_t value;
  if (rte_lpm6_lookup(lpm_, addr, &value) == 0) return value;
  return default_value_.value_or(kMiss);
}

void Ipv6LpmTable::LookupBulk(const uint8_t (*addrs)[16], uint32_t* values, unsigned n) const {
  constexpr unsigned kChunk = 64;
  int32_t found[kChunk];
  const uint32_t on_miss = default_value_.value_or(kMiss);
  for (unsigned base = 0; base < n; base += kChunk) {
    const unsigned m = std::min(kChunk, n - base);
    // rte_lpm6 takes a non-const array but only reads it.
    rte_lpm6_lookup_bulk_func(lpm_, const_cast<uint8_t (*)[16]>(addrs + base), found, m);
    for (unsigned i = 0; i < m; ++i) {
      values[base + i] = found[i] < 0 ? on_miss : static_cast<uint32_t>(found[i]);
    }
  }
}

}  // namespace softfino::pipe
