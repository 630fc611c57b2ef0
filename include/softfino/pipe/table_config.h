// Reading table entries from a JSON config, in the shape of P4Runtime/bfrt:
//   {"key": {...}, "action": "name", "data": {...}}
// Every error names the entry's path (e.g. tables.ipv4_lpm[3].key.dst_addr)
// and what is wrong, so a user can fix the file without reading our code.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "softfino/net/address.h"

namespace softfino::pipe {

class TableEntry {
 public:
  TableEntry(const nlohmann::json& entry, std::string path) : entry_(entry), path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  // Checks the entry's shape: an object with exactly `key`, `action` and
  // (when `data_fields` is not empty) `data`, naming only the given fields;
  // with `ttl` (a table declared with idle_timeout) also an optional
  // `ttl_ms`.
  absl::Status CheckShape(absl::Span<const absl::string_view> key_fields,
                          absl::Span<const absl::string_view> actions,
                          absl::Span<const absl::string_view> data_fields,
                          bool ttl = false) const;

  // The entry's idle timeout, `ttl_ms` (bfrt's $ENTRY_TTL, in ms), at most
  // kMaxTtlMs; nullopt when the entry gives none.
  static constexpr uint64_t kMaxTtlMs = 86'400'000;  // a day
  absl::StatusOr<std::optional<uint32_t>> TtlMs() const;

  absl::StatusOr<std::string> Action() const;
  absl::StatusOr<uint64_t> KeyUint(absl::string_view field, uint64_t max) const;
  absl::StatusOr<net::Ipv4Prefix> KeyIpv4Prefix(absl::string_view field) const;
  absl::StatusOr<net::Ipv6Prefix> KeyIpv6Prefix(absl::string_view field) const;
  absl::StatusOr<uint64_t> DataUint(absl::string_view field, uint64_t max) const;
  absl::StatusOr<net::MacAddress> DataMac(absl::string_view field) const;

  // An error about this entry's `part` (e.g. "data.port").
  absl::Status Error(absl::string_view part, absl::string_view message) const;

 private:
  absl::StatusOr<const nlohmann::json*> Field(absl::string_view object, absl::string_view field) const;
  absl::StatusOr<uint64_t> Uint(absl::string_view object, absl::string_view field, uint64_t max) const;
  absl::StatusOr<std::string> String(absl::string_view object, absl::string_view field) const;

  const nlohmann::json& entry_;
  std::string path_;
};

// Calls `visit` for each entry of `tables.<name>` (absent means none), in
// order, stopping at the first error. Also refuses a `tables` object that
// names a table not in `known`, which is almost always a typo.
absl::Status CheckTableNames(const nlohmann::json& config,
                             absl::Span<const absl::string_view> known);
absl::Status ForEachEntry(const nlohmann::json& config, absl::string_view table,
                          const std::function<absl::Status(const TableEntry&)>& visit);

}  // namespace softfino::pipe
