#include "softfino/trumpet/trigger_set.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace softfino::trumpet {

absl::StatusOr<std::shared_ptr<const TriggerSet>> TriggerSet::Create(std::vector<Trigger> triggers,
                                                                     uint64_t epoch_ns,
                                                                     uint64_t generation) {
  if (triggers.size() > kMaxTriggers) {
    return absl::ResourceExhaustedError(
        absl::StrCat(triggers.size(), " triggers: at most ", kMaxTriggers, " fit in one set"));
  }
  auto set = std::make_shared<TriggerSet>();
  set->generation_ = generation;
  absl::flat_hash_set<uint32_t> ids;
  for (size_t i = 0; i < triggers.size(); ++i) {
    const Trigger& t = triggers[i];
    if (!ids.insert(t.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("trigger id ", t.id, " is used twice"));
    }
    if (t.interval_ns == 0 || t.interval_ns % epoch_ns != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("trigger ", t.name, ": its interval (", t.interval_ns / 1000,
                       " us) must be a multiple of the monitor's epoch (", epoch_ns / 1000,
                       " us); change the interval or trumpet.epoch_us"));
    }
    const auto index = static_cast<TriggerIndex>(i);
    set->per_flow_.push_back(t.group_lengths == FieldLengths{32, 32, 16, 16, 8} &&
                             t.interval_ns == epoch_ns);
    auto tuple = std::find_if(set->tuples_.begin(), set->tuples_.end(),
                              [&](const Tuple& u) { return u.lengths == t.filter_lengths; });
    if (tuple == set->tuples_.end()) {
      set->tuples_.push_back({t.filter_lengths, {}});
      tuple = set->tuples_.end() - 1;
    }
    tuple->by_value[Mask(t.filter_value, t.filter_lengths)].push_back(index);
    auto cls = std::find_if(set->intervals_.begin(), set->intervals_.end(),
                            [&](const IntervalClass& c) { return c.interval_ns == t.interval_ns; });
    if (cls == set->intervals_.end()) {
      set->intervals_.push_back({t.interval_ns, {}});
      cls = set->intervals_.end() - 1;
    }
    cls->triggers.push_back(index);
  }
  set->triggers_ = std::move(triggers);
  return std::shared_ptr<const TriggerSet>(std::move(set));
}

size_t TriggerSet::Match(const FiveTuple& flow, TriggerIndex* out, size_t max) const {
  size_t n = 0;
  for (const Tuple& tuple : tuples_) {
    auto it = tuple.by_value.find(Mask(flow, tuple.lengths));
    if (it == tuple.by_value.end()) continue;
    for (TriggerIndex i : it->second) {
      if (n < max) out[n] = i;
      ++n;
    }
  }
  std::sort(out, out + std::min(n, max));
  return n;
}

}  // namespace softfino::trumpet
