// The slow path's periodic work on the main lcore, called about every
// millisecond while the pipes forward: serve the control socket, stop on a
// signal, or once input has been idle long enough (pcap replay).
#pragma once

#include <chrono>
#include <cstdint>

#include "softfino/control/control_server.h"
#include "softfino/dataplane/switch.h"

namespace softfino::control {

struct SlowPathOptions {
  // Stop after this long without a received packet; 0 = never.
  std::chrono::milliseconds exit_when_idle{0};
  // Polled on every tick (it never blocks); null for none. Not owned.
  ControlServer* control_server = nullptr;
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
