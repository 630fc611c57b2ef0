// When an idle pipe sleeps instead of spinning (after TAS, whose fast-path
// cores block when idle). A pipe that has received nothing and holds nothing
// (its traffic managers, inbox and recirculation port empty) for kSpinNs
// starts to sleep between polls: kFirstSleepUs, doubling up to kMaxSleepUs.
// The first packet after that waits at most one sleep; any work resets it.
// Sleeping is a system call, but only ever once the fast path has nothing to
// do, so busy pipes never make one. --fp-no-ints turns it off (spin always).
#pragma once

#include <rte_cycles.h>

#include <algorithm>
#include <cstdint>

namespace softfino::dataplane {

class IdleBackoff {
 public:
  static constexpr uint64_t kSpinNs = 1'000'000;  // spin this long after the last work
  static constexpr unsigned kFirstSleepUs = 16;
  static constexpr unsigned kMaxSleepUs = 256;

  explicit IdleBackoff(bool enabled)
      : enabled_(enabled), spin_cycles_(rte_get_tsc_hz() / (1'000'000'000 / kSpinNs)) {}

  // After each poll: `busy` when the pipe did or holds work. Returns how
  // many microseconds to sleep now (0: poll again at once).
  unsigned AfterPoll(bool busy) {
    if (!enabled_) return 0;
    if (busy) {
      idle_since_ = 0;
      sleep_us_ = kFirstSleepUs;
      return 0;
    }
    const uint64_t now = rte_get_tsc_cycles();
    if (idle_since_ == 0) idle_since_ = now;
    if (now - idle_since_ < spin_cycles_) return 0;
    const unsigned us = sleep_us_;
    sleep_us_ = std::min(sleep_us_ * 2, kMaxSleepUs);
    return us;
  }

 private:
  const bool enabled_;
  const uint64_t spin_cycles_;
  uint64_t idle_since_ = 0;  // TSC of the first idle poll in a row; 0 while busy
  unsigned sleep_us_ = kFirstSleepUs;
};

}  // namespace softfino::dataplane
