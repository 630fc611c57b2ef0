// DTA Key-Increment: a Count-Min sketch in collector memory that the
// translator updates with one RDMA FETCH_ADD per row, and the collector's
// query (the minimum over the rows).
//
// Region ("dta.keyincrement"): `rows` rows (1..4), row r the `slots`
// counters from byte r * slots * 8; a key's counter in row r is
//   KeyHash::Index(key, r) & (slots - 1)           (see key_hash.h)
// the same hash as Key-Write's copy r, so rows differ by polynomial and a
// collision in one row says next to nothing about another (with one
// polynomial every row would repeat row 0's collisions and the sketch
// would be no better than one row). Counters are 8 bytes at a stride of 8,
// so every FETCH_ADD is 8-byte aligned as atomics require (REFERENCE.md
// Decision), and hold a uint64_t in host order, as a NIC leaves the result
// of FETCH_ADD for the host (little-endian on x86); the soft RNIC does the
// same.
//
// The query returns the minimum over the rows the key was counted in: never
// below the key's true total (counters only grow, other keys only add), and
// equal to it when at least one of its counters is shared with no other key.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "softfino/dta/key_hash.h"

namespace softfino::dta {

inline constexpr uint64_t kCounterBytes = 8;

class KeyIncrementLayout {
 public:
  // `rows`: 1..kMaxCopies; `slots`: counters per row, a power of two, at
  // most 2^32.
  static absl::StatusOr<KeyIncrementLayout> Create(uint8_t rows, uint64_t slots);

  uint8_t rows() const { return rows_; }
  uint64_t slots() const { return mask_ + 1; }
  uint64_t bytes() const { return rows_ * slots() * kCounterBytes; }

  // Translator side: the FETCH_ADD's offset for row `row` (< rows()),
  // always a multiple of 8.
  uint64_t SlotOffset(uint32_t key, uint8_t row) const {
    return (row * slots() + (hash_.Index(key, row) & mask_)) * kCounterBytes;
  }

  // Collector side: as KeyWriteLayout::CheckRegion.
  absl::Status CheckRegion(std::span<const uint8_t> memory) const;

  // The minimum over the first `rows` rows (the redundancy the key was
  // counted with); nullopt when `rows` is 0 or above rows(), or `memory` is
  // shorter than bytes().
  std::optional<uint64_t> Query(std::span<const uint8_t> memory, uint32_t key, uint8_t rows) const;

 private:
  KeyIncrementLayout(KeyHash hash, uint8_t rows, uint64_t mask)
      : hash_(std::move(hash)), rows_(rows), mask_(mask) {}

  KeyHash hash_;
  uint8_t rows_;
  uint64_t mask_;
};

}  // namespace softfino::dta
