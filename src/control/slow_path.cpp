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
  polls_.clear();
  switch_.InputPolls(&polls_);
  if (rx != last_rx_ || polls_at_activity_.empty()) {
    last_rx_ = rx;
    last_activity_ = now;
    polls_at_activity_ = polls_;
    return true;
  }
  if (now - last_activity_ < options_.exit_when_idle) return true;
  for (size_t p = 0; p < polls_.size(); ++p) {
    if (polls_[p] - polls_at_activity_[p] < kIdlePolls) return true;  // not run enough yet
  }
  return false;
}

}  // namespace softfino::control
