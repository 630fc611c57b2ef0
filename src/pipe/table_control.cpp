#include "softfino/pipe/table_control.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::pipe {
namespace {

template <typename Names>
std::string Quoted(const Names& names) {
  return absl::StrJoin(names, ", ", [](std::string* out, absl::string_view n) {
    absl::StrAppend(out, "'", n, "'");
  });
}

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

}  // namespace

absl::string_view TableOpName(TableOpKind kind) {
  switch (kind) {
    case TableOpKind::kAdd:
      return "add";
    case TableOpKind::kModify:
      return "modify";
    case TableOpKind::kDelete:
      return "delete";
  }
  return "?";
}

absl::StatusOr<std::vector<TableOp>> ParseTableOps(const nlohmann::json& ops,
                                                   absl::string_view path,
                                                   absl::Span<const std::string> tables) {
  if (!ops.is_array()) {
    return Invalid(path, R"(must be an array of {"op": "add"|"modify"|"delete", "table": NAME, )"
                         R"("entry": {...}})");
  }
  std::vector<TableOp> out;
  out.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string at = absl::StrCat(path, "[", i, "]");
    const nlohmann::json& op = ops[i];
    if (!op.is_object()) return Invalid(at, "an op must be an object with op, table, entry");
    for (const auto& [name, value] : op.items()) {
      if (name != "op" && name != "table" && name != "entry") {
        return Invalid(at, absl::StrCat("unknown field '", name, "' (expected 'op', 'table', 'entry')"));
      }
    }
    TableOp parsed;
    const auto kind = op.find("op");
    if (kind == op.end()) return Invalid(absl::StrCat(at, ".op"), "missing");
    const std::string kind_text = kind->is_string() ? kind->get<std::string>() : kind->dump();
    if (kind_text == "add") {
      parsed.kind = TableOpKind::kAdd;
    } else if (kind_text == "modify") {
      parsed.kind = TableOpKind::kModify;
    } else if (kind_text == "delete") {
      parsed.kind = TableOpKind::kDelete;
    } else {
      return Invalid(absl::StrCat(at, ".op"), absl::StrCat("unknown op '", kind_text,
                                                           "' (expected 'add', 'modify', 'delete')"));
    }
    const auto table = op.find("table");
    if (table == op.end()) return Invalid(absl::StrCat(at, ".table"), "missing");
    if (!table->is_string() ||
        std::find(tables.begin(), tables.end(), table->get<std::string>()) == tables.end()) {
      return Invalid(absl::StrCat(at, ".table"),
                     absl::StrCat("no such table ",
                                  table->is_string() ? absl::StrCat("'", table->get<std::string>(), "'")
                                                     : table->dump(),
                                  " in this program (it has ", Quoted(tables), ")"));
    }
    parsed.table = table->get<std::string>();
    const auto entry = op.find("entry");
    if (entry == op.end()) return Invalid(absl::StrCat(at, ".entry"), "missing");
    parsed.entry = &*entry;
    parsed.path = absl::StrCat(at, ".entry");
    out.push_back(std::move(parsed));
  }
  return out;
}

absl::Status CheckKeyOnly(const nlohmann::json& entry, absl::string_view path,
                          absl::Span<const absl::string_view> key_fields, absl::string_view who) {
  if (!entry.is_object()) {
    return Invalid(path, absl::StrCat(who, R"( names the entry's key: {"key": {...}})"));
  }
  for (const auto& [name, value] : entry.items()) {
    if (name != "key") {
      return Invalid(path, absl::StrCat("unknown field '", name, "': ", who,
                                        " names only the entry's key"));
    }
  }
  const auto key = entry.find("key");
  if (key == entry.end()) return Invalid(absl::StrCat(path, ".key"), "missing");
  if (!key->is_object()) return Invalid(absl::StrCat(path, ".key"), "must be an object");
  for (const auto& [name, value] : key->items()) {
    if (std::find(key_fields.begin(), key_fields.end(), name) == key_fields.end()) {
      return Invalid(absl::StrCat(path, ".key"), absl::StrCat("unknown field '", name,
                                                              "' (expected ", Quoted(key_fields), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace softfino::pipe
