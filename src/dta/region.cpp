#include "softfino/dta/region.h"

#include "absl/strings/str_cat.h"

namespace softfino::dta {

absl::Status CheckSlotCount(uint64_t slots, absl::string_view what) {
  if (slots == 0 || (slots & (slots - 1)) != 0 || slots > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", slots,
                     "; use a power of two from 1 to 2^32 (slot indexes are a 32-bit hash "
                     "masked with slots - 1)"));
  }
  return absl::OkStatus();
}

absl::Status CheckRegionMemory(std::span<const uint8_t> memory, uint64_t bytes,
                               absl::string_view what) {
  if (memory.size() < bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " needs a region of ", bytes,
                                                   " bytes; the memory given has ", memory.size()));
  }
  if ((reinterpret_cast<uintptr_t>(memory.data()) & 7) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " needs 8-byte aligned memory so that slots load whole; it starts at ",
                     absl::Hex(reinterpret_cast<uintptr_t>(memory.data()))));
  }
  return absl::OkStatus();
}

}  // namespace softfino::dta
