// The switch's counters in DPDK telemetry, so dpdk-telemetry.py (or anything
// speaking its socket) can read them from a running switch:
//   /softfino/info            pipeline, ports, pipes
//   /softfino/ports           list of port ids
//   /softfino/port,<id>       counters of one port
//   /softfino/pipes           list of pipe ids
//   /softfino/pipe,<id>       counters of one pipe
//   /softfino/drops           drops by reason, summed over pipes
#pragma once


#include "absl/strings/string_view.h"
#include "softfino/dataplane/switch.h"

namespace softfino::control {

// Serves `sw` until UnpublishTelemetry(); telemetry runs on its own thread,
// so the switch is reached under a mutex (never taken by the fast path).
void PublishTelemetry(const dataplane::Switch* sw, absl::string_view pipeline);
void UnpublishTelemetry();

}  // namespace softfino::control
