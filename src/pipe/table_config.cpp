#include "softfino/pipe/table_config.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::pipe {
namespace {

bool Contains(absl::Span<const absl::string_view> names, absl::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string Quoted(absl::Span<const absl::string_view> names) {
  return absl::StrJoin(names, ", ", [](std::string* out, absl::string_view n) {
    absl::StrAppend(out, "'", n, "'");
  });
}

// Fails when `object` has a member not in `allowed`.
absl::Status CheckMembers(const nlohmann::json& object, absl::string_view path,
                          absl::Span<const absl::string_view> allowed) {
  for (const auto& [name, value] : object.items()) {
    if (!Contains(allowed, name)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": unknown field '", name,
                                                     "' (expected ", Quoted(allowed), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TableEntry::Error(absl::string_view part, absl::string_view message) const {
  return absl::InvalidArgumentError(
      absl::StrCat(path_, part.empty() ? "" : ".", part, ": ", message));
}

absl::Status TableEntry::CheckShape(absl::Span<const absl::string_view> key_fields,
                                    absl::Span<const absl::string_view> actions,
                                    absl::Span<const absl::string_view> data_fields,
                                    bool ttl) const {
  if (!entry_.is_object()) return Error("", "an entry must be an object with key, action, data");
  const bool has_data = data_fields.size() > 0;
  std::vector<absl::string_view> members = {"key", "action"};
  if (has_data) members.push_back("data");
  if (ttl) members.push_back("ttl_ms");
  if (auto s = CheckMembers(entry_, path_, members); !s.ok()) return s;
  for (absl::string_view part : {"key", "action", "data"}) {
    if (part == "data" && !has_data) break;
    if (!entry_.contains(part)) return Error(part, "missing");
  }
  if (!entry_["key"].is_object()) return Error("key", "must be an object");
  if (auto s = CheckMembers(entry_["key"], absl::StrCat(path_, ".key"), key_fields); !s.ok()) return s;
  auto action = Action();
  if (!action.ok()) return action.status();
  if (!Contains(actions, *action)) {
    return Error("action", absl::StrCat("unknown action '", *action, "' (expected ", Quoted(actions), ")"));
  }
  if (has_data) {
    if (!entry_["data"].is_object()) return Error("data", "must be an object");
    if (auto s = CheckMembers(entry_["data"], absl::StrCat(path_, ".data"), data_fields); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint32_t>> TableEntry::TtlMs() const {
  const auto it = entry_.find("ttl_ms");
  if (it == entry_.end()) return std::optional<uint32_t>();
  const nlohmann::json& v = *it;
  const bool non_negative =
      v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
  if (!non_negative || v.get<uint64_t>() > kMaxTtlMs) {
    return Error("ttl_ms", absl::StrCat(v.dump(), " is not an integer in 0..", kMaxTtlMs,
                                        " (ms; 0: the entry never ages out)"));
  }
  return std::optional<uint32_t>(static_cast<uint32_t>(v.get<uint64_t>()));
}

absl::StatusOr<std::string> TableEntry::Action() const {
  const auto it = entry_.find("action");
  if (it == entry_.end()) return Error("action", "missing");
  if (!it->is_string()) return Error("action", "must be a string");
  return it->get<std::string>();
}

absl::StatusOr<const nlohmann::json*> TableEntry::Field(absl::string_view object,
                                                        absl::string_view field) const {
  const auto obj = entry_.find(object);
  if (obj == entry_.end() || !obj->is_object()) return Error(object, "missing");
  const auto it = obj->find(field);
  if (it == obj->end()) return Error(absl::StrCat(object, ".", field), "missing");
  return &*it;
}

absl::StatusOr<uint64_t> TableEntry::Uint(absl::string_view object, absl::string_view field,
                                          uint64_t max) const {
  auto value = Field(object, field);
  if (!value.ok()) return value.status();
  const nlohmann::json& v = **value;
  // JSON built in code holds signed integers, parsed JSON unsigned ones.
  const bool non_negative =
      v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
  if (!non_negative || v.get<uint64_t>() > max) {
    return Error(absl::StrCat(object, ".", field),
                 absl::StrCat(v.dump(), " is not an integer in 0..", max));
  }
  return v.get<uint64_t>();
}

absl::StatusOr<std::string> TableEntry::String(absl::string_view object,
                                               absl::string_view field) const {
  auto value = Field(object, field);
  if (!value.ok()) return value.status();
  if (!(*value)->is_string()) {
    return Error(absl::StrCat(object, ".", field), absl::StrCat((*value)->dump(), " must be a string"));
  }
  return (*value)->get<std::string>();
}

absl::StatusOr<uint64_t> TableEntry::KeyUint(absl::string_view field, uint64_t max) const {
  return Uint("key", field, max);
}

absl::StatusOr<uint64_t> TableEntry::DataUint(absl::string_view field, uint64_t max) const {
  return Uint("data", field, max);
}

absl::StatusOr<net::Ipv4Prefix> TableEntry::KeyIpv4Prefix(absl::string_view field) const {
  auto text = String("key", field);
  if (!text.ok()) return text.status();
  auto prefix = net::ParseIpv4Prefix(*text);
  if (!prefix.ok()) return Error(absl::StrCat("key.", field), prefix.status().message());
  return prefix;
}

absl::StatusOr<net::Ipv6Prefix> TableEntry::KeyIpv6Prefix(absl::string_view field) const {
  auto text = String("key", field);
  if (!text.ok()) return text.status();
  auto prefix = net::ParseIpv6Prefix(*text);
  if (!prefix.ok()) return Error(absl::StrCat("key.", field), prefix.status().message());
  return prefix;
}

absl::StatusOr<net::MacAddress> TableEntry::DataMac(absl::string_view field) const {
  auto text = String("data", field);
  if (!text.ok()) return text.status();
  auto mac = net::ParseMac(*text);
  if (!mac.ok()) return Error(absl::StrCat("data.", field), mac.status().message());
  return mac;
}

absl::Status CheckTableNames(const nlohmann::json& config,
                             absl::Span<const absl::string_view> known) {
  if (config.is_null()) return absl::OkStatus();
  if (!config.is_object()) return absl::InvalidArgumentError("the config must be a JSON object");
  // Everything but "tables" belongs to the switch (control/*_config.h).
  if (auto s = CheckMembers(config, "config",
                            {"tables", "ports", "multicast_groups", "mirror_sessions", "pktgen",
                             "rdma"});
      !s.ok()) {
    return s;
  }
  const auto tables = config.find("tables");
  if (tables == config.end()) return absl::OkStatus();
  if (!tables->is_object()) {
    return absl::InvalidArgumentError("tables: must be an object of table name -> entries");
  }
  for (const auto& [name, entries] : tables->items()) {
    if (!Contains(known, name)) {
      return absl::InvalidArgumentError(absl::StrCat("tables.", name, ": no such table in this program (it has ",
                                                     Quoted(known), ")"));
    }
    if (!entries.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("tables.", name, ": must be an array of entries"));
    }
  }
  return absl::OkStatus();
}

absl::Status ForEachEntry(const nlohmann::json& config, absl::string_view table,
                          const std::function<absl::Status(const TableEntry&)>& visit) {
  if (config.is_null() || !config.contains("tables")) return absl::OkStatus();
  const nlohmann::json& tables = config["tables"];
  const auto it = tables.find(table);
  if (it == tables.end()) return absl::OkStatus();
  for (size_t i = 0; i < it->size(); ++i) {
    const TableEntry entry((*it)[i], absl::StrCat("tables.", table, "[", i, "]"));
    if (absl::Status s = visit(entry); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace softfino::pipe
