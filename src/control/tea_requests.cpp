#include "softfino/control/tea_requests.h"

#include <arpa/inet.h>

#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace softfino::control {
namespace {

using nlohmann::json;

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("tea: ", why));
}

absl::StatusOr<uint64_t> Unsigned(const json& j, const char* name, uint64_t max) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned() || it->get<uint64_t>() > max) {
    return Bad(
        absl::StrCat("\"", name, "\" must be an integer 0..", max,
                     it == j.end() ? " and is missing" : absl::StrCat(", not ", it->dump())));
  }
  return it->get<uint64_t>();
}

absl::StatusOr<uint32_t> Ipv4(const json& j, const char* name) {
  const auto it = j.find(name);
  in_addr addr{};
  if (it == j.end() || !it->is_string() ||
      inet_pton(AF_INET, it->get<std::string>().c_str(), &addr) != 1) {
    return Bad(absl::StrCat("\"", name, "\" must be an IPv4 address like \"10.0.0.1\""));
  }
  return ntohl(addr.s_addr);
}

absl::StatusOr<tea::Key> KeyOf(const json& request) {
  const auto it = request.find("key");
  if (it == request.end()) {
    return Bad(
        "\"key\" is missing: give 32 hex digits or a 5-tuple object "
        "{\"src\", \"dst\", \"sport\", \"dport\", \"proto\"}");
  }
  if (it->is_string()) return tea::KeyFromHex(it->get<std::string>());
  if (!it->is_object()) return Bad("\"key\" must be a hex string or a 5-tuple object");
  for (const auto& [name, unused] : it->items()) {
    if (name != "src" && name != "dst" && name != "sport" && name != "dport" && name != "proto") {
      return Bad(
          absl::StrCat("unknown 5-tuple field \"", name, "\" (src, dst, sport, dport, proto)"));
    }
  }
  tea::FiveTuple t;
  absl::StatusOr<uint32_t> src = Ipv4(*it, "src");
  if (!src.ok()) return src.status();
  absl::StatusOr<uint32_t> dst = Ipv4(*it, "dst");
  if (!dst.ok()) return dst.status();
  absl::StatusOr<uint64_t> sport = Unsigned(*it, "sport", 0xffff);
  if (!sport.ok()) return sport.status();
  absl::StatusOr<uint64_t> dport = Unsigned(*it, "dport", 0xffff);
  if (!dport.ok()) return dport.status();
  absl::StatusOr<uint64_t> proto = Unsigned(*it, "proto", 0xff);
  if (!proto.ok()) return proto.status();
  t.src_ip = *src;
  t.dst_ip = *dst;
  t.src_port = static_cast<uint16_t>(*sport);
  t.dst_port = static_cast<uint16_t>(*dport);
  t.protocol = static_cast<uint8_t>(*proto);
  return tea::KeyOfFiveTuple(t);
}

absl::StatusOr<uint64_t> ValueOf(const json& request) {
  const auto it = request.find("value");
  if (it != request.end() && it->is_number_unsigned()) return it->get<uint64_t>();
  if (it != request.end() && it->is_string()) {
    absl::string_view text = it->get_ref<const std::string&>();
    if (absl::StartsWith(text, "0x") || absl::StartsWith(text, "0X")) text.remove_prefix(2);
    uint64_t v = 0;
    if (!text.empty() && text.size() <= 16 && absl::SimpleHexAtoi(text, &v)) return v;
  }
  return Bad("\"value\" must be an integer below 2^64 or up to 16 hex digits like \"0x0a000001\"");
}

