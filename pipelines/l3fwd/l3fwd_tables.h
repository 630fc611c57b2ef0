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
#include "softfino/pipe/exact_table.h"
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
  // The entry's key: routes name next hops by id, and nexthop_counter counts by id.
  uint16_t id = 0;
};

// The nexthop table as p4/l3fwd.p4 declares it: exact on nexthop_id, a
// direct counter (packets and bytes per entry) and idle_timeout = true
// (entries may take a TTL, "ttl_ms"). The ExactTable keeps the entries with
// their handles, counters and TTLs; the pipes read `L3fwdTables::nexthops`.
using L3fwdNexthopTable = pipe::ExactTable<2, L3fwdNexthop>;
inline pipe::Key<2> L3fwdNexthopKey(uint16_t id) { return pipe::MakeKey(pipe::field::U16{id}); }
inline constexpr uint16_t kL3fwdForwardAction = 1;  // 0: the default action, drop

struct L3fwdTables {
  static constexpr uint32_t kNexthopTableSize = 1024;
  static constexpr pipe::LpmTableSize kIpv4LpmSize{16384, 4096};
  static constexpr pipe::LpmTableSize kIpv6LpmSize{4096, 16384};

  // An empty version whose nexthop table has one set of direct-counter and
  // idle cells per pipe.
  static absl::StatusOr<L3fwdTables> Empty(uint16_t pipes);

  // The nexthop table's entries. Versions that did not change it share it;
  // once published it never changes (a batch that changes it clones it).
  // All its clones share the entries' counters and idle state, so a commit
  // loses no hit a pipe counted on the version it replaces.
  std::shared_ptr<L3fwdNexthopTable> nexthop;
  // What the pipes read, indexed by an entry's handle, which is also the
  // value the route tables hold. A handle stays put while its next hop
  // exists, so adding or changing a next hop never forces the route tables
  // to be rebuilt. A version whose routes did not change shares its
  // predecessor's LPM (rte_lpm has no cheap copy).
  std::vector<L3fwdNexthop> nexthops;
  std::shared_ptr<const pipe::Ipv4LpmTable> ipv4_lpm;
  std::shared_ptr<const pipe::Ipv6LpmTable> ipv6_lpm;

  // The routes as data: rte_lpm cannot list its rules, and a new version's
  // LPM is rebuilt from these. `nexthop_ids` lists the next hops in id order
  // with the number of routes that use each: one cannot go while any does.
  std::map<uint16_t, uint32_t> nexthop_ids;
  std::map<std::pair<uint32_t, uint8_t>, uint16_t> ipv4_routes;  // (addr, length) -> nexthop_id
  std::map<std::pair<std::array<uint8_t, 16>, uint8_t>, uint16_t> ipv6_routes;

  // Entries of one table in config form; `table` is one of kTableNames.
  // Next hops with a TTL show it as "ttl_ms".
  nlohmann::json Dump(absl::string_view table) const;
  // The handle of the next hop that `entry` ({"key": {"nexthop_id": N}})
  // names; errors name `path`.
  absl::StatusOr<pipe::EntryHandle> FindNexthop(const nlohmann::json& entry,
                                                absl::string_view path) const;
  pipe::EntryHandle HandleOf(uint16_t id) const {
    return nexthop->Get(L3fwdNexthopKey(id))->handle;
  }
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
  // The nexthop table this builder may change: a clone of the base's, made
  // at the first change.
  absl::StatusOr<L3fwdNexthopTable*> MutableNexthop();

  std::unique_ptr<L3fwdTables> next_;
  const uint16_t port_count_;
  bool nexthop_cloned_ = false;
  // Fresh LPMs, built from the routes as they stood before the first route
  // op and then changed op by op, so an LPM error names its op.
  std::unique_ptr<pipe::Ipv4LpmTable> ipv4_;
  std::unique_ptr<pipe::Ipv6LpmTable> ipv6_;

  friend struct Ipv4Family;
  friend struct Ipv6Family;
};

}  // namespace softfino::pipelines
