// The control socket's protocol (control/control_server.h ReplyToLine, and
// CommandRegistry::Dispatch under it) with real commands: help, the l3fwd
// program's own commands (Trumpet triggers), the event manager's `events`
// and the table commands on l3fwd's tables. Stats commands need a running
// switch with ports and are left out. Each input line is one request, all
// against the same program, which is fresh for each input (so a crash
// reproduces from its input alone).
//
// Invariants: every request gets exactly one reply, a single line of JSON
// with a boolean "ok" and the request's id echoed when the request had one.
#include <rte_eal.h>

#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "pipelines/registry.h"
#include "softfino/control/command_registry.h"
#include "softfino/control/control_server.h"
#include "softfino/control/event_manager.h"
#include "softfino/control/table_commands.h"
#include "softfino/pipe/program.h"
#include "softfino/pipe/table_control.h"
#include "test/fuzz/fuzz_util.h"

namespace control = softfino::control;
namespace sp = softfino::pipe;
using nlohmann::json;

namespace {

// A small routing table and one trigger, so that dumps, deletes and
// modifies find something.
const char kConfig[] = R"({
  "tables": {
    "nexthop": [{"key": {"nexthop_id": 1}, "action": "forward",
                 "data": {"port": 1, "src_mac": "02:00:00:00:01:00",
                          "dst_mac": "02:00:00:00:01:01"}}],
    "ipv4_lpm": [{"key": {"dst_addr": "10.0.0.0/8"}, "action": "set_nexthop",
                  "data": {"nexthop_id": 1}}]
  },
  "trumpet": {"flows": 1024, "triggers": [
    "heavy: filter dst=10.9.0.0/16 proto=tcp group src/24 every 10ms when bytes > 100000"]}
})";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  softfino::fuzz::InitEal();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sp::ProgramDescriptor* d = softfino::pipelines::FindProgram("l3fwd");
  FUZZ_CHECK(d != nullptr);
  std::unique_ptr<sp::Program> program = d->create();
  const absl::Status configured = program->Configure(json::parse(kConfig), sp::SwitchInfo(4));
  if (!configured.ok()) std::fprintf(stderr, "%s\n", std::string(configured.message()).c_str());
  FUZZ_CHECK(configured.ok());

  control::CommandRegistry registry;
  for (sp::ProgramCommand& c : program->Commands()) {
    FUZZ_CHECK(registry.Register(c.name, c.help, std::move(c.handler)).ok());
  }
  auto events = control::EventManager::Create(*program, {});
  FUZZ_CHECK(events.ok());
  FUZZ_CHECK((*events)->RegisterCommands(registry).ok());
  FUZZ_CHECK(control::RegisterTableCommands(registry, *program->table_control(), {}).ok());

  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  for (absl::string_view line : absl::StrSplit(input, '\n')) {
    const std::string reply = control::ReplyToLine(registry, line);
    FUZZ_CHECK(reply.find('\n') == std::string::npos);
    const json r = json::parse(reply, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(r.is_object());
    FUZZ_CHECK(r.contains("ok") && r["ok"].is_boolean());
    const json request = json::parse(line, nullptr, false);
    // An error about the line itself (too deep, not JSON) has no id to echo.
    const bool echoes = r["ok"].get<bool>() || (r.contains("id") && !r["id"].is_null());
    if (request.is_object() && request.contains("id") && echoes) {
      FUZZ_CHECK(r.contains("id"));
      // Equal as JSON values (the reply went through dump and parse, so
      // compare the request the same way: NaN aside, dump is canonical).
      FUZZ_CHECK(
          r["id"].dump() ==
          json::parse(request["id"].dump(-1, ' ', false, json::error_handler_t::replace)).dump());
    }
    (*events)->Poll();
  }
  return 0;
}
