#include "softfino/tea/pending_lookups.h"

#include "absl/numeric/bits.h"
#include "absl/strings/str_cat.h"

namespace softfino::tea {

absl::StatusOr<PendingLookups> PendingLookups::Create(uint32_t slots, uint32_t packet_bytes) {
  if (slots == 0 || slots > kMaxSlots || !absl::has_single_bit(slots)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lookups in flight must be a power of two 1..", kMaxSlots, ", not ", slots));
  }
  if (packet_bytes > kMaxPacketBytes) {
    return absl::InvalidArgumentError(absl::StrCat("deferred packets are held up to ",
                                                   kMaxPacketBytes, " bytes, not ", packet_bytes));
  }
  return PendingLookups(slots, packet_bytes);
}

PendingLookups::PendingLookups(uint32_t slots, uint32_t packet_bytes)
    : entries_(new PendingLookup[slots]),
      storage_(packet_bytes == 0 ? nullptr : new uint8_t[size_t{slots} * packet_bytes]),
      mask_(slots - 1),
      packet_bytes_(packet_bytes) {
  for (uint32_t i = 0; i < slots; ++i) {
    entries_[i].packet = storage_ ? storage_.get() + size_t{i} * packet_bytes : nullptr;
  }
}

PendingLookup* PendingLookups::Reserve(uint32_t psn, uint64_t now_ns) {
  PendingLookup& e = entries_[psn & mask_];
  if (e.busy) return nullptr;
  e.psn = psn & net::kPsnMask;
  e.busy = true;
  e.sent_ns = now_ns;
  ++busy_;
  return &e;
}

}  // namespace softfino::tea
