// The slow path's periodic work on the main lcore, called about every
// millisecond while the pipes forward: serve the control socket, stop on a
// signal, or once input has been idle long enough (pcap replay).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "softfino/control/control_server.h"
#include "softfino/dataplane/switch.h"

namespace softfino::control {

struct SlowPathOptions {
  // Stop after this long without a received packet, during which every pipe
  // looked for input at least kIdlePolls times (so a pipe the OS did not
  // run, on a loaded machine, or one held back by another pipe, does not
  // make input look finished); 0 = never.
  std::chrono::milliseconds exit_when_idle{0};
  // Polled on every tick (it never blocks); null for none. Not owned.
  ControlServer* control_server = nullptr;
};

class SlowPath {
 public:
  SlowPath(const dataplane::Switch& sw, SlowPathOptions options);

  // Returns false when the switch should stop.
  bool Tick();

  static constexpr uint64_t kIdlePolls = 8;

 private:
  using Clock = std::chrono::steady_clock;
  const dataplane::Switch& switch_;
  const SlowPathOptions options_;
  uint64_t last_rx_ = 0;
  Clock::time_point last_activity_;
  std::vector<uint64_t> polls_at_activity_, polls_;  // per pipe (Switch::InputPolls)
};

}  // namespace softfino::control
