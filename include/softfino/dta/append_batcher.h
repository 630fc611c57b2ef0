// The translator's Append batching (DTA's design): reports of a list are
// gathered B at a time (B = AppendLayout::batch()) and written as one RDMA
// WRITE of B entries at the list's position, so an Append costs 1/B of a
// WRITE. Per list it keeps the entries waiting and the position (entries
// written so far), which is where the next batch goes and what the head
// publications say (see append.h).
//
// Entries wait until their batch is full: a list that gets fewer than B
// more reports keeps its last entries on the switch (Pending says how many),
// as on Tofino, where the batch lives in registers.
//
// Fast path: fixed memory, no allocation; one owner (the pipe running the
// collector port's egress).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "softfino/dta/append.h"

namespace softfino::dta {

// A full batch, ready for its WRITE.
struct AppendBatch {
  uint32_t list = 0;
  uint64_t position = 0;  // of its first entry; the list's position after it is position + B
  std::span<const uint32_t> values;  // B values, host order, valid until the list's next Add
};

class AppendBatcher {
 public:
  static absl::StatusOr<AppendBatcher> Create(const AppendLayout& layout);

  // Adds `data` to `list` (< layout.lists(), checked by the caller). True
  // when that filled the list's batch: *out is it, and the list's position
  // has moved past it.
  bool Add(uint32_t list, uint32_t data, AppendBatch* out) {
    List& l = lists_[list];
    l.values[l.pending++] = data;
    if (l.pending < batch_) return false;
    out->list = list;
    out->position = l.position;
    out->values = std::span<const uint32_t>(l.values.data(), batch_);
    l.position += batch_;
    l.pending = 0;
    return true;
  }

  // Entries written to `list` so far (a multiple of B).
  uint64_t Position(uint32_t list) const { return lists_[list].position; }
  // Entries of `list` waiting for their batch.
  uint32_t Pending(uint32_t list) const { return lists_[list].pending; }

 private:
  struct List {
    uint64_t position = 0;
    uint32_t pending = 0;
    std::array<uint32_t, kMaxAppendBatch> values{};
  };

  AppendBatcher(uint32_t lists, uint32_t batch) : lists_(new List[lists]), batch_(batch) {}

  std::unique_ptr<List[]> lists_;
  uint32_t batch_;
};

inline absl::StatusOr<AppendBatcher> AppendBatcher::Create(const AppendLayout& layout) {
  return AppendBatcher(layout.lists(), layout.batch());
}

}  // namespace softfino::dta
