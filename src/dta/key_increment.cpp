#include "softfino/dta/key_increment.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "softfino/dta/region.h"

namespace softfino::dta {

absl::StatusOr<KeyIncrementLayout> KeyIncrementLayout::Create(uint8_t rows, uint64_t slots) {
  if (rows < 1 || rows > kMaxCopies) {
    return absl::InvalidArgumentError(absl::StrCat("Key-Increment rows is ", int{rows},
                                                   "; use 1 to ", kMaxCopies,
                                                   " (one hash polynomial each)"));
  }
  if (absl::Status s = CheckSlotCount(slots, "Key-Increment slots per row"); !s.ok()) return s;
  absl::StatusOr<KeyHash> hash = KeyHash::Create();
  if (!hash.ok()) return hash.status();
  return KeyIncrementLayout(*std::move(hash), rows, slots - 1);
}

absl::Status KeyIncrementLayout::CheckRegion(std::span<const uint8_t> memory) const {
  return CheckRegionMemory(memory, bytes(), "Key-Increment");
}

std::optional<uint64_t> KeyIncrementLayout::Query(std::span<const uint8_t> memory, uint32_t key,
                                                  uint8_t rows) const {
  if (rows == 0 || rows > rows_ || memory.size() < bytes()) return std::nullopt;
  uint64_t min = std::numeric_limits<uint64_t>::max();
  for (uint8_t r = 0; r < rows; ++r) {
    min = std::min(min, LoadU64(memory.data() + SlotOffset(key, r)));
  }
  return min;
}

}  // namespace softfino::dta
