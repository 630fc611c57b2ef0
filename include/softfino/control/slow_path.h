// The slow path's periodic work on the main lcore, called about every
// millisecond while the pipes forward: stop on a signal, or once input has
// been idle long enough (pcap replay).
#pragma once

#include <chrono>
#include <cstdint>

#include "softfino/dataplane/switch.h"

namespace softfino::control {

struct SlowPathOptions {
  // Stop after this long without a received packet; 0 = never.
  std::chrono::milliseconds exit_when_idle{0};
};

class SlowPath {
 public:
  SlowPath(const dataplane::Switch& sw, SlowPathOptions options);

  // Returns false when the switch should stop.
  bool Tick();

 private:
  using Clock = std::chrono::steady_clock;
  const dataplane::Switch& switch_;
  const SlowPathOptions options_;
  uint64_t last_rx_ = 0;
  Clock::time_point last_activity_;
};

}  // namespace softfino::control
