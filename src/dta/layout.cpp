#include "softfino/dta/layout.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace softfino::dta {

namespace {

// Creates a primitive's layout into `slot` when it is on, or says why not.
template <typename T, typename Make>
absl::Status CreateIf(bool on, std::optional<T>& slot, Make make) {
  if (!on) return absl::OkStatus();
  absl::StatusOr<T> created = make();
  if (!created.ok()) return created.status();
  slot.emplace(*std::move(created));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LayoutConfig> ParseLayoutConfig(const nlohmann::json& j) {
  LayoutConfig c;
  if (!j.is_object()) {
    return absl::InvalidArgumentError("the DTA layout must be an object of sizes, e.g. "
                                      "{\"keywrite_slots\": 1048576}");
  }
  struct Field {
    const char* name;
    uint64_t max;
    std::function<void(uint64_t)> set;
  };
  const Field fields[] = {
      {"keywrite_slots", uint64_t{1} << 32, [&](uint64_t v) { c.keywrite_slots = v; }},
      {"keyincrement_rows", kMaxCopies, [&](uint64_t v) { c.keyincrement_rows = uint8_t(v); }},
      {"keyincrement_slots", uint64_t{1} << 32, [&](uint64_t v) { c.keyincrement_slots = v; }},
      {"append_lists", uint64_t{1} << 20, [&](uint64_t v) { c.append_lists = uint32_t(v); }},
      {"append_entries", uint64_t{1} << 30, [&](uint64_t v) { c.append_entries = v; }},
      {"append_batch", kMaxAppendBatch, [&](uint64_t v) { c.append_batch = uint32_t(v); }},
      {"append_head_interval", 1 << 20, [&](uint64_t v) { c.append_head_interval = uint32_t(v); }},
      {"postcarding_slots", uint64_t{1} << 32, [&](uint64_t v) { c.postcarding_slots = v; }},
      {"postcarding_copies", kMaxCopies, [&](uint64_t v) { c.postcarding_copies = uint8_t(v); }},
  };
  for (const auto& [key, value] : j.items()) {
    // Init-capture: clang before 16 cannot capture a structured binding.
    const Field* f = std::find_if(std::begin(fields), std::end(fields),
                                  [&name = key](const Field& x) { return name == x.name; });
    if (f == std::end(fields)) {
      std::string known;
      for (const Field& x : fields) absl::StrAppend(&known, known.empty() ? "" : ", ", x.name);
      return absl::InvalidArgumentError(
          absl::StrCat("DTA layout: unknown field \"", key, "\"; it has ", known));
    }
    if (!value.is_number_unsigned() || value.get<uint64_t>() > f->max) {
      return absl::InvalidArgumentError(absl::StrCat("DTA layout: ", key, " is ", value.dump(),
                                                     "; it must be an integer 0..", f->max));
    }
    f->set(value.get<uint64_t>());
  }
  return c;
}

absl::StatusOr<Layout> Layout::Create(const LayoutConfig& c) {
  Layout layout;
  const absl::Status results[] = {
      CreateIf(c.keywrite_slots != 0, layout.key_write,
               [&] { return KeyWriteLayout::Create(c.keywrite_slots); }),
      CreateIf(
          c.keyincrement_slots != 0, layout.key_increment,
          [&] { return KeyIncrementLayout::Create(c.keyincrement_rows, c.keyincrement_slots); }),
      CreateIf(c.append_lists != 0, layout.append,
               [&] {
                 return AppendLayout::Create(c.append_lists, c.append_entries, c.append_batch,
                                             c.append_head_interval);
               }),
      CreateIf(
          c.postcarding_slots != 0, layout.postcarding,
          [&] { return PostcardingLayout::Create(c.postcarding_slots, c.postcarding_copies); }),
  };
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return layout;
}

std::vector<RegionSize> Layout::Regions() const {
  std::vector<RegionSize> regions;
  if (key_write) regions.push_back({kKeyWriteRegion, key_write->bytes()});
  if (key_increment) regions.push_back({kKeyIncrementRegion, key_increment->bytes()});
  if (append) regions.push_back({kAppendRegion, append->bytes()});
  if (postcarding) regions.push_back({kPostcardingRegion, postcarding->bytes()});
  return regions;
}

}  // namespace softfino::dta
