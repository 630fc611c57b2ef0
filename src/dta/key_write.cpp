#include "softfino/dta/key_write.h"

#include <rte_byteorder.h>

#include <cstring>
#include <utility>

#include "softfino/dta/region.h"
#include "softfino/dta/vote.h"
#include "softfino/net/dta.h"

namespace softfino::dta {

absl::StatusOr<KeyWriteLayout> KeyWriteLayout::Create(uint64_t slots) {
  if (absl::Status s = CheckSlotCount(slots, "Key-Write slots"); !s.ok()) return s;
  absl::StatusOr<KeyHash> hash = KeyHash::Create();
  if (!hash.ok()) return hash.status();
  return KeyWriteLayout(*std::move(hash), slots - 1);
}

std::array<uint8_t, kKeyWriteSlotBytes> KeyWriteLayout::SlotBytes(uint32_t key,
                                                                  uint32_t data) const {
  std::array<uint8_t, kKeyWriteSlotBytes> out;
  const uint32_t checksum = rte_cpu_to_le_32(hash_.Checksum(key));
  std::memcpy(out.data(), &checksum, 4);
  net::DtaStore32(out.data() + 4, data);
  return out;
}

absl::Status KeyWriteLayout::CheckRegion(std::span<const uint8_t> memory) const {
  return CheckRegionMemory(memory, bytes(), "Key-Write");
}

KeyWriteAnswer KeyWriteLayout::Query(std::span<const uint8_t> memory, uint32_t key,
                                     uint8_t redundancy, uint8_t threshold) const {
  KeyWriteAnswer answer;
  if (redundancy == 0 || redundancy > kMaxCopies || memory.size() < bytes()) return answer;
  const uint32_t checksum = hash_.Checksum(key);
  std::array<uint64_t, kMaxCopies> slots;
  const int distinct = hash_.DistinctSlots(key, redundancy, mask_, slots);
  // The candidates: slots holding the key's checksum.
  uint32_t values[kMaxCopies];
  int count = 0;
  for (int i = 0; i < distinct; ++i) {
    const uint64_t slot = rte_le_to_cpu_64(LoadU64(memory.data() + slots[i] * kKeyWriteSlotBytes));
    if (slot == 0) continue;  // empty, see the header
    if (static_cast<uint32_t>(slot) != checksum) continue;
    // Bytes 4..7 are the data in network order.
    values[count++] = __builtin_bswap32(static_cast<uint32_t>(slot >> 32));
  }
  answer.matches = static_cast<uint8_t>(count);
  const VoteResult vote = PluralityVote(std::span<const uint32_t>(values, count), threshold);
  answer.votes = vote.votes;
  answer.found = vote.decided;
  if (vote.decided) answer.data = values[vote.winner];
  return answer;
}

}  // namespace softfino::dta
