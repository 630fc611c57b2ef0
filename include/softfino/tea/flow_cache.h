// The switch's on-chip cache of TEA entries (the paper's "small on-chip
// cache serves hot flows"): an exact-match key -> value map of bounded size
// in front of the table in server memory. A hit costs no RDMA READ; a miss
// costs one, and the READ's answer fills the cache.
//
// Set-associative: `sets` sets of `ways` entries; a key can live only in
// the set its hash picks (as a Tofino register row indexed by a hash), so a
// lookup compares at most `ways` keys. Replacement within a set, by policy:
//   kClock  second chance (default): a hit sets the entry's reference bit;
//           an insert sweeps the set's hand over the ways, clearing set
//           bits, and takes the first entry without one. Hot flows keep
//           their bit set between sweeps, so a stream of one-packet flows
//           (the tail of a Zipf workload, a scan) passes through the ways
//           hot flows do not hold instead of flushing them. Its state per
//           set is one hand and a bit per way: a register each on Tofino.
//   kFifo   the hand alone (round robin): the cheapest, no state on a hit.
//   kLru    the least recently used way (a timestamp per entry): the
//           reference point, hard to build in a stateful ALU.
// tea_switch_test measures the hit rates under skew (README of tea_nat).
//
// A cached entry stays until evicted or erased: a control plane that
// deletes or changes a table entry erases it here too (or the program
// flushes the cache).
//
// Fast path: no allocation after Create, no locks; one owner (a pipe).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "softfino/tea/key.h"

namespace softfino::tea {

enum class CachePolicy : uint8_t { kClock, kFifo, kLru };
// "clock", "fifo" or "lru"; the error names them.
absl::StatusOr<CachePolicy> CachePolicyFromName(absl::string_view name);
absl::string_view CachePolicyName(CachePolicy policy);

struct FlowCacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;    // new keys placed
  uint64_t updates = 0;    // a present key's value replaced
  uint64_t evictions = 0;  // inserts that pushed another key out
};

class FlowCache {
 public:
  static constexpr uint32_t kMaxWays = 8;
  static constexpr uint32_t kMaxEntries = 1u << 24;

  // `entries` (a power of two, ways .. kMaxEntries; 0: a cache that never
  // hits) in sets of `ways` (a power of two, 1 .. kMaxWays).
  static absl::StatusOr<FlowCache> Create(uint32_t entries, uint32_t ways, CachePolicy policy);

  // The value of `key`, whose hash is `hash` (KeyHash: the same the table
  // uses, so the switch computes it once), counted as a hit or a miss.
  // Inline, once per packet: returned from a call, the optional went
  // through the stack as an 8-byte value and a 1-byte flag read back with
  // one 8-byte load over that flag, which waited for the store (a
  // store-forwarding stall on every lookup: 38% of Find's samples).
  std::optional<uint64_t> Find(const Key& key, uint32_t hash) {
    if (!lines_.empty()) {
      Line* set = SetOf(hash);
      for (uint32_t w = 0; w < ways_; ++w) {
        Line& l = set[w];
        if (l.valid && Same(l.key, key)) {
          ++counters_.hits;
          l.referenced = true;
          l.stamp = ++clock_;
          return l.value;
        }
      }
    }
    ++counters_.misses;
    return std::nullopt;
  }
  // Starts loading the lines of `hash`'s set, for a Find a few packets
  // later: each key's set is a random place in the cache, usually not in
  // the core's L1/L2, and a burst's loads overlap instead of one per packet.
  void Prefetch(uint32_t hash) const {
    if (lines_.empty()) return;
    const Line* set = SetOf(hash);
    __builtin_prefetch(set);
    __builtin_prefetch(reinterpret_cast<const char*>(set + ways_) - 1);  // its last line
  }
  // Places or updates `key`, evicting by the policy when its set is full.
  void Insert(const Key& key, uint32_t hash, uint64_t value);
  // False when absent.
  bool Erase(const Key& key, uint32_t hash);
  void Clear();

  uint32_t entries() const { return static_cast<uint32_t>(lines_.size()); }
  uint32_t ways() const { return ways_; }
  CachePolicy policy() const { return policy_; }
  uint32_t size() const { return size_; }  // entries held now
  const FlowCacheCounters& counters() const { return counters_; }

 private:
  struct Line {
    Key key{};
    uint64_t value = 0;
    uint32_t stamp = 0;  // kLru: the last use
    bool valid = false;
    bool referenced = false;  // kClock
  };

  FlowCache(uint32_t entries, uint32_t ways, CachePolicy policy);
  // The set's first line. The table's bucket index uses the hash's low
  // bits; the set takes the high half first so that keys of one bucket
  // spread over sets.
  Line* SetOf(uint32_t hash) { return const_cast<Line*>(std::as_const(*this).SetOf(hash)); }
  const Line* SetOf(uint32_t hash) const {
    const uint32_t mixed = (hash >> 16) | (hash << 16);
    return lines_.data() + static_cast<size_t>(mixed & set_mask_) * ways_;
  }
  static bool Same(const Key& a, const Key& b) {
    return std::memcmp(a.data(), b.data(), a.size()) == 0;
  }

  std::vector<Line> lines_;
  std::vector<uint8_t> hands_;  // per set
  uint32_t ways_;
  uint32_t set_mask_;
  CachePolicy policy_;
  uint32_t clock_ = 0;  // kLru stamps
  uint32_t size_ = 0;
  FlowCacheCounters counters_;
};

}  // namespace softfino::tea
