// The TEA table's control path on the collector: insert, delete and look up
// entries in a region laid out as layout.h says, keeping the shadow rows'
// bucket copies equal to the buckets. Plain computation on memory (no EAL),
// one thread: the collector calls it between soft RNIC bursts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "softfino/tea/key.h"
#include "softfino/tea/layout.h"

namespace softfino::tea {

struct TableCounters {
  uint64_t entries = 0;          // occupied entries now
  uint64_t inserts = 0;          // new keys placed
  uint64_t updates = 0;          // values replaced in place (insert with replace)
  uint64_t insert_failures = 0;  // every entry of the window held another key
  uint64_t duplicates = 0;       // insert of a present key without replace
  uint64_t deletes = 0;
  uint64_t delete_misses = 0;  // delete of an absent key
  uint64_t lookups = 0;
};

struct Entry {
  uint64_t value = 0;
  uint64_t bucket = 0;  // h or h + 1
  uint32_t slot = 0;    // within the bucket
};

class Table {
 public:
  // Formats `memory` (the region: at least layout.bytes(), 8-byte aligned,
  // zeroed, as regions are) by writing the header; every bucket starts
  // empty. Errors say what the memory lacks.
  static absl::StatusOr<Table> Create(const Layout& layout, std::span<uint8_t> memory);

  // Places `key` in the first free entry of bucket h, else of bucket h + 1.
  // A present key is AlreadyExists unless `replace` (then its value changes
  // in place, one 8-byte store). Every entry of both buckets taken by other
  // keys: ResourceExhausted, counted in insert_failures; the table is
  // unchanged.
  absl::StatusOr<Entry> Insert(const Key& key, uint64_t value, bool replace = false);
  // NotFound when absent (counted in delete_misses).
  absl::Status Delete(const Key& key);
  std::optional<Entry> Lookup(const Key& key);

  // h(key): the window the switch reads starts at layout().WindowOffset(h).
  uint64_t WindowIndex(const Key& key) const { return hash_(key) & layout_.mask(); }

  const Layout& layout() const { return layout_; }
  const TableCounters& counters() const { return counters_; }

 private:
  Table(Layout layout, KeyHash hash, uint8_t* base)
      : layout_(std::move(layout)), hash_(std::move(hash)), base_(base) {}

  uint8_t* EntryAt(uint64_t bucket, uint32_t slot) const {
    return base_ + layout_.EntryOffset(bucket, slot);
  }
  bool Holds(uint64_t bucket, uint32_t slot, const Key& key) const;
  // Applies `write` to the entry and to each of its shadow copies (in rows
  // `bucket` and `bucket` - 1 of every lane).
  template <typename F>
  void ForEachCopy(uint64_t bucket, uint32_t slot, F write);

  Layout layout_;
  KeyHash hash_;
  uint8_t* base_;
  TableCounters counters_;
};

}  // namespace softfino::tea