absl::StatusOr<TeaHostedTable*> Pick(std::span<TeaHostedTable> tables, const json& request) {
  if (tables.empty())
    return absl::FailedPreconditionError(
        "tea: this collector hosts no TEA table "
        "(start it with --tea-table)");
  std::string names;
  for (const TeaHostedTable& t : tables)
    absl::StrAppend(&names, names.empty() ? "" : ", ", t.region.name);
  const auto it = request.find("table");
  if (it == request.end()) {
    if (tables.size() == 1) return &tables[0];
    return Bad(absl::StrCat("\"table\" is missing; this collector hosts ", names));
  }
  if (it->is_string()) {
    for (TeaHostedTable& t : tables) {
      if (t.region.name == it->get<std::string>()) return &t;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("tea: no TEA table ", it->dump(), "; this collector hosts ", names));
}

std::string Hex64(uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

json LayoutJson(const TeaHostedTable& t) {
  const tea::Layout& l = t.table.layout();
  return {{"table", t.region.name},
          {"rkey", t.region.rkey},
          {"iova", t.region.iova},
          {"length", t.region.length},
          {"bucket_count", l.bucket_count()},
          {"slots", l.slots()},
          {"bucket_bytes", l.bucket_bytes()},
          {"window_bytes", l.window_bytes()},
          {"table_offset", l.table_offset()},
          {"shadow_offset", l.shadow_offset()},
          {"shadow_row_bytes", l.shadow_row_bytes()},
          {"shadow_packet_bytes", l.shadow_packet_bytes()},
          {"shadow_lanes", l.shadow_lanes()},
          {"key_bytes", tea::kKeyBytes},
          {"value_bytes", tea::kValueBytes},
          {"hash", "crc_32"}};
}

}  // namespace

json TeaCounters(const tea::TableCounters& c) {
  return {{"entries", c.entries},
          {"inserts", c.inserts},
          {"updates", c.updates},
          {"insert_failures", c.insert_failures},
          {"duplicates", c.duplicates},
          {"deletes", c.deletes},
          {"delete_misses", c.delete_misses},
          {"lookups", c.lookups}};
}

absl::StatusOr<json> AnswerTeaRequest(std::span<TeaHostedTable> tables, const json& request) {
  if (!request.is_object()) return Bad("a request is a JSON object like {\"op\": \"lookup\", ...}");
  for (const auto& [name, unused] : request.items()) {
    if (name != "op" && name != "table" && name != "key" && name != "value" && name != "replace") {
      return Bad(absl::StrCat("unknown field \"", name, "\" (op, table, key, value, replace)"));
    }
  }
  absl::StatusOr<TeaHostedTable*> picked = Pick(tables, request);
  if (!picked.ok()) return picked.status();
  TeaHostedTable& t = **picked;
  const auto op_it = request.find("op");
  const std::string op =
      op_it != request.end() && op_it->is_string() ? op_it->get<std::string>() : "";
  if (op == "layout") return LayoutJson(t);
  if (op == "stats") return TeaCounters(t.table.counters());
  if (op != "insert" && op != "delete" && op != "lookup") {
    return Bad("\"op\" must be one of layout, insert, delete, lookup, stats");
  }
  absl::StatusOr<tea::Key> key = KeyOf(request);
  if (!key.ok()) return key.status();
  const uint64_t h = t.table.WindowIndex(*key);
  const tea::Layout& l = t.table.layout();
  if (op == "insert") {
    absl::StatusOr<uint64_t> value = ValueOf(request);
    if (!value.ok()) return value.status();
    const auto replace = request.find("replace");
    if (replace != request.end() && !replace->is_boolean())
      return Bad("\"replace\" must be true or false");
    absl::StatusOr<tea::Entry> e =
        t.table.Insert(*key, *value, replace != request.end() && replace->get<bool>());
    if (!e.ok()) return e.status();
    return json{{"h", h},
                {"bucket", e->bucket},
                {"slot", e->slot},
                {"offset", l.EntryOffset(e->bucket, e->slot)}};
  }
  if (op == "delete") {
    if (absl::Status s = t.table.Delete(*key); !s.ok()) return s;
    return json{{"deleted", true}};
  }
  std::optional<tea::Entry> e = t.table.Lookup(*key);
  json answer = {{"found", e.has_value()}, {"h", h}, {"window_offset", l.WindowOffset(h)}};
  if (e) {
    answer["value"] = e->value;
    answer["value_hex"] = Hex64(e->value);
    answer["bucket"] = e->bucket;
    answer["slot"] = e->slot;
  }
  return answer;
}

}  // namespace softfino::control
