// The collector regions of DTA's four primitives, named and sized from one
// configuration that the translator and the collector share, so both build
// the same layouts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/dta/append.h"
#include "softfino/dta/key_increment.h"
#include "softfino/dta/key_write.h"
#include "softfino/dta/postcarding.h"

namespace softfino::dta {

// Region names, as the collector hosts them and the handshake asks for them.
inline constexpr char kKeyWriteRegion[] = "dta.keywrite";
inline constexpr char kKeyIncrementRegion[] = "dta.keyincrement";
inline constexpr char kAppendRegion[] = "dta.append";
inline constexpr char kPostcardingRegion[] = "dta.postcarding";

// A primitive is off when its slots (entries, lists) are 0.
struct LayoutConfig {
  uint64_t keywrite_slots = 0;
  uint8_t keyincrement_rows = 2;
  uint64_t keyincrement_slots = 0;  // per row
  uint32_t append_lists = 0;
  uint64_t append_entries = 0;  // per list
  uint32_t append_batch = 16;
  uint32_t append_head_interval = 1;
  uint64_t postcarding_slots = 0;
  uint8_t postcarding_copies = 2;
};

// The same configuration as JSON, as the translator's config and the
// collector's --dta-layout file both give it: an object with any of the
// fields above by the same names ("keywrite_slots": 1048576, ...); absent
// fields keep their defaults. Unknown fields and values out of range are
// refused naming the field.
absl::StatusOr<LayoutConfig> ParseLayoutConfig(const nlohmann::json& j);

struct RegionSize {
  std::string name;
  uint64_t bytes = 0;
};

struct Layout {
  std::optional<KeyWriteLayout> key_write;
  std::optional<KeyIncrementLayout> key_increment;
  std::optional<AppendLayout> append;
  std::optional<PostcardingLayout> postcarding;

  // Fails with the first invalid setting's message.
  static absl::StatusOr<Layout> Create(const LayoutConfig& config);

  // The regions of the primitives that are on, in the order above.
  std::vector<RegionSize> Regions() const;
};

}  // namespace softfino::dta
