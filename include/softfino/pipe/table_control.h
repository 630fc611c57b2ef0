// The control plane's view of a program's tables: batches of add / modify /
// delete applied all or nothing, and the entries read back, all in the JSON
// shape of the config file (table_config.h), so what `table_dump` prints can
// be pasted into a config and an entry from a config can be sent as an op.
//
// A program that supports live updates keeps its tables in a
// Versioned<...> (versioned.h) and implements this; the slow path calls it
// (never a pipe), one call at a time.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "softfino/pipe/table_config.h"
#include "softfino/pipe/versioned.h"

namespace softfino::pipe {

enum class TableOpKind { kAdd, kModify, kDelete };

// One op of a batch, pointing into the request it was parsed from.
struct TableOp {
  TableOpKind kind = TableOpKind::kAdd;
  std::string table;
  const nlohmann::json* entry = nullptr;
  std::string path;  // of the entry, for errors: "ops[3].entry"
};

// What a commit cost, for the reply and for measurement.
struct CommitStats {
  size_t ops = 0;
  double build_us = 0;  // clone, apply, validate, rebuild derived structures
  double wait_us = 0;   // publish and wait for the grace period
};

// Parses [{"op": "add"|"modify"|"delete", "table": NAME, "entry": {...}}, ...]
// found at `path` (for errors: "ops[2].table: ..."). Every table must be one
// of `tables`. Entries are checked later, by the program.
absl::StatusOr<std::vector<TableOp>> ParseTableOps(const nlohmann::json& ops,
                                                   absl::string_view path,
                                                   absl::Span<const std::string> tables);

// A delete (or `who` else: "a counter read") names only the entry's key:
// {"key": {...}} with fields among `key_fields`.
absl::Status CheckKeyOnly(const nlohmann::json& entry, absl::string_view path,
                          absl::Span<const absl::string_view> key_fields,
                          absl::string_view who = "a delete");

absl::string_view TableOpName(TableOpKind kind);

class TableControl {
 public:
  virtual ~TableControl() = default;

  // The tables the control plane may change, in the program's order.
  virtual std::vector<std::string> TableNames() const = 0;

  // Applies `ops` in order to a copy of the current tables and, when all
  // succeed, publishes the copy to the pipes in one step (then waits for
  // `rcu`'s grace period to free the old tables). On the first error nothing
  // has changed, and the error names the op's path and field.
  virtual absl::StatusOr<CommitStats> Commit(absl::Span<const TableOp> ops,
                                             const RcuDomain& rcu) = 0;

  // The entries of `table` (one of TableNames()) as a config file lists them.
  virtual absl::StatusOr<nlohmann::json> Dump(absl::string_view table) const = 0;

  // --- Direct counters (TNA DirectCounter, packets and bytes per entry) ---
  // Pipes count into per-pipe cells without a lock; reads sum the pipes,
  // less what the last clear took away (pipe/table_key.h: EntryStates).

  // The tables of TableNames() that have a direct counter, in that order.
  virtual std::vector<std::string> CounterTableNames() const { return {}; }

  // The direct counter of every entry of `table` (one of
  // CounterTableNames()), in Dump()'s order, as
  //   [{"key": {...}, "counter": {"packets": P, "bytes": B}}, ...]
  // or, when `entry` is not null, of the one entry whose key it gives
  // ({"key": {...}}, as a delete names an entry; `path` names it in errors).
  // A key not in the table is an error.
  virtual absl::StatusOr<nlohmann::json> ReadCounters(absl::string_view table,
                                                      const nlohmann::json* /*entry*/,
                                                      absl::string_view /*path*/) const {
    return absl::UnimplementedError(absl::StrCat("table '", table, "' has no direct counter"));
  }

  // Zeroes the direct counters that ReadCounters(table, entry, path) would
  // read; returns how many. On an error nothing was cleared.
  virtual absl::StatusOr<size_t> ClearCounters(absl::string_view table,
                                               const nlohmann::json* /*entry*/,
                                               absl::string_view /*path*/) {
    return absl::UnimplementedError(absl::StrCat("table '", table, "' has no direct counter"));
  }
};

}  // namespace softfino::pipe
