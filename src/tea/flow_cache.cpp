#include "softfino/tea/flow_cache.h"

#include <algorithm>

#include "absl/numeric/bits.h"
#include "absl/strings/str_cat.h"

namespace softfino::tea {

absl::StatusOr<CachePolicy> CachePolicyFromName(absl::string_view name) {
  if (name == "clock") return CachePolicy::kClock;
  if (name == "fifo") return CachePolicy::kFifo;
  if (name == "lru") return CachePolicy::kLru;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown cache policy \"", name, "\"; use clock, fifo or lru"));
}

absl::string_view CachePolicyName(CachePolicy policy) {
  switch (policy) {
    case CachePolicy::kClock:
      return "clock";
    case CachePolicy::kFifo:
      return "fifo";
    case CachePolicy::kLru:
      return "lru";
  }
  return "?";
}

absl::StatusOr<FlowCache> FlowCache::Create(uint32_t entries, uint32_t ways, CachePolicy policy) {
  if (ways == 0 || ways > kMaxWays || !absl::has_single_bit(ways)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache ways must be a power of two 1..", kMaxWays, ", not ", ways));
  }
  if (entries != 0 && (entries < ways || entries > kMaxEntries || !absl::has_single_bit(entries))) {
    return absl::InvalidArgumentError(absl::StrCat("cache entries must be 0 or a power of two ",
                                                   ways, "..", kMaxEntries, ", not ", entries));
  }
  return FlowCache(entries, ways, policy);
}

FlowCache::FlowCache(uint32_t entries, uint32_t ways, CachePolicy policy)
    : lines_(entries),
      hands_(entries / ways),
      ways_(ways),
      set_mask_(entries == 0 ? 0 : entries / ways - 1),
      policy_(policy) {}

void FlowCache::Insert(const Key& key, uint32_t hash, uint64_t value) {
  if (lines_.empty()) return;
  Line* set = SetOf(hash);
  Line* free_line = nullptr;
  for (uint32_t w = 0; w < ways_; ++w) {
    Line& l = set[w];
    if (l.valid && Same(l.key, key)) {
      l.value = value;
      ++counters_.updates;
      return;
    }
    if (!l.valid && free_line == nullptr) free_line = &l;
  }
  Line* victim = free_line;
  if (victim == nullptr) {
    uint8_t& hand = hands_[static_cast<size_t>(set - lines_.data()) / ways_];
    switch (policy_) {
      case CachePolicy::kFifo:
        victim = &set[hand];
        hand = static_cast<uint8_t>((hand + 1) & (ways_ - 1));
        break;
      case CachePolicy::kClock:
        // At most one full turn clears every bit, so the second finds one.
        for (uint32_t step = 0; step <= ways_; ++step) {
          Line& l = set[hand];
          hand = static_cast<uint8_t>((hand + 1) & (ways_ - 1));
          if (!l.referenced) {
            victim = &l;
            break;
          }
          l.referenced = false;
        }
        break;
      case CachePolicy::kLru:
        victim = set;
        for (uint32_t w = 1; w < ways_; ++w) {
          // Stamps wrap after 2^32 uses: compare ages, not stamps.
          if (clock_ - set[w].stamp > clock_ - victim->stamp) victim = &set[w];
        }
        break;
    }
    ++counters_.evictions;
  } else {
    ++size_;
  }
  victim->key = key;
  victim->value = value;
  victim->valid = true;
  // A new entry must earn its second chance with a hit.
  victim->referenced = false;
  victim->stamp = ++clock_;
  ++counters_.inserts;
}

bool FlowCache::Erase(const Key& key, uint32_t hash) {
  if (lines_.empty()) return false;
  Line* set = SetOf(hash);
  for (uint32_t w = 0; w < ways_; ++w) {
    if (set[w].valid && Same(set[w].key, key)) {
      set[w].valid = false;
      --size_;
      return true;
    }
  }
  return false;
}

void FlowCache::Clear() {
  std::fill(lines_.begin(), lines_.end(), Line{});
  std::fill(hands_.begin(), hands_.end(), 0);
  size_ = 0;
}

}  // namespace softfino::tea
