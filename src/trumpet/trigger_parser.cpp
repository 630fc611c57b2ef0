#include "softfino/trumpet/trigger_parser.h"

#include <charconv>
#include <cmath>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "softfino/net/address.h"

namespace softfino::trumpet {
namespace {

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(std::string(what)); }

bool ParseUint(absl::string_view text, uint64_t max, uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty() && out <= max;
}

// "NAME=VALUE" of a filter into value and lengths.
absl::Status ParseFilterField(absl::string_view token, FiveTuple& value, FieldLengths& lengths) {
  const size_t eq = token.find('=');
  if (eq == absl::string_view::npos) {
    return Bad(absl::StrCat("filter field '", token,
                            "' needs a value: FIELD=VALUE, e.g. src=10.1.0.0/16 or dport=80"));
  }
  const absl::string_view field = token.substr(0, eq);
  const absl::string_view text = token.substr(eq + 1);
  if (field == "src" || field == "dst") {
    auto prefix = net::ParseIpv4Prefix(text);
    if (!prefix.ok()) return Bad(absl::StrCat("filter field ", field, ": ", prefix.status().message()));
    (field == "src" ? value.src : value.dst) = prefix->addr;
    (field == "src" ? lengths.src : lengths.dst) = prefix->length;
    return absl::OkStatus();
  }
  if (field == "sport" || field == "dport") {
    absl::string_view port_text = text, len_text = "16";
    if (size_t slash = text.find('/'); slash != absl::string_view::npos) {
      port_text = text.substr(0, slash);
      len_text = text.substr(slash + 1);
    }
    uint64_t port = 0, len = 0;
    if (!ParseUint(port_text, 65535, port)) {
      return Bad(absl::StrCat("filter field ", field, ": '", port_text, "' is not a port (0-65535)"));
    }
    if (!ParseUint(len_text, 16, len)) {
      return Bad(absl::StrCat("filter field ", field, ": '", len_text, "' is not a length (0-16)"));
    }
    const uint16_t mask = len == 0 ? 0 : static_cast<uint16_t>(0xffffu << (16 - len));
    if ((port & ~mask & 0xffff) != 0) {
      return Bad(absl::StrCat("filter field ", field, ": ", port, " has bits set past /", len));
    }
    (field == "sport" ? value.sport : value.dport) = static_cast<uint16_t>(port);
    (field == "sport" ? lengths.sport : lengths.dport) = static_cast<uint8_t>(len);
    return absl::OkStatus();
  }
  if (field == "proto") {
    uint64_t proto = 0;
    if (text == "tcp") {
      proto = 6;
    } else if (text == "udp") {
      proto = 17;
    } else if (!ParseUint(text, 255, proto)) {
      return Bad(absl::StrCat("filter field proto: '", text, "' is not tcp, udp or 0-255"));
    }
    value.proto = static_cast<uint8_t>(proto);
    lengths.proto = 8;
    return absl::OkStatus();
  }
  return Bad(absl::StrCat("unknown filter field '", field, "': use src, dst, sport, dport or proto"));
}

// "FIELD[/LEN]" of a group.
absl::Status ParseGroupField(absl::string_view token, FieldLengths& lengths) {
  if (token == "5tuple") {
    lengths = {32, 32, 16, 16, 8};
    return absl::OkStatus();
  }
  absl::string_view field = token, len_text;
  if (size_t slash = token.find('/'); slash != absl::string_view::npos) {
    field = token.substr(0, slash);
    len_text = token.substr(slash + 1);
  }
  uint8_t* slot = nullptr;
  uint64_t full = 0;
  if (field == "src") slot = &lengths.src, full = 32;
  if (field == "dst") slot = &lengths.dst, full = 32;
  if (field == "sport") slot = &lengths.sport, full = 16;
  if (field == "dport") slot = &lengths.dport, full = 16;
  if (field == "proto") slot = &lengths.proto, full = 8;
  if (slot == nullptr) {
    return Bad(absl::StrCat("unknown group field '", field,
                            "': use src, dst, sport, dport, proto or 5tuple"));
  }
  uint64_t len = full;
  if (!len_text.empty() && (!ParseUint(len_text, full, len) || (field == "proto" && len != 8))) {
    return Bad(absl::StrCat("group field ", field, ": '", len_text, "' is not a length (",
                            field == "proto" ? "8" : absl::StrCat("1-", full), ")"));
  }
  *slot = static_cast<uint8_t>(len);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ParseInterval(absl::string_view text) {
  uint64_t unit = 0;
  absl::string_view number = text;
  if (absl::ConsumeSuffix(&number, "us")) {
    unit = 1000;
  } else if (absl::ConsumeSuffix(&number, "ms")) {
    unit = 1'000'000;
  } else if (absl::ConsumeSuffix(&number, "s")) {
    unit = 1'000'000'000;
  }
  uint64_t n = 0;
  if (unit == 0 || !ParseUint(number, 3'600'000'000ull, n) || n == 0) {
    return Bad(absl::StrCat("interval '", text, "' should be a number with us, ms or s, e.g. 10ms"));
  }
  const uint64_t ns = n * unit;
  if (ns < 1'000'000) return Bad(absl::StrCat("interval '", text, "' is under 1ms, the shortest"));
  return ns;
}

absl::StatusOr<Metric> ParseMetric(absl::string_view text) {
  for (int m = 0; m < static_cast<int>(Metric::kCount); ++m) {
    if (text == MetricName(static_cast<Metric>(m))) return static_cast<Metric>(m);
  }
  return Bad(absl::StrCat("unknown metric '", text, "': use packets, bytes, lost or bursts"));
}

// "METRIC[/METRIC] OP NUMBER[%]" as tokens.
absl::StatusOr<Predicate> ParsePredicate(const std::vector<absl::string_view>& tokens) {
  if (tokens.size() != 3) {
    return Bad("predicate should read METRIC[/METRIC] OP NUMBER, e.g. 'lost/packets > 10%'");
  }
  Predicate p;
  absl::string_view metric = tokens[0];
  if (size_t slash = metric.find('/'); slash != absl::string_view::npos) {
    auto den = ParseMetric(metric.substr(slash + 1));
    if (!den.ok()) return Bad(absl::StrCat("predicate: ", den.status().message()));
    p.ratio = true;
    p.denominator = *den;
    metric = metric.substr(0, slash);
  }
  auto num = ParseMetric(metric);
  if (!num.ok()) return Bad(absl::StrCat("predicate: ", num.status().message()));
  p.metric = *num;
  const absl::string_view op = tokens[1];
  if (op == ">") {
    p.comparison = Comparison::kGreater;
  } else if (op == ">=") {
    p.comparison = Comparison::kGreaterEqual;
  } else if (op == "<") {
    p.comparison = Comparison::kLess;
  } else if (op == "<=") {
    p.comparison = Comparison::kLessEqual;
  } else {
    return Bad(absl::StrCat("predicate: unknown comparison '", op, "': use >, >=, < or <="));
  }
  absl::string_view number = tokens[2];
  const bool percent = absl::ConsumeSuffix(&number, "%");
  double value = 0;
  if (!absl::SimpleAtod(number, &value) || !std::isfinite(value) || value < 0) {
    return Bad(absl::StrCat("predicate: threshold '", tokens[2], "' is not a number >= 0"));
  }
  if (percent && !p.ratio) {
    return Bad("predicate: a percent threshold needs a ratio, e.g. lost/packets > 10%");
  }
  p.threshold = percent ? value / 100 : value;
  return p;
}

}  // namespace

absl::StatusOr<Trigger> ParseTrigger(absl::string_view line) {
  Trigger t;
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) {
    return Bad("a trigger starts with its name and a colon, e.g. 'lossy: filter ...'");
  }
  t.name = std::string(absl::StripAsciiWhitespace(line.substr(0, colon)));
  if (t.name.empty() || t.name.find_first_of(" \t") != std::string::npos) {
    return Bad(absl::StrCat("trigger name '", t.name, "' should be one word"));
  }
  std::vector<absl::string_view> tokens =
      absl::StrSplit(line.substr(colon + 1), absl::ByAnyChar(" \t"), absl::SkipEmpty());
  // Sections in order: filter, group, every, when.
  const char* kSections[] = {"filter", "group", "every", "when"};
  size_t pos = 0;
  std::vector<absl::string_view> section[4];
  for (int s = 0; s < 4; ++s) {
    if (pos >= tokens.size() || tokens[pos] != kSections[s]) {
      return Bad(absl::StrCat("expected '", kSections[s], "' ",
                              pos < tokens.size() ? absl::StrCat("at '", tokens[pos], "'")
                                                  : "at the end of the line",
                              ": triggers read NAME: filter ... group ... every ... when ..."));
    }
    ++pos;
    while (pos < tokens.size() && (s == 3 || tokens[pos] != kSections[s + 1])) {
      section[s].push_back(tokens[pos++]);
    }
  }
  if (section[0].empty()) return Bad("filter: name at least one field, or * for every flow");
  if (!(section[0].size() == 1 && section[0][0] == "*")) {
    for (absl::string_view f : section[0]) {
      if (auto s = ParseFilterField(f, t.filter_value, t.filter_lengths); !s.ok()) return s;
    }
  }
  if (section[1].empty()) return Bad("group: name the fields of the group key, or * for one group");
  if (!(section[1].size() == 1 && section[1][0] == "*")) {
    for (absl::string_view f : section[1]) {
      if (auto s = ParseGroupField(f, t.group_lengths); !s.ok()) return s;
    }
  }
  if (section[2].size() != 1) return Bad("every: give one interval, e.g. 'every 10ms'");
  auto interval = ParseInterval(section[2][0]);
  if (!interval.ok()) return interval.status();
  t.interval_ns = *interval;
  auto predicate = ParsePredicate(section[3]);
  if (!predicate.ok()) return predicate.status();
  t.predicate = *predicate;
  return t;
}

absl::StatusOr<std::vector<Trigger>> ParseTriggerFile(absl::string_view text) {
  std::vector<Trigger> out;
  absl::flat_hash_set<std::string> names;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    auto t = ParseTrigger(line);
    if (!t.ok()) return Bad(absl::StrCat("line ", number, ": ", t.status().message()));
    if (!names.insert(t->name).second) {
      return Bad(absl::StrCat("line ", number, ": trigger name '", t->name, "' is used twice"));
    }
    out.push_back(*std::move(t));
  }
  return out;
}

