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

}  // namespace softfino::dataplane
