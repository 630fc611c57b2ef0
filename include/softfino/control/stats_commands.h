// The control socket's commands that read the running switch's counters:
// info, stats, ports, pipes, queues, drops. They read Switch::Snapshot(),
// which is safe on the slow path while the pipes run.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "softfino/control/command_registry.h"
#include "softfino/dataplane/switch.h"

namespace softfino::control {

// `sw` (and `program`, when given: its Counters() join `stats`) must
// outlive the registry's use of these commands.
absl::Status RegisterStatsCommands(CommandRegistry& registry, const dataplane::Switch& sw,
                                   absl::string_view pipeline,
                                   const pipe::Program* program = nullptr);

}  // namespace softfino::control
