// DTA Key-Write: a key's 32-bit value stored at N slots of a hash-indexed
// array in collector memory, one RDMA WRITE Only of 8 bytes per copy, and
// the collector's query over those slots.
//
// Region ("dta.keywrite"): `slots` (a power of two) slots of 8 bytes; copy
// n (0 <= n < N, N = the report's redundancy, 1..4) of a key is at slot
//   KeyHash::Index(key, n) & (slots - 1)            (see key_hash.h)
// and holds
//   bytes 0..3  CRC-32(key as 4 little-endian bytes), little-endian, so an
//               x86 collector compares it as a native uint32_t
//   bytes 4..7  the report's data, network order, as the report carries it
// Copies are numbered from 0, as DTA's translator and collector do.
//
// Query (the paper's algorithm, REFERENCE.md Decision): read the N slots,
// keep those whose checksum is the key's, and take a plurality vote over
// their data; answer only when the winner has at least `threshold` votes
// and no other value has as many. Each slot votes once: if two copies of a
// key share a slot (chance 1/slots per pair) that slot is one vote, as it
// is one piece of evidence, so such a key cannot reach threshold N.
//
// No answer vs wrong answer: the query answers "not found" when other
// keys overwrote too many of the key's copies (or it was never written);
// that is the common failure and the caller knows it. A wrong answer
// (found, but not the key's latest data) needs a slot with the key's
// checksum and other data, and the checksum is a bijection of 32-bit keys,
// so only the key's own writes qualify: a stale copy (a WRITE lost or
// reordered, which an RC queue pair does not do) or never-written memory.
// An all-zero slot is taken as empty and never votes: otherwise the one
// key whose checksum is 0 would read every empty slot as "data 0"; the
// price is that this key cannot store the value 0 (it reads as not found).
// With wider keys folded to 32 bits the checksum could collide; the paper's
// 1.6e-11 wrong answers come from there.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "softfino/dta/key_hash.h"

namespace softfino::dta {

inline constexpr uint64_t kKeyWriteSlotBytes = 8;

struct KeyWriteAnswer {
  bool found = false;
  uint32_t data = 0;    // host order; 0 unless found
  uint8_t votes = 0;    // slots that voted for the winner (0 when none matched)
  uint8_t matches = 0;  // slots whose checksum was the key's, whatever their data
};

class KeyWriteLayout {
 public:
  // `slots`: a power of two, at most 2^32 (the hash is 32 bits).
  static absl::StatusOr<KeyWriteLayout> Create(uint64_t slots);

  uint64_t slots() const { return mask_ + 1; }
  uint64_t bytes() const { return slots() * kKeyWriteSlotBytes; }

  // Translator side: where copy `copy` (0-based, < kMaxCopies) goes, and
  // the 8 bytes every copy's WRITE carries.
  uint64_t SlotIndex(uint32_t key, uint8_t copy) const { return hash_.Index(key, copy) & mask_; }
  uint64_t SlotOffset(uint32_t key, uint8_t copy) const {
    return SlotIndex(key, copy) * kKeyWriteSlotBytes;
  }
  std::array<uint8_t, kKeyWriteSlotBytes> SlotBytes(uint32_t key, uint32_t data) const;

  // Collector side. OK when `memory` can hold the region: at least bytes()
  // long and 8-byte aligned (so a slot is read in one load, see
  // region_read.h).
  absl::Status CheckRegion(std::span<const uint8_t> memory) const;

  // `redundancy`: the N the key was written with (1..kMaxCopies);
  // `threshold`: votes needed (0 counts as 1; above N never answers). A
  // redundancy out of range, or memory shorter than bytes(), answers not
  // found.
  KeyWriteAnswer Query(std::span<const uint8_t> memory, uint32_t key, uint8_t redundancy,
                       uint8_t threshold) const;

  const KeyHash& hash() const { return hash_; }

 private:
  KeyWriteLayout(KeyHash hash, uint64_t mask) : hash_(std::move(hash)), mask_(mask) {}

  KeyHash hash_;
  uint64_t mask_;
};

}  // namespace softfino::dta