absl::StatusOr<Trigger> TriggerFromJson(const nlohmann::json& j) {
  // Built as the text form, so both forms take the same checks and errors.
  if (!j.is_object()) return Bad("a trigger is a JSON object with name, filter, group, every, when");
  const auto text_of = [&](const char* key) -> absl::StatusOr<std::string> {
    if (!j.contains(key)) return Bad(absl::StrCat("trigger: '", key, "' is missing"));
    if (!j[key].is_string()) return Bad(absl::StrCat("trigger: '", key, "' should be a string"));
    return j[key].get<std::string>();
  };
  auto name = text_of("name");
  if (!name.ok()) return name.status();
  std::string line = absl::StrCat(*name, ": filter");
  if (!j.contains("filter")) return Bad("trigger: 'filter' is missing (use {} for every flow)");
  if (!j["filter"].is_object()) return Bad("trigger: 'filter' should be an object like {\"src\": \"10.0.0.0/8\"}");
  if (j["filter"].empty()) absl::StrAppend(&line, " *");
  for (const auto& [field, value] : j["filter"].items()) {
    if (!value.is_string() && !value.is_number_unsigned()) {
      return Bad(absl::StrCat("trigger: filter field ", field, " should be a string or a number"));
    }
    absl::StrAppend(&line, " ", field, "=",
                    value.is_string() ? value.get<std::string>() : value.dump());
  }
  absl::StrAppend(&line, " group");
  if (!j.contains("group")) return Bad("trigger: 'group' is missing (use [] for one group)");
  const nlohmann::json& group = j["group"];
  if (group.empty()) absl::StrAppend(&line, " *");
  if (group.is_array()) {
    for (const auto& g : group) {
      if (!g.is_string()) return Bad("trigger: group entries should be strings like \"src/24\"");
      absl::StrAppend(&line, " ", g.get<std::string>());
    }
  } else if (group.is_object()) {
    for (const auto& [field, len] : group.items()) {
      if (!len.is_number_unsigned()) {
        return Bad(absl::StrCat("trigger: group field ", field, " should be a prefix length"));
      }
      absl::StrAppend(&line, " ", field, "/", len.get<uint64_t>());
    }
  } else {
    return Bad("trigger: 'group' should be a list like [\"src/24\"] or an object like {\"src\": 24}");
  }
  auto every = text_of("every");
  if (!every.ok()) return every.status();
  auto when = text_of("when");
  if (!when.ok()) return when.status();
  absl::StrAppend(&line, " every ", *every, " when ", *when);
  if (line.find_first_of("\n#") != std::string::npos) return Bad("trigger: fields may not hold '#' or newlines");
  return ParseTrigger(line);
}

nlohmann::json TriggerToJson(const Trigger& t) {
  return {{"id", t.id}, {"name", t.name}, {"text", FormatTrigger(t)}};
}

}  // namespace softfino::trumpet
