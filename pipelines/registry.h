// Every data-plane program softfino can run, by name.
#pragma once

#include <span>

#include "absl/strings/string_view.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

std::span<const pipe::ProgramDescriptor> Programs();
const pipe::ProgramDescriptor* FindProgram(absl::string_view name);

}  // namespace softfino::pipelines
