#include "softfino/control/dta_queries.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "softfino/dta/event_record.h"

namespace softfino::control {

namespace {

absl::StatusOr<uint64_t> Field(const nlohmann::json& request, const char* name, uint64_t max,
                               std::optional<uint64_t> fallback) {
  const auto it = request.find(name);
  if (it == request.end()) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat("query: \"", name, "\" is missing"));
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("query: \"", name, "\" is ", it->dump(), "; it must be an integer 0..", max));
  }
  return it->get<uint64_t>();
}

absl::StatusOr<std::span<const uint8_t>> Region(RegionLookup regions, const char* name) {
  std::span<const uint8_t> memory = regions(name);
  if (memory.empty()) {
    return absl::NotFoundError(absl::StrCat("query: the collector holds no region \"", name, "\""));
  }
  return memory;
}

absl::Status Off(const char* primitive) {
  return absl::FailedPreconditionError(
      absl::StrCat("query: the DTA layout turns ", primitive, " off (no slots)"));
}

// The entries of the request's "list" since its "from" (append and events).
absl::StatusOr<dta::AppendRead> ReadAppendList(const dta::Layout& layout, RegionLookup regions,
                                               const nlohmann::json& request,
                                               std::vector<uint32_t>* entries) {
  if (!layout.append) return Off("append");
  auto list = Field(request, "list", layout.append->lists() - 1, std::nullopt);
  auto from = Field(request, "from", UINT64_MAX, 0);
  for (const auto* s : {&list, &from}) {
    if (!s->ok()) return s->status();
  }
  auto memory = Region(regions, dta::kAppendRegion);
  if (!memory.ok()) return memory.status();
  return layout.append->ReadSince(*memory, static_cast<uint32_t>(*list), *from, entries);
}

}  // namespace

absl::StatusOr<nlohmann::json> AnswerDtaQuery(const dta::Layout& layout, RegionLookup regions,
                                              const nlohmann::json& request) {
  if (!request.is_object() || !request.contains("primitive") || !request["primitive"].is_string()) {
    return absl::InvalidArgumentError(
        "query: expected an object with \"primitive\": keywrite, keyincrement, postcarding or "
        "append");
  }
  const std::string primitive = request["primitive"].get<std::string>();
  if (primitive == "keywrite") {
    if (!layout.key_write) return Off("keywrite");
    auto key = Field(request, "key", 0xffffffff, std::nullopt);
    auto n = Field(request, "redundancy", dta::kMaxCopies, 2);
    auto t = Field(request, "threshold", dta::kMaxCopies, 1);
    for (const auto* s : {&key, &n, &t}) {
      if (!s->ok()) return s->status();
    }
    auto memory = Region(regions, dta::kKeyWriteRegion);
    if (!memory.ok()) return memory.status();
    const dta::KeyWriteAnswer a = layout.key_write->Query(
        *memory, static_cast<uint32_t>(*key), static_cast<uint8_t>(*n), static_cast<uint8_t>(*t));
    return nlohmann::json{{"found", a.found}, {"data", a.data}, {"votes", a.votes},
                          {"matches", a.matches}};
  }
  if (primitive == "keyincrement") {
    if (!layout.key_increment) return Off("keyincrement");
    auto key = Field(request, "key", 0xffffffff, std::nullopt);
    auto n = Field(request, "redundancy", layout.key_increment->rows(),
                   layout.key_increment->rows());
    for (const auto* s : {&key, &n}) {
      if (!s->ok()) return s->status();
    }
    auto memory = Region(regions, dta::kKeyIncrementRegion);
    if (!memory.ok()) return memory.status();
    const auto count = layout.key_increment->Query(*memory, static_cast<uint32_t>(*key),
                                                   static_cast<uint8_t>(*n));
    return nlohmann::json{{"found", count.has_value()}, {"count", count.value_or(0)}};
  }
  if (primitive == "postcarding") {
    if (!layout.postcarding) return Off("postcarding");
    auto key = Field(request, "key", 0xffffffff, std::nullopt);
    auto n = Field(request, "copies", layout.postcarding->copies(), layout.postcarding->copies());
    auto t = Field(request, "threshold", dta::kMaxCopies, 1);
    for (const auto* s : {&key, &n, &t}) {
      if (!s->ok()) return s->status();
    }
    absl::flat_hash_set<uint32_t> known;
    const bool any = !request.contains("known");
    if (!any) {
      if (!request["known"].is_array()) {
        return absl::InvalidArgumentError("query: \"known\" must be an array of hop values");
      }
      for (const auto& v : request["known"]) {
        if (!v.is_number_unsigned() || v.get<uint64_t>() >= dta::kBlankHop) {
          return absl::InvalidArgumentError(absl::StrCat(
              "query: known value ", v.dump(), " is not a hop value (0..4294967294)"));
        }
        known.insert(v.get<uint32_t>());
      }
    }
    auto memory = Region(regions, dta::kPostcardingRegion);
    if (!memory.ok()) return memory.status();
    const dta::PostcardAnswer a = layout.postcarding->Query(
        *memory, static_cast<uint32_t>(*key), static_cast<uint8_t>(*n),
        [&](uint32_t v) { return any || known.contains(v); }, static_cast<uint8_t>(*t));
    nlohmann::json path = nlohmann::json::array();
    for (int h = 0; h < a.length; ++h) {
      path.push_back(a.hops[h] == dta::kBlankHop ? nlohmann::json(nullptr)
                                                 : nlohmann::json(a.hops[h]));
    }
    return nlohmann::json{{"found", a.found}, {"path", std::move(path)}, {"votes", a.votes},
                          {"valid_copies", a.valid_copies}};
  }
  if (primitive == "append") {
    std::vector<uint32_t> entries;
    auto read = ReadAppendList(layout, regions, request, &entries);
    if (!read.ok()) return read.status();
    const dta::AppendRead& r = *read;
    return nlohmann::json{{"entries", entries}, {"next", r.next}, {"lost", r.lost},
                          {"reset", r.reset}};
  }
  if (primitive == "events") {
    std::vector<uint32_t> entries;
    auto read = ReadAppendList(layout, regions, request, &entries);
    if (!read.ok()) return read.status();
    const dta::AppendRead& r = *read;
    const dta::EventScan scan = dta::ScanEventRecords(entries);
    nlohmann::json events = nlohmann::json::array();
    for (const dta::EventRecord& e : scan.records) {
      events.push_back({{"trigger_id", e.trigger_id},
                        {"interval_start_ns", e.interval_start_us * 1000},
                        {"interval_ns", uint64_t{e.interval_us} * 1000},
                        {"group_key", {e.src, e.dst, e.sport, e.dport, e.proto}},
                        {"seq", e.seq},
                        {"value", e.value}});
    }
    // The entries start where the read started (past any it lost); the next
    // query starts at a record that had not fully arrived.
    const uint64_t first = r.next - entries.size();
    return nlohmann::json{{"events", std::move(events)}, {"next", first + scan.consumed},
                          {"lost", r.lost}, {"skipped", scan.skipped}, {"reset", r.reset}};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "query: unknown primitive \"", primitive,
      "\"; use keywrite, keyincrement, postcarding, append or events"));
}

}  // namespace softfino::control
