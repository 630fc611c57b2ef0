// The control socket's commands for a program's registers and indexed
// counters (pipe/stateful_control.h): register_list, register_read,
// register_write, register_reset, counter_list, counter_read, counter_clear.
// Registers are per pipe as on Tofino: reads return one value per pipe
// unless a pipe is given; writes go to every pipe or to the one given.
// Counters read as the sum over pipes unless a pipe is given.
#pragma once

#include "absl/status/status.h"
#include "softfino/control/command_registry.h"
#include "softfino/pipe/stateful_control.h"

namespace softfino::control {

// Cells one read may return (a larger range is refused: read it in parts).
inline constexpr uint32_t kMaxCellsPerRead = 65536;

// `stateful` must outlive the registry's use of these commands.
absl::Status RegisterStatefulCommands(CommandRegistry& registry, pipe::StatefulControl& stateful);

}  // namespace softfino::control
