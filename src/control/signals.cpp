#include "softfino/control/signals.h"

#include <atomic>
#include <csignal>

namespace softfino::control {
namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "must be safe in a signal handler");

extern "C" void OnStopSignal(int) { stop_requested.store(true); }

}  // namespace

void InstallStopSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool StopRequested() { return stop_requested.load(); }

}  // namespace softfino::control
