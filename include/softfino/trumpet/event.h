// What a Trumpet monitor tells the slow path, through a per-pipe ring: a
// fixed-size record, so the fast path copies it into the ring and never
// allocates.
#pragma once

#include <cstdint>

#include "softfino/trumpet/trigger.h"

namespace softfino::trumpet {

enum class EventKind : uint8_t {
  // A group's predicate held for an interval (the pipe saw all its flows).
  kFired,
  // A group's sums over an interval in one pipe, for the event manager to
  // add up across pipes (when flows of one group may land on several).
  kPartial,
  // The pipe has sent everything for intervals that end at or before
  // `interval_start_ns` (here: an end time).
  kPipeDone,
};

struct alignas(8) Event {
  uint32_t trigger_id = 0;
  uint16_t pipe = 0;
  EventKind kind = EventKind::kFired;
  uint8_t reserved = 0;
  uint64_t interval_start_ns = 0;
  uint64_t interval_ns = 0;
  FiveTuple group;  // masked by the trigger's group lengths
  uint64_t sums[static_cast<int>(Metric::kCount)] = {};
};

}  // namespace softfino::trumpet
