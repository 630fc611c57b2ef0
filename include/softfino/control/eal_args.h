// The command line every softfino binary on DPDK takes: EAL args (DPDK's
// own) before "--", the app's after it, as DPDK's own apps do.
#pragma once

#include <initializer_list>
#include <vector>

#include "absl/strings/string_view.h"

namespace softfino::control {

struct SplitArgs {
  int eal_argc = 0;             // argv[0 .. eal_argc) go to rte_eal_init
  std::vector<char*> app_argv;  // argv[0] and what follows "--", for CLI11
};

// With no "--" at all, the flags in `app_flags` (e.g. --help) are taken as
// the app's: `softfino --help` asks for our help, not EAL's.
SplitArgs SplitEalArgs(int argc, char** argv, std::initializer_list<absl::string_view> app_flags);

}  // namespace softfino::control
