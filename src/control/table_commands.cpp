#include "softfino/control/table_commands.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::control {
namespace {

using nlohmann::json;

json StatsJson(const pipe::CommitStats& stats) {
  return {{"committed", stats.ops}, {"build_us", stats.build_us}, {"wait_us", stats.wait_us}};
}

// The `table` argument, which must name one of the program's tables.
absl::StatusOr<std::string> TableArg(const pipe::TableControl& tables, const json& args) {
  const std::vector<std::string> names = tables.TableNames();
  const auto it = args.find("table");
  const std::string known = absl::StrJoin(names, ", ", [](std::string* out, const std::string& n) {
    absl::StrAppend(out, "'", n, "'");
  });
  if (it == args.end()) {
    return absl::InvalidArgumentError(absl::StrCat("table: missing; this program has ", known));
  }
  if (!it->is_string() || std::find(names.begin(), names.end(), it->get<std::string>()) == names.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table: no such table ", it->is_string() ? absl::StrCat("'", it->get<std::string>(), "'") : it->dump(),
        " in this program (it has ", known, ")"));
  }
  return it->get<std::string>();
}

std::string Quoted(const std::vector<std::string>& names) {
  return absl::StrJoin(names, ", ", [](std::string* out, const std::string& n) {
    absl::StrAppend(out, "'", n, "'");
  });
}

// The `table` argument, which must name one of the program's tables that has
// a direct counter.
absl::StatusOr<std::string> CounterTableArg(const pipe::TableControl& tables, const json& args) {
  auto table = TableArg(tables, args);
  if (!table.ok()) return table.status();
  const std::vector<std::string> names = tables.CounterTableNames();
  if (std::find(names.begin(), names.end(), *table) == names.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table: '", *table, "' has no direct counter",
        names.empty() ? absl::StrCat(" (no table of this program has one)")
                      : absl::StrCat(" (tables with one: ", Quoted(names), ")")));
  }
  return table;
}

// The optional `entry` argument ({"key": {...}}): null when absent.
const json* EntryArg(const json& args) {
  const auto it = args.find("entry");
  return it == args.end() ? nullptr : &*it;
}

// Entries of `table` as Dump lists them, each with its direct counter
// merged in as "counter" (matched by key, not by position).
absl::StatusOr<json> DumpWithCounters(const pipe::TableControl& tables, const std::string& table) {
  auto entries = tables.Dump(table);
  if (!entries.ok()) return entries.status();
  const std::vector<std::string> names = tables.CounterTableNames();
  if (std::find(names.begin(), names.end(), table) == names.end()) return entries;
  auto counters = tables.ReadCounters(table, nullptr, "entry");
  if (!counters.ok()) return counters.status();
  for (json& e : *entries) {
    for (const json& c : *counters) {
      if (c.at("key") == e.at("key")) {
        e["counter"] = c.at("counter");
        break;
      }
    }
  }
  return entries;
}

}  // namespace

