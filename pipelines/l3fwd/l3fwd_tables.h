// l3fwd's tables as one immutable version (pipe/versioned.h), and how the
// next version is built from the current one, op by op, for the config file
// and for control-plane batches alike (so both give the same errors).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/net/address.h"
#include "softfino/pipe/intrinsic_metadata.h"
#include "softfino/pipe/lpm_table.h"
#include "softfino/pipe/table_config.h"
#include "softfino/pipe/table_control.h"

namespace softfino::pipelines {

// Action data of the nexthop table's `forward` action.
struct L3fwdNexthop {
  pipe::PortId port = 0;
  net::MacAddress src_mac{};
  net::MacAddress dst_mac{};
  // The entry's key: routes name slots, and nexthop_counter counts by id.
  uint16_t id = 0;
};

struct L3fwdTables {
  static constexpr uint32_t kNexthopTableSize = 1024;
  static constexpr pipe::LpmTableSize kIpv4LpmSize{16384, 4096};
  static constexpr pipe::LpmTableSize kIpv6LpmSize{4096, 16384};

  // What the pipes read. Route values are slots of `nexthops`, which stay put
  // while a next hop exists, so adding or changing a next hop never forces
  // the route tables to be rebuilt. A version whose routes did not change
  // shares its predecessor's LPM (rte_lpm has no cheap copy).
  std::vector<L3fwdNexthop> nexthops;
  std::shared_ptr<const pipe::Ipv4LpmTable> ipv4_lpm;
  std::shared_ptr<const pipe::Ipv6LpmTable> ipv6_lpm;

  // The entries as data: rte_lpm cannot list its rules, and a new version's
  // LPM is rebuilt from these.
  struct NexthopEntry {
    uint32_t slot = 0;
    uint32_t routes = 0;  // routes that use it: it cannot go while any does
  };
  std::map<uint16_t, NexthopEntry> nexthop_ids;
  std::vector<uint32_t> free_slots;
  std::map<std::pair<uint32_t, uint8_t>, uint16_t> ipv4_routes;  // (addr, length) -> nexthop_id
  std::map<std::pair<std::array<uint8_t, 16>, uint8_t>, uint16_t> ipv6_routes;

  // Entries of one table in config form; `table` is one of kTableNames.
  nlohmann::json Dump(absl::string_view table) const;
};

inline constexpr absl::string_view kL3fwdTableNames[] = {"nexthop", "ipv4_lpm", "ipv6_lpm"};

// Builds the version after `base` from ops applied in order. Each op is
// checked against the state the earlier ops left (a batch may add a next hop
// and then routes to it). Nothing is visible to anyone until Finish().
class L3fwdTableBuilder {
 public:
  L3fwdTableBuilder(const L3fwdTables& base, uint16_t port_count);

  // `from_config`: the entry comes from a config file, where a repeated key
  // is "defined twice" rather than an add of an existing entry.
  // `path` names the entry in errors ("ops[2].entry", "tables.nexthop[0]").
  absl::Status Apply(pipe::TableOpKind kind, absl::string_view table, const nlohmann::json& entry,
                     const std::string& path, bool from_config = false);
  // The new version. Creates both LPMs when the base had none (the first
  // version), else only those whose routes changed.
  absl::StatusOr<std::unique_ptr<const L3fwdTables>> Finish();

 private:
  absl::Status ApplyNexthop(pipe::TableOpKind kind, const nlohmann::json& entry,
                            const pipe::TableEntry& e, bool from_config);
  template <typename Family>
  absl::Status ApplyRoute(pipe::TableOpKind kind, const nlohmann::json& entry,
                          const pipe::TableEntry& e, bool from_config);
  absl::Status EnsureIpv4();
  absl::Status EnsureIpv6();

  std::unique_ptr<L3fwdTables> next_;
  const uint16_t port_count_;
  // Fresh LPMs, built from the routes as they stood before the first route
  // op and then changed op by op, so an LPM error names its op.
  std::unique_ptr<pipe::Ipv4LpmTable> ipv4_;
  std::unique_ptr<pipe::Ipv6LpmTable> ipv6_;

  friend struct Ipv4Family;
  friend struct Ipv6Family;
};

}  // namespace softfino::pipelines
