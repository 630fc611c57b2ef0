// Trumpet's event manager, the part that makes per-pipe results one answer.
// When the flows of one group may land on several pipes, no pipe alone can
// evaluate the group's predicate (each sees a part of the sum). Each pipe
// then sends its partial sums per group and interval, followed by a marker
// saying how far it is done; once every pipe is done with an interval, the
// combiner adds the parts up and evaluates the predicate once, exactly as
// one pipe seeing all the flows would have.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "softfino/trumpet/event.h"
#include "softfino/trumpet/trigger_set.h"

namespace softfino::trumpet {

class EventCombiner {
 public:
  explicit EventCombiner(uint16_t pipe_count) : done_ns_(pipe_count, 0) {}

  // Takes one event from a pipe. kFired passes straight to `fired`.
  // `predicate_of` gives a live trigger's predicate by id (null once it was
  // deleted: its partial intervals are dropped).
  void Add(const Event& e);
  // Evaluates every interval all pipes are done with; calls `fired` for
  // each group whose predicate holds, in (interval end, trigger, group) order.
  void Flush(const std::function<const Predicate*(uint32_t trigger_id)>& predicate_of,
             const std::function<void(const Event&)>& fired);
  size_t pending_intervals() const { return pending_.size(); }

 private:
  using IntervalKey = std::tuple<uint64_t /*end*/, uint32_t /*trigger*/, uint64_t /*start*/>;
  std::vector<uint64_t> done_ns_;  // by pipe
  std::map<IntervalKey, absl::flat_hash_map<FiveTuple, Event>> pending_;
  std::vector<Event> ready_fired_;
};

}  // namespace softfino::trumpet
