#include "softfino/control/eal_args.h"

#include <algorithm>

namespace softfino::control {

SplitArgs SplitEalArgs(int argc, char** argv, std::initializer_list<absl::string_view> app_flags) {
  SplitArgs out;
  out.eal_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--") {
      out.eal_argc = i;
      break;
    }
  }
  out.app_argv.push_back(argv[0]);
  for (int i = out.eal_argc + 1; i < argc; ++i) out.app_argv.push_back(argv[i]);
  if (out.eal_argc == argc) {
    for (int i = 1; i < argc; ++i) {
      if (std::find(app_flags.begin(), app_flags.end(), absl::string_view(argv[i])) !=
          app_flags.end()) {
        out.app_argv.push_back(argv[i]);
      }
    }
  }
  return out;
}

}  // namespace softfino::control
