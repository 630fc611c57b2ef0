#include "softfino/control/slow_path.h"

#include "softfino/control/signals.h"

namespace softfino::control {

SlowPath::SlowPath(const dataplane::Switch& sw, SlowPathOptions options)
    : switch_(sw), options_(options), last_activity_(Clock::now()) {}

bool SlowPath::Tick() {
  if (StopRequested()) return false;
  if (options_.control_server != nullptr) options_.control_server->Poll();
  if (options_.exit_when_idle.count() == 0) return true;
  const uint64_t rx = switch_.TotalRxPackets();
  const Clock::time_point now = Clock::now();
  if (rx != last_rx_) {
    last_rx_ = rx;
    last_activity_ = now;
    return true;
  }
  return now - last_activity_ < options_.exit_when_idle;
}

}  // namespace softfino::control
