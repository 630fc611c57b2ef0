#include "softfino/dta/layout.h"

#include <utility>

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
