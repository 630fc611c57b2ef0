#include "softfino/tea/table.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace softfino::tea {
namespace {

// Region bytes are read by RDMA outside the C++ object model.
typedef uint64_t __attribute__((may_alias)) AliasedU64;

uint64_t WordOf(const uint8_t* bytes) {
  uint64_t w;
  std::memcpy(&w, bytes, 8);
  return w;
}

// One aligned 8-byte store: a reader sees the old or the new word, never a
// mix. Release: the stores before it are visible first (see layout.h,
// Consistency).
void StoreWord(uint8_t* at, uint64_t word) {
  __atomic_store_n(reinterpret_cast<AliasedU64*>(at), word, __ATOMIC_RELEASE);
}

uint64_t StateWord(uint8_t state) {
  uint8_t bytes[8] = {state, 0, 0, 0, 0, 0, 0, 0};
  return WordOf(bytes);
}

uint64_t ValueWord(uint64_t value) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (56 - 8 * i));
  return WordOf(bytes);
}

uint64_t ValueOf(const uint8_t* bucket) {
  uint64_t v = 0;
  for (uint64_t i = 0; i < kValueBytes; ++i) v = (v << 8) | bucket[kValueOffset + i];
  return v;
}

}  // namespace

absl::StatusOr<Table> Table::Create(const Layout& layout, std::span<uint8_t> memory) {
  if (memory.size() < layout.bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("TEA table ", layout.config().name,
                                                   " needs a region of ", layout.bytes(),
                                                   " bytes; the memory given has ", memory.size()));
  }
  if ((reinterpret_cast<uintptr_t>(memory.data()) & 7) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TEA table ", layout.config().name,
                     " needs 8-byte aligned memory so that state words are stored whole"));
  }
  absl::StatusOr<KeyHash> hash = KeyHash::Create();
  if (!hash.ok()) return hash.status();
  layout.WriteHeader(memory.data());
  return Table(layout, *std::move(hash), memory.data());
}

bool Table::Holds(uint64_t bucket, uint32_t slot, const Key& key) const {
  const uint8_t* e = EntryAt(bucket, slot);
  return e[kStateOffset] == kStateOccupied && std::memcmp(e, key.data(), kKeyBytes) == 0;
}

template <typename F>
void Table::ForEachCopy(uint64_t bucket, uint32_t slot, F write) {
  write(EntryAt(bucket, slot));
  const uint64_t n = layout_.bucket_count();
  const uint64_t in_bucket = uint64_t{slot} * kEntryBytes;
  for (uint32_t lane = 0; lane < layout_.shadow_lanes(); ++lane) {
    // Bucket b is the first half of row b and the second half of row b - 1.
    if (bucket < n) write(base_ + layout_.ShadowRowOffset(lane, bucket) + in_bucket);
    if (bucket > 0) {
      write(base_ + layout_.ShadowRowOffset(lane, bucket - 1) + layout_.bucket_bytes() + in_bucket);
    }
  }
}

absl::StatusOr<Entry> Table::Insert(const Key& key, uint64_t value, bool replace) {
  const uint64_t h = WindowIndex(key);
  const uint32_t slots = layout_.slots();
  for (uint64_t b = h; b <= h + 1; ++b) {
    for (uint32_t s = 0; s < slots; ++s) {
      if (!Holds(b, s, key)) continue;
      if (!replace) {
        ++counters_.duplicates;
        return absl::AlreadyExistsError(absl::StrCat(
            "TEA table ", layout_.config().name, ": key ", KeyToHex(key),
            " is already present (bucket ", b, "); delete it first or insert with replace"));
      }
      const uint64_t word = ValueWord(value);
      ForEachCopy(b, s, [word](uint8_t* at) { StoreWord(at + kValueOffset, word); });
      ++counters_.updates;
      return Entry{value, b, s};
    }
  }
  for (uint64_t b = h; b <= h + 1; ++b) {
    for (uint32_t s = 0; s < slots; ++s) {
      if (EntryAt(b, s)[kStateOffset] == kStateOccupied) continue;
      const uint64_t k0 = WordOf(key.data());
      const uint64_t k1 = WordOf(key.data() + 8);
      const uint64_t v = ValueWord(value);
      // Key and value first, the state word last (layout.h, Consistency).
      ForEachCopy(b, s, [&](uint8_t* at) {
        StoreWord(at, k0);
        StoreWord(at + 8, k1);
        StoreWord(at + kValueOffset, v);
        StoreWord(at + kStateOffset, StateWord(kStateOccupied));
      });
      ++counters_.inserts;
      ++counters_.entries;
      return Entry{value, b, s};
    }
  }
  ++counters_.insert_failures;
  return absl::ResourceExhaustedError(
      absl::StrCat("TEA table ", layout_.config().name, ": cannot insert key ", KeyToHex(key),
                   ": buckets ", h, " and ", h + 1,
                   " (its whole probe window) hold other keys; the table is too full near "
                   "this key (",
                   counters_.entries, " entries in ", layout_.bucket_count(), " buckets of ", slots,
                   "): give it more buckets or slots, or delete entries"));
}

absl::Status Table::Delete(const Key& key) {
  const uint64_t h = WindowIndex(key);
  for (uint64_t b = h; b <= h + 1; ++b) {
    for (uint32_t s = 0; s < layout_.slots(); ++s) {
      if (!Holds(b, s, key)) continue;
      // The state word first: from then on no reader takes the entry's bytes.
      ForEachCopy(b, s, [](uint8_t* at) {
        StoreWord(at + kStateOffset, StateWord(kStateEmpty));
        StoreWord(at, 0);
        StoreWord(at + 8, 0);
        StoreWord(at + kValueOffset, 0);
      });
      ++counters_.deletes;
      --counters_.entries;
      return absl::OkStatus();
    }
  }
  ++counters_.delete_misses;
  return absl::NotFoundError(absl::StrCat("TEA table ", layout_.config().name, ": key ",
                                          KeyToHex(key), " is not present"));
}

std::optional<Entry> Table::Lookup(const Key& key) {
  ++counters_.lookups;
  const uint64_t h = WindowIndex(key);
  for (uint64_t b = h; b <= h + 1; ++b) {
    for (uint32_t s = 0; s < layout_.slots(); ++s) {
      if (Holds(b, s, key)) return Entry{ValueOf(EntryAt(b, s)), b, s};
    }
  }
  return std::nullopt;
}

}  // namespace softfino::tea