absl::Status RegisterTableCommands(CommandRegistry& registry, pipe::TableControl& tables,
                                   pipe::RcuDomain rcu) {
  Registrar r(registry);

  // One op as its own commit: {"table": NAME, "entry": {...}}.
  const auto single = [&tables, rcu](absl::string_view command, pipe::TableOpKind kind) {
    return [&tables, rcu, command = std::string(command), kind](const json& args)
               -> absl::StatusOr<json> {
      if (absl::Status s = CheckArgNames(command, args, {"table", "entry"}); !s.ok()) return s;
      auto table = TableArg(tables, args);
      if (!table.ok()) return table.status();
      const auto entry = args.find("entry");
      if (entry == args.end()) {
        return absl::InvalidArgumentError(
            kind == pipe::TableOpKind::kDelete
                ? R"(entry: missing; give the entry's key, e.g. entry='{"key": {...}}')"
                : R"(entry: missing; give the entry as in the config file, e.g. )"
                  R"(entry='{"key": {...}, "action": "...", "data": {...}}')");
      }
      const pipe::TableOp op{kind, *table, &*entry, "entry"};
      auto stats = tables.Commit({&op, 1}, rcu);
      if (!stats.ok()) return stats.status();
      return StatsJson(*stats);
    };
  };
  r.Add("table_add",
        "Adds one entry: {\"table\": NAME, \"entry\": {\"key\": ..., \"action\": ..., \"data\": "
        "...}} as in the config file. Fails, changing nothing, if the key exists.",
        single("table_add", pipe::TableOpKind::kAdd));
  r.Add("table_modify",
        "Changes an existing entry's action and data: {\"table\": NAME, \"entry\": {...}}.",
        single("table_modify", pipe::TableOpKind::kModify));
  r.Add("table_delete", "Deletes one entry: {\"table\": NAME, \"entry\": {\"key\": {...}}}.",
        single("table_delete", pipe::TableOpKind::kDelete));

  r.Add("table_batch",
        "Applies {\"ops\": [{\"op\": \"add\"|\"modify\"|\"delete\", \"table\": NAME, \"entry\": "
        "{...}}, ...]} in order, all or nothing: the pipes see every op at once or none.",
        [&tables, rcu](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("table_batch", args, {"ops"}); !s.ok()) return s;
          const auto ops_arg = args.find("ops");
          if (ops_arg == args.end()) {
            return absl::InvalidArgumentError(
                R"(ops: missing; give a list of {"op": ..., "table": ..., "entry": ...})");
          }
          auto ops = pipe::ParseTableOps(*ops_arg, "ops", tables.TableNames());
          if (!ops.ok()) return ops.status();
          auto stats = tables.Commit(*ops, rcu);
          if (!stats.ok()) return stats.status();
          return StatsJson(*stats);
        });

  r.Add("table_dump",
        "Entries of {\"table\": NAME} as the config file lists them; without a table, all of "
        "them as a config file's {\"tables\": {...}}. With \"counters\": true, each entry of "
        "a table with a direct counter also shows it: \"counter\": {\"packets\": P, "
        "\"bytes\": B} (then no longer a config: drop it before pasting).",
        [&tables](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("table_dump", args, {"table", "counters"}); !s.ok()) {
            return s;
          }
          bool counters = false;
          if (const auto it = args.find("counters"); it != args.end()) {
            if (!it->is_boolean()) {
              return absl::InvalidArgumentError(
                  absl::StrCat("counters: expected true or false, not ", it->dump()));
            }
            counters = it->get<bool>();
          }
          const auto dump = [&](const std::string& table) {
            return counters ? DumpWithCounters(tables, table) : tables.Dump(table);
          };
          if (!args.contains("table")) {
            json all = json::object();
            for (const std::string& name : tables.TableNames()) {
              auto entries = dump(name);
              if (!entries.ok()) return entries.status();
              all[name] = *std::move(entries);
            }
            return json{{"tables", std::move(all)}};
          }
          auto table = TableArg(tables, args);
          if (!table.ok()) return table.status();
          return dump(*table);
        });

  r.Add("table_counter_read",
        "Direct counters of {\"table\": NAME} (a table declared with one): {\"table\": NAME, "
        "\"entries\": [{\"key\": {...}, \"counter\": {\"packets\": P, \"bytes\": B}}]}, "
        "every entry, or only {\"entry\": {\"key\": {...}}}; counts since the entry was added "
        "or last cleared, summed over the pipes.",
        [&tables](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("table_counter_read", args, {"table", "entry"});
              !s.ok()) {
            return s;
          }
          auto table = CounterTableArg(tables, args);
          if (!table.ok()) return table.status();
          auto entries = tables.ReadCounters(*table, EntryArg(args), "entry");
          if (!entries.ok()) return entries.status();
          return json{{"table", *table}, {"entries", *std::move(entries)}};
        });

  r.Add("table_counter_clear",
        "Zeroes the direct counters of {\"table\": NAME}, every entry's or only {\"entry\": "
        "{\"key\": {...}}}'s: {\"table\": NAME, \"cleared\": N}. The pipes keep counting; "
        "reads subtract what the clear saw.",
        [&tables](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("table_counter_clear", args, {"table", "entry"});
              !s.ok()) {
            return s;
          }
          auto table = CounterTableArg(tables, args);
          if (!table.ok()) return table.status();
          auto cleared = tables.ClearCounters(*table, EntryArg(args), "entry");
          if (!cleared.ok()) return cleared.status();
          return json{{"table", *table}, {"cleared", *cleared}};
        });

  r.Add("table_clear",
        "Deletes every entry of {\"table\": NAME} in one commit (refused, changing nothing, "
        "when other tables' entries still use them).",
        [&tables, rcu](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("table_clear", args, {"table"}); !s.ok()) return s;
          auto table = TableArg(tables, args);
          if (!table.ok()) return table.status();
          auto entries = tables.Dump(*table);
          if (!entries.ok()) return entries.status();
          json keys = json::array();
          for (const json& e : *entries) keys.push_back({{"key", e.at("key")}});
          std::vector<pipe::TableOp> ops;
          ops.reserve(keys.size());
          for (size_t i = 0; i < keys.size(); ++i) {
            ops.push_back({pipe::TableOpKind::kDelete, *table, &keys[i],
                           absl::StrCat(*table, "[", i, "]")});
          }
          auto stats = tables.Commit(ops, rcu);
          if (!stats.ok()) return stats.status();
          return StatsJson(*stats);
        });
  return r.status();
}

}  // namespace softfino::control
