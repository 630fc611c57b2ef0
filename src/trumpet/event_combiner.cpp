#include "softfino/trumpet/event_combiner.h"

#include <algorithm>

namespace softfino::trumpet {

void EventCombiner::Add(const Event& e) {
  switch (e.kind) {
    case EventKind::kFired:
      ready_fired_.push_back(e);
      return;
    case EventKind::kPipeDone:
      if (e.pipe < done_ns_.size()) {
        done_ns_[e.pipe] = std::max(done_ns_[e.pipe], e.interval_start_ns);
      }
      return;
    case EventKind::kPartial: {
      auto& groups = pending_[{e.interval_start_ns + e.interval_ns, e.trigger_id, e.interval_start_ns}];
      auto [it, fresh] = groups.try_emplace(e.group, e);
      if (!fresh) {
        for (int m = 0; m < static_cast<int>(Metric::kCount); ++m) it->second.sums[m] += e.sums[m];
      }
      return;
    }
  }
}

void EventCombiner::Flush(const std::function<const Predicate*(uint32_t)>& predicate_of,
                          const std::function<void(const Event&)>& fired) {
  for (const Event& e : ready_fired_) fired(e);
  ready_fired_.clear();
  const uint64_t all_done = *std::min_element(done_ns_.begin(), done_ns_.end());
  while (!pending_.empty() && std::get<0>(pending_.begin()->first) <= all_done) {
    auto node = pending_.extract(pending_.begin());
    const Predicate* predicate = predicate_of(std::get<1>(node.key()));
    if (predicate == nullptr) continue;
    std::vector<Event> holds;
    for (auto& [group, e] : node.mapped()) {
      if (!predicate->Holds(predicate->Value(e.sums))) continue;
      e.kind = EventKind::kFired;
      holds.push_back(e);
    }
    std::sort(holds.begin(), holds.end(), [](const Event& a, const Event& b) {
      return std::tie(a.group.src, a.group.dst, a.group.sport, a.group.dport, a.group.proto) <
             std::tie(b.group.src, b.group.dst, b.group.sport, b.group.dport, b.group.proto);
    });
    for (const Event& e : holds) fired(e);
  }
}

}  // namespace softfino::trumpet
