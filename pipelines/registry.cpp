#include "pipelines/registry.h"

#include <array>

#include "pipelines/l3fwd/l3fwd.h"

namespace softfino::pipelines {
namespace {

constexpr std::array kPrograms = {
    pipe::ProgramDescriptor{"l3fwd", "IPv4/IPv6 LPM router: MAC rewrite, TTL decrement",
                            &L3fwd::Create},
};

}  // namespace

std::span<const pipe::ProgramDescriptor> Programs() { return kPrograms; }

const pipe::ProgramDescriptor* FindProgram(absl::string_view name) {
  for (const auto& p : kPrograms) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace softfino::pipelines
