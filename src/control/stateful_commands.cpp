#include "softfino/control/stateful_commands.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace softfino::control {
namespace {

using nlohmann::json;

// A JSON number that is a whole number >= 0.
absl::StatusOr<uint64_t> UnsignedArg(const json& args, absl::string_view key,
                                     absl::string_view example) {
  const auto it = args.find(std::string(key));
  if (it == args.end()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": missing; e.g. ", key, "=", example));
  }
  // Parsed text keeps whole numbers >= 0 unsigned; JSON built in C++ may
  // hold them signed.
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": must be an integer >= 0, e.g. ", key,
                                                   "=", example, "; got ", it->dump()));
  }
  return it->get<uint64_t>();
}

absl::StatusOr<std::string> NameArg(const json& args, absl::string_view key,
                                    const std::vector<std::string>& known) {
  const auto it = args.find(std::string(key));
  if (it == args.end() || !it->is_string()) {
    std::string names;
    for (const std::string& n : known) absl::StrAppend(&names, names.empty() ? "" : ", ", n);
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", it == args.end() ? "missing" : "must be a string",
                     known.empty() ? absl::StrCat("; this program has no ", key, "s")
                                   : absl::StrCat("; give one of ", names)));
  }
  return it->get<std::string>();
}

// Cells [first, last] chosen by index=I, or from=A to=B (both included), or
// neither (every cell) of an array of `size` cells named `what`.
struct Range {
  uint32_t first = 0;
  uint32_t last = 0;
  uint32_t count() const { return last - first + 1; }
};

absl::StatusOr<Range> RangeArgs(const json& args, absl::string_view what, uint32_t size) {
  const bool has_index = args.contains("index");
  const bool has_from = args.contains("from");
  const bool has_to = args.contains("to");
  const auto in_range = [&](absl::string_view key, uint64_t v) -> absl::Status {
    if (v >= size) {
      return absl::OutOfRangeError(absl::StrCat(
          what, ": ", key, " ", v, " is out of range; valid indices are 0..", size - 1));
    }
    return absl::OkStatus();
  };
  if (has_index) {
    if (has_from || has_to) {
      return absl::InvalidArgumentError("give either index=I or from=A to=B, not both");
    }
    auto index = UnsignedArg(args, "index", "0");
    if (!index.ok()) return index.status();
    if (auto s = in_range("index", *index); !s.ok()) return s;
    return Range{static_cast<uint32_t>(*index), static_cast<uint32_t>(*index)};
  }
  if (has_from != has_to) {
    return absl::InvalidArgumentError("a range needs both from=A and to=B (both included)");
  }
  if (!has_from) return Range{0, size - 1};
  auto from = UnsignedArg(args, "from", "0");
  if (!from.ok()) return from.status();
  auto to = UnsignedArg(args, "to", "15");
  if (!to.ok()) return to.status();
  if (auto s = in_range("from", *from); !s.ok()) return s;
  if (auto s = in_range("to", *to); !s.ok()) return s;
  if (*from > *to) {
    return absl::InvalidArgumentError(
        absl::StrCat("from ", *from, " is after to ", *to, "; give from <= to"));
  }
  return Range{static_cast<uint32_t>(*from), static_cast<uint32_t>(*to)};
}

absl::Status CheckReadSize(absl::string_view what, const Range& range) {
  if (range.count() > kMaxCellsPerRead) {
    return absl::OutOfRangeError(absl::StrCat(what, ": ", range.count(),
                                              " cells asked for; read at most ", kMaxCellsPerRead,
                                              " at a time (from=A to=B)"));
  }
  return absl::OkStatus();
}

// What a read asks for: cells (index, from/to, at most kMaxCellsPerRead)
// and pipe=P (-1: every pipe).
struct ReadSpec {
  Range range;
  int64_t pipe = -1;
};

absl::StatusOr<ReadSpec> ReadArgs(const json& args, absl::string_view what, uint32_t size,
                                  uint16_t pipes) {
  auto range = RangeArgs(args, what, size);
  if (!range.ok()) return range.status();
  if (auto s = CheckReadSize(what, *range); !s.ok()) return s;
  auto pipe = OptionalIndexArg(args, "pipe", "pipe", pipes);
  if (!pipe.ok()) return pipe.status();
  return ReadSpec{*range, *pipe};
}

uint64_t MaxValue(uint32_t width_bits) {
  return width_bits >= 64 ? UINT64_MAX : (uint64_t{1} << width_bits) - 1;
}

absl::string_view CounterTypeName(pipe::CounterType type) {
  switch (type) {
    case pipe::CounterType::kPackets:
      return "packets";
    case pipe::CounterType::kBytes:
      return "bytes";
    case pipe::CounterType::kPacketsAndBytes:
      break;
  }
  return "packets_and_bytes";
}

