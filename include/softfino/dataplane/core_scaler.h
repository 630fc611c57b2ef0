// TAS's autoscaling rule for fast-path cores (EuroSys'19, section 3.4):
// every window (10 ms) sum the idle fraction of the active cores; remove a
// core when more than 1.25 cores' worth is idle, add one when less than 0.2
// is. With a core removed the others absorb its work with a quarter core
// to spare, so the rule does not flap.
#pragma once

#include <cstddef>

#include "absl/types/span.h"

namespace softfino::dataplane {

struct CoreScaler {
  static constexpr double kShrinkIdle = 1.25;
  static constexpr double kGrowIdle = 0.2;

  // `busy`: the busy fraction (0..1) of each active core over the window.
  // Returns how many cores should be active next (1..max_cores).
  static size_t Decide(absl::Span<const double> busy, size_t max_cores) {
    double idle = 0;
    for (double b : busy) idle += 1.0 - b;
    if (idle > kShrinkIdle && busy.size() > 1) return busy.size() - 1;
    if (idle < kGrowIdle && busy.size() < max_cores) return busy.size() + 1;
    return busy.size();
  }
};

// What the switch applies every window: TAS's rule with two guards for
// cores that are not dedicated (a shared VM, where a descheduled vCPU makes
// a window look busy or idle by chance, and the bare rule flapped 14 times
// each way over a 120,000-packet flood): the window right after a change
// is not judged (it mixes the old layout and the new, with pipes in
// hand-off), and a core is removed only when the rule has said so for
// kShrinkWindows windows in a row. Growing stays immediate, as in TAS: too
// few cores lose packets, one too many only costs a core for a while.
class CoreScalingPolicy {
 public:
  static constexpr unsigned kShrinkWindows = 3;

  // `busy` as CoreScaler::Decide; returns the cores to run next window.
  size_t Next(absl::Span<const double> busy, size_t max_cores) {
    const size_t active = busy.size();
    if (settling_) {
      settling_ = false;
      return active;
    }
    size_t next = CoreScaler::Decide(busy, max_cores);
    if (next < active) {
      if (++shrink_votes_ < kShrinkWindows) next = active;
    } else {
      shrink_votes_ = 0;
    }
    if (next != active) {
      shrink_votes_ = 0;
      settling_ = true;
    }
    return next;
  }

 private:
  unsigned shrink_votes_ = 0;
  bool settling_ = false;
};

}  // namespace softfino::dataplane
