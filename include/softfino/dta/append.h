// DTA Append: per-list ring buffers of 4-byte entries in collector memory.
// The translator batches B reports of a list (B in 1, 2, 4, 8, 16) into one
// RDMA WRITE of B * 4 bytes at the list's head and advances the head by B,
// wrapping at the ring's end; the collector reads what came since it last
// looked.
//
// Region ("dta.append"):
//   [0, heads_bytes())   one 8-byte head counter per list, list L's at L * 8,
//                        then zeros up to a multiple of 64
//   then                 list L's ring at heads_bytes() + L * entries * 4:
//                        `entries` 4-byte entries, each a report's data in
//                        network order, as the report carries it
// A list's entries are numbered by a position that never wraps: the count
// of entries ever written to the list. Position p lives at ring entry
// p & (entries - 1); `entries` is a power of two and a multiple of B, so a
// batch never straddles the ring's end.
//
// How the collector knows the head: the translator publishes it. After
// every `head_interval`-th batch of a list it WRITEs the list's position
// (a uint64_t in host order, little-endian on x86) to the list's head
// counter, on the same queue pair and after the batch. Why:
//   - Inferring it from the ring cannot work for arbitrary data: any 32-bit
//     value may be a report, so nothing marks an entry as new, and the
//     collector must not write into the ring (the translator owns it).
//   - On one RC queue pair WRITEs are placed in order, so a head the
//     collector reads promises that every entry before it is in memory
//     (data, then the doorbell).
//   - A count that never wraps (not the ring index) lets the reader tell
//     exactly how many entries it lost when it fell a whole ring behind, and
//     see a translator restart (the head goes back).
//   - It costs one 8-byte WRITE per head_interval batches rather than a
//     FETCH_ADD per batch (atomics are the slowest NIC operation, and the
//     translator knows the value anyway). With head_interval > 1 the newest
//     batches wait for the next publication.
// Reading races the writer: while the collector copies, the translator may
// be overwriting the oldest entries. The reader reads the head again after
// copying and drops (counts as lost) every entry the writer could have
// reached by then: up to head_interval * B entries past the head it read
// may be written without a publication.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace softfino::dta {

inline constexpr uint64_t kAppendEntryBytes = 4;
inline constexpr uint64_t kAppendHeadBytes = 8;
inline constexpr uint32_t kMaxAppendBatch = 16;

// What one ReadSince call found.
struct AppendRead {
  uint64_t next = 0;   // the position to pass to the next call
  uint64_t lost = 0;   // entries after the given position overwritten before they were read
  bool reset = false;  // the head was behind the position: the translator restarted the
                       // list, and the read started over from position 0
};

class AppendLayout {
 public:
  // `lists`: 1..2^20. `entries`: per ring, a power of two, at least `batch`
  // and more than head_interval * batch (else nothing could be read before
  // it is overwritten), at most 2^30. `batch`: 1, 2, 4, 8 or 16.
  // `head_interval`: batches per head publication, at least 1.
  static absl::StatusOr<AppendLayout> Create(uint32_t lists, uint64_t entries, uint32_t batch,
                                             uint32_t head_interval = 1);

  uint32_t lists() const { return lists_; }
  uint64_t entries() const { return entries_; }
  uint32_t batch() const { return batch_; }
  uint32_t head_interval() const { return head_interval_; }
  uint64_t heads_bytes() const { return heads_bytes_; }
  uint64_t ring_bytes() const { return entries_ * kAppendEntryBytes; }
  uint64_t bytes() const { return heads_bytes_ + lists_ * ring_bytes(); }

  // Translator side. Per list it keeps the position (entries written so
  // far, a multiple of batch()); each batch is one WRITE of BatchBytes()
  // at EntryOffset(list, position); then position += batch(), and when
  // PublishesHead(position), one WRITE of HeadBytes(position) at
  // HeadOffset(list). `list` < lists().
  uint64_t BatchBytes() const { return batch_ * kAppendEntryBytes; }
  uint64_t EntryOffset(uint32_t list, uint64_t position) const {
    return heads_bytes_ + list * ring_bytes() + (position & (entries_ - 1)) * kAppendEntryBytes;
  }
  uint64_t HeadOffset(uint32_t list) const { return uint64_t{list} * kAppendHeadBytes; }
  bool PublishesHead(uint64_t position) const {
    return position % (uint64_t{batch_} * head_interval_) == 0;
  }
  // The batch's payload: `values` (batch() of them, host order) in network
  // order into `out` (BatchBytes() bytes).
  static void PutEntries(std::span<const uint32_t> values, uint8_t* out);
  static void PutHead(uint64_t position, uint8_t* out);  // 8 bytes

  // Collector side: as KeyWriteLayout::CheckRegion.
  absl::Status CheckRegion(std::span<const uint8_t> memory) const;

  // The published head of `list`.
  uint64_t Head(std::span<const uint8_t> memory, uint32_t list) const;

  // Appends to `out` (host order, oldest first) the entries of `list` from
  // `position` to the published head that are still in the ring, and says
  // where to continue. Nothing is read when `memory` is shorter than
  // bytes() or `list` >= lists() (next == position).
  AppendRead ReadSince(std::span<const uint8_t> memory, uint32_t list, uint64_t position,
                       std::vector<uint32_t>* out) const;

 private:
  AppendLayout(uint32_t lists, uint64_t entries, uint32_t batch, uint32_t head_interval);

  uint32_t lists_;
  uint64_t entries_;
  uint32_t batch_;
  uint32_t head_interval_;
  uint64_t heads_bytes_;
};

}  // namespace softfino::dta