json CounterJson(uint32_t index, pipe::CounterType type, const pipe::CounterValue& v) {
  json e = {{"index", index}};
  if (type != pipe::CounterType::kBytes) e["packets"] = v.packets;
  if (type != pipe::CounterType::kPackets) e["bytes"] = v.bytes;
  return e;
}

}  // namespace

absl::Status RegisterStatefulCommands(CommandRegistry& registry, pipe::StatefulControl& stateful) {
  Registrar r(registry);
  const auto find_register =
      [&stateful](const json& args) -> absl::StatusOr<pipe::RegisterAccess*> {
    auto name = NameArg(args, "register", stateful.RegisterNames());
    if (!name.ok()) return name.status();
    return stateful.FindRegister(*name);
  };
  const auto find_counter = [&stateful](const json& args) -> absl::StatusOr<pipe::CounterArray*> {
    auto name = NameArg(args, "counter", stateful.CounterNames());
    if (!name.ok()) return name.status();
    return stateful.FindCounter(*name);
  };

  r.Add("register_list", "The program's registers: name, size, width (bits), pipes, initial value.",
        [&stateful](const json& args) -> absl::StatusOr<json> {
          if (auto s = CheckArgNames("register_list", args, {}); !s.ok()) return s;
          json out = json::array();
          for (const std::string& name : stateful.RegisterNames()) {
            const pipe::RegisterAccess* reg = *stateful.FindRegister(name);
            out.push_back({{"name", name},
                           {"size", reg->size()},
                           {"width", reg->width_bits()},
                           {"pipes", reg->pipes()},
                           {"initial", reg->initial()}});
          }
          return json{{"registers", std::move(out)}};
        });

  r.Add("register_read",
        "Cells of {\"register\": NAME} as {\"entries\": [{\"index\": I, \"values\": [one per "
        "pipe]}]}; index=I or from=A to=B (both included) choose cells (default: all), pipe=P "
        "reads one pipe ({\"value\": V} per entry).",
        [find_register](const json& args) -> absl::StatusOr<json> {
          if (auto s =
                  CheckArgNames("register_read", args, {"register", "index", "from", "to", "pipe"});
              !s.ok()) {
            return s;
          }
          auto reg = find_register(args);
          if (!reg.ok()) return reg.status();
          const pipe::RegisterAccess& g = **reg;
          auto spec =
              ReadArgs(args, absl::StrCat("register '", g.name(), "'"), g.size(), g.pipes());
          if (!spec.ok()) return spec.status();
          const int64_t one_pipe = spec->pipe;
          json entries = json::array();
          for (uint32_t i = spec->range.first; i <= spec->range.last; ++i) {
            if (one_pipe >= 0) {
              entries.push_back(
                  {{"index", i}, {"value", *g.Read(static_cast<uint16_t>(one_pipe), i)}});
              continue;
            }
            json values = json::array();
            for (uint16_t p = 0; p < g.pipes(); ++p) values.push_back(*g.Read(p, i));
            entries.push_back({{"index", i}, {"values", std::move(values)}});
          }
          json out = {{"register", g.name()}, {"width", g.width_bits()}, {"pipes", g.pipes()}};
          if (one_pipe >= 0) out["pipe"] = one_pipe;
          out["entries"] = std::move(entries);
          return out;
        });

  r.Add("register_write",
        "Sets cells of {\"register\": NAME} to {\"value\": V} (must fit the register's width): "
        "index=I or from=A to=B (both included), on every pipe or on pipe=P. A cell a packet "
        "updates at the same moment keeps one of the two values, as on hardware.",
        [find_register](const json& args) -> absl::StatusOr<json> {
          if (auto s = CheckArgNames("register_write", args,
                                     {"register", "index", "from", "to", "pipe", "value"});
              !s.ok()) {
            return s;
          }
          auto reg = find_register(args);
          if (!reg.ok()) return reg.status();
          pipe::RegisterAccess& g = **reg;
          const std::string what = absl::StrCat("register '", g.name(), "'");
          if (!args.contains("index") && !args.contains("from") && !args.contains("to")) {
            return absl::InvalidArgumentError(absl::StrCat(
                what, ": say which cells: index=I or from=A to=B (register_reset sets all)"));
          }
          auto range = RangeArgs(args, what, g.size());
          if (!range.ok()) return range.status();
          auto pipe = OptionalIndexArg(args, "pipe", "pipe", g.pipes());
          if (!pipe.ok()) return pipe.status();
          auto value = UnsignedArg(args, "value", "1");
          if (!value.ok()) return value.status();
          // Checked before any cell is written, so a refused write changes nothing.
          if (*value > MaxValue(g.width_bits())) {
            return absl::OutOfRangeError(absl::StrCat(what, ": value ", *value,
                                                      " does not fit its ", g.width_bits(),
                                                      " bits; give 0..", MaxValue(g.width_bits())));
          }
          const uint16_t first_pipe = *pipe >= 0 ? static_cast<uint16_t>(*pipe) : 0;
          const uint16_t end_pipe = *pipe >= 0 ? static_cast<uint16_t>(*pipe + 1) : g.pipes();
          for (uint16_t p = first_pipe; p < end_pipe; ++p) {
            for (uint32_t i = range->first; i <= range->last; ++i) {
              if (auto s = g.Write(p, i, *value); !s.ok()) return s;  // checked above: never
            }
          }
          json pipes = json::array();
          for (uint16_t p = first_pipe; p < end_pipe; ++p) pipes.push_back(p);
          return json{{"register", g.name()}, {"written", range->count()}, {"pipes", pipes}};
        });

  r.Add("register_reset",
        "Sets every cell of {\"register\": NAME} on every pipe back to its initial value; "
        "without a register, every register of the program.",
        [&stateful](const json& args) -> absl::StatusOr<json> {
          if (auto s = CheckArgNames("register_reset", args, {"register"}); !s.ok()) return s;
          std::vector<std::string> names = stateful.RegisterNames();
          if (args.contains("register")) {
            auto name = NameArg(args, "register", names);
            if (!name.ok()) return name.status();
            if (auto found = stateful.FindRegister(*name); !found.ok()) return found.status();
            names = {*name};
          }
          for (const std::string& name : names) (*stateful.FindRegister(name))->Reset();
          return json{{"reset", names}};
        });

  r.Add("counter_list", "The program's indexed counters: name, size, type, pipes.",
        [&stateful](const json& args) -> absl::StatusOr<json> {
          if (auto s = CheckArgNames("counter_list", args, {}); !s.ok()) return s;
          json out = json::array();
          for (const std::string& name : stateful.CounterNames()) {
            const pipe::CounterArray* c = *stateful.FindCounter(name);
            out.push_back({{"name", name},
                           {"size", c->size()},
                           {"type", CounterTypeName(c->type())},
                           {"pipes", c->pipes()}});
          }
          return json{{"counters", std::move(out)}};
        });

  r.Add("counter_read",
        "Counts since the last clear of {\"counter\": NAME} as {\"entries\": [{\"index\": I, "
        "\"packets\": P, \"bytes\": B}]}, summed over the pipes, or of pipe=P; index=I or "
        "from=A to=B (both included) choose cells (default: all).",
        [find_counter](const json& args) -> absl::StatusOr<json> {
          if (auto s =
                  CheckArgNames("counter_read", args, {"counter", "index", "from", "to", "pipe"});
              !s.ok()) {
            return s;
          }
          auto counter = find_counter(args);
          if (!counter.ok()) return counter.status();
          const pipe::CounterArray& c = **counter;
          auto spec = ReadArgs(args, absl::StrCat("counter '", c.name(), "'"), c.size(), c.pipes());
          if (!spec.ok()) return spec.status();
          const int64_t one_pipe = spec->pipe;
          json entries = json::array();
          for (uint32_t i = spec->range.first; i <= spec->range.last; ++i) {
            const absl::StatusOr<pipe::CounterValue> v =
                one_pipe >= 0 ? c.ReadPipe(static_cast<uint16_t>(one_pipe), i) : c.Read(i);
            entries.push_back(CounterJson(i, c.type(), *v));
          }
          json out = {{"counter", c.name()}, {"type", CounterTypeName(c.type())}};
          if (one_pipe >= 0) out["pipe"] = one_pipe;
          out["entries"] = std::move(entries);
          return out;
        });

  r.Add("counter_clear",
        "Zeroes cells of {\"counter\": NAME} on every pipe: index=I or from=A to=B (both "
        "included); default all.",
        [find_counter](const json& args) -> absl::StatusOr<json> {
          if (auto s = CheckArgNames("counter_clear", args, {"counter", "index", "from", "to"});
              !s.ok()) {
            return s;
          }
          auto counter = find_counter(args);
          if (!counter.ok()) return counter.status();
          pipe::CounterArray& c = **counter;
          auto range = RangeArgs(args, absl::StrCat("counter '", c.name(), "'"), c.size());
          if (!range.ok()) return range.status();
          for (uint32_t i = range->first; i <= range->last; ++i) {
            if (auto s = c.Clear(i); !s.ok()) return s;  // in range: never
          }
          return json{{"counter", c.name()}, {"cleared", range->count()}};
        });
  return r.status();
}

}  // namespace softfino::control
