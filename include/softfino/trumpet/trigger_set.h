// An immutable set of triggers with the tuple-space search that matches a
// flow against all of them: triggers are grouped by their filter's field
// lengths (the "tuple"), and a flow is matched with one hash probe per
// distinct tuple, however many triggers there are (Trumpet matches a flow's
// first packet only and remembers the result with the flow).
//
// The control path builds a new set for every change and the pipes adopt it
// at an epoch boundary; a set is never changed once built.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "softfino/trumpet/trigger.h"

namespace softfino::trumpet {

template <typename H>
H AbslHashValue(H h, const FiveTuple& t) {
  return H::combine(std::move(h), t.src, t.dst, t.sport, t.dport, t.proto);
}

// A trigger's index in its set: what a flow entry remembers.
using TriggerIndex = uint16_t;
inline constexpr size_t kMaxTriggers = 65535;

class TriggerSet {
 public:
  // `triggers` have their ids set and unique. Every interval must be a
  // multiple of `epoch_ns` (the monitor's statistics period).
  static absl::StatusOr<std::shared_ptr<const TriggerSet>> Create(std::vector<Trigger> triggers,
                                                                  uint64_t epoch_ns,
                                                                  uint64_t generation);

  const std::vector<Trigger>& triggers() const { return triggers_; }
  uint64_t generation() const { return generation_; }
  size_t tuple_count() const { return tuples_.size(); }
  // The distinct intervals, each with the triggers that use it.
  struct IntervalClass {
    uint64_t interval_ns;
    std::vector<TriggerIndex> triggers;
  };
  const std::vector<IntervalClass>& intervals() const { return intervals_; }
  // True when trigger k groups by the whole 5-tuple and its interval is one
  // epoch: each flow is then its own group for exactly one epoch, so the
  // sweep checks the predicate on the flow's statistics directly, with no
  // group table (and no pipe ever holds part of another's group).
  bool per_flow(TriggerIndex k) const { return per_flow_[k]; }

  // Writes the indices of the triggers `flow` matches (ascending) to `out`,
  // at most `max`; returns how many matched in all (may exceed max).
  size_t Match(const FiveTuple& flow, TriggerIndex* out, size_t max) const;

 private:
  struct Tuple {
    FieldLengths lengths;
    absl::flat_hash_map<FiveTuple, std::vector<TriggerIndex>> by_value;
  };
  std::vector<Trigger> triggers_;
  std::vector<Tuple> tuples_;
  std::vector<IntervalClass> intervals_;
  std::vector<bool> per_flow_;
  uint64_t generation_ = 0;
};

}  // namespace softfino::trumpet
