// A counter's value as the control plane reads it: packets and bytes. Shared
// by the indexed counters (counter_array.h) and the tables' direct counters
// (table_key.h), which both return it.
#pragma once

#include <cstdint>

namespace softfino::pipe {

struct CounterValue {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  friend bool operator==(const CounterValue&, const CounterValue&) = default;
};

}  // namespace softfino::pipe
