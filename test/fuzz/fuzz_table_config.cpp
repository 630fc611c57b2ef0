// The switch config file's program part (--config FILE): table entries in
// P4Runtime/bfrt shape (pipe/table_config.h) and each program's own
// sections, through the programs' real Configure. The first byte picks
// the program; the rest is the JSON text. Programs that connect to
// collectors while configuring (dta_translator, rdma_probe) are left out:
// their sections are fuzzed in fuzz_dta_config.
//
// Invariant (l3fwd, the program with run-time tables): a config that is
// accepted round-trips: its tables dumped (as a config file lists them)
// configure a fresh program to the same dumps.
#include <memory>
#include <string>

#include "nlohmann/json.hpp"
#include "pipelines/registry.h"
#include "softfino/pipe/program.h"
#include "softfino/pipe/table_control.h"
#include "test/fuzz/fuzz_util.h"

namespace sp = softfino::pipe;
using nlohmann::json;

namespace {

constexpr const char* kPrograms[] = {"l3fwd", "tm_probe", "packet_fates", "burstradar",
                                     "dta_reporter"};

json DumpAll(sp::TableControl& tables) {
  json out = json::object();
  for (const std::string& name : tables.TableNames()) {
    absl::StatusOr<json> d = tables.Dump(name);
    FUZZ_CHECK(d.ok());
    out[name] = *d;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  softfino::fuzz::InitEal();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char* name = kPrograms[data[0] % std::size(kPrograms)];
  std::optional<json> config = softfino::fuzz::ParseJson(data + 1, size - 1);
  if (!config) return 0;
  const sp::ProgramDescriptor* d = softfino::pipelines::FindProgram(name);
  FUZZ_CHECK(d != nullptr);
  const sp::SwitchInfo info(8, 2, std::vector<uint64_t>(8, 10'000'000'000));
  std::unique_ptr<sp::Program> program = d->create();
  if (!program->Configure(*config, info).ok()) return 0;
  (void)program->Resources();
  (void)program->Replication();

  sp::TableControl* tables = program->table_control();
  if (tables == nullptr) return 0;
  const json dumps = DumpAll(*tables);
  std::unique_ptr<sp::Program> again = d->create();
  const absl::Status s = again->Configure(json{{"tables", dumps}}, info);
  if (!s.ok()) {
    std::fprintf(stderr, "dump %s\nrefused: %s\n", dumps.dump().c_str(),
                 std::string(s.message()).c_str());
  }
  FUZZ_CHECK(s.ok());
  FUZZ_CHECK(DumpAll(*again->table_control()) == dumps);
  return 0;
}
