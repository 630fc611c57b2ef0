// The control socket's table commands: table_add, table_modify,
// table_delete, table_batch (all or nothing), table_dump, table_clear. Each
// change is one commit: applied to a copy of the program's tables, published
// to the pipes at once, the old tables freed after an RCU grace period.
// table_counter_read and table_counter_clear read and zero the direct
// counters of the tables that have one (no commit: the counters live beside
// the versions), and table_dump counters=true shows them beside the entries.
#pragma once

#include "absl/status/status.h"
#include "softfino/control/command_registry.h"
#include "softfino/pipe/table_control.h"
#include "softfino/pipe/versioned.h"

namespace softfino::control {

// `tables` must outlive the registry's use of these commands; `rcu` is the
// switch's (Switch::rcu()).
absl::Status RegisterTableCommands(CommandRegistry& registry, pipe::TableControl& tables,
                                   pipe::RcuDomain rcu);

}  // namespace softfino::control
