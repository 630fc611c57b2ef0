// softfino: the switch. `softfino [EAL args] -- [app args]`.
#include <rte_eal.h>
#include <rte_errno.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "pipelines/registry.h"
#include "softfino/control/config_file.h"
#include "softfino/control/port_config.h"
#include "softfino/control/replication_config.h"
#include "softfino/control/signals.h"
#include "softfino/control/slow_path.h"
#include "softfino/control/stats_report.h"
#include "softfino/control/telemetry.h"
#include "softfino/dataplane/switch.h"

namespace {

using namespace softfino;

struct AppOptions {
  std::string pipeline;
  std::string config;
  uint16_t fp_cores = 0;
  unsigned exit_when_idle_ms = 0;
  std::string stats_json;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  bool no_promiscuous = false;
  std::string clock = "auto";
  bool list_pipelines = false;
};

std::string ProgramList() {
  std::string out = "Programs (--pipeline):\n";
  for (const auto& p : pipelines::Programs()) absl::StrAppend(&out, "  ", p.name, "  ", p.summary, "\n");
  return out;
}

void DefineOptions(CLI::App& app, AppOptions& o) {
  std::vector<std::string> names;
  for (const auto& p : pipelines::Programs()) names.emplace_back(p.name);
  app.name("softfino [EAL args] --");
  app.description(
      "softfino: Tofino-style data-plane programs on DPDK ports.\n\n"
      "EAL args (DPDK's own, before --) choose lcores and ports, e.g.\n"
      "  -l 0-2 --vdev=net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap\n"
      "The main lcore runs the slow path; each further lcore runs one pipe.");
  app.footer(ProgramList());
  app.add_option("--pipeline", o.pipeline, "The program to run (see the list below)")
      ->check(CLI::IsMember(names));
  app.add_option("--config", o.config,
                 "JSON file with the program's table entries; the switch does not start "
                 "when any entry is wrong")
      ->check(CLI::ExistingFile);
  app.add_option("--fp-cores", o.fp_cores,
                 "Fast-path pipes, one per worker lcore; each owns an RX queue of every port "
                 "(symmetric RSS) and a TX queue of every port. Default: one per worker lcore, or "
                 "one on the main lcore when EAL gave no worker")
      ->check(CLI::Range(1, 64));
  app.add_option("--exit-when-idle", o.exit_when_idle_ms,
                 "Stop once no packet has arrived for this many milliseconds (for pcap input); "
                 "0 runs until SIGINT/SIGTERM")
      ->default_val(0);
  app.add_option("--stats-json", o.stats_json, "At exit, also write all counters to this file as JSON");
  app.add_option("--rx-desc", o.rx_descriptors, "RX ring size per queue")->default_val(1024)
      ->check(CLI::Range(64, 32768));
  app.add_option("--tx-desc", o.tx_descriptors, "TX ring size per queue")->default_val(1024)
      ->check(CLI::Range(64, 32768));
  app.add_option("--clock", o.clock,
                 "Time for timestamps and the traffic manager: 'real' (TSC), 'virtual' (the "
                 "ports' packet timestamps, e.g. pcap times, spaced by line rate: exact, "
                 "repeatable queueing), or 'auto' (virtual when the ports timestamp packets)")
      ->check(CLI::IsMember({"auto", "real", "virtual"}))
      ->default_val("auto");
  app.add_flag("--no-promiscuous", o.no_promiscuous, "Leave ports out of promiscuous mode");
  app.add_flag("--list-pipelines", o.list_pipelines, "Print the programs and exit");
}

int Fail(absl::string_view message) {
  std::fprintf(stderr, "softfino: %.*s\n", static_cast<int>(message.size()), message.data());
  return 1;
}

// Everything after EAL is up. Returns the exit code.
int RunSwitch(const AppOptions& o, const nlohmann::json& config) {
  auto port_count = dataplane::CountPorts();
  if (!port_count.ok()) return Fail(port_count.status().message());

  const pipe::ProgramDescriptor* descriptor = pipelines::FindProgram(o.pipeline);
  std::unique_ptr<pipe::Program> program = descriptor->create();
  if (absl::Status s = program->Configure(config, {*port_count}); !s.ok()) {
    return Fail(o.config.empty() ? s.message() : absl::StrCat("config ", o.config, ": ", s.message()));
  }

  auto port_tm = control::ParsePortConfig(config, *port_count);
  if (!port_tm.ok()) return Fail(absl::StrCat("config ", o.config, ": ", port_tm.status().message()));

  auto replication = control::ParseReplication(config, *port_count);
  if (!replication.ok()) {
    return Fail(absl::StrCat("config ", o.config, ": ", replication.status().message()));
  }

  dataplane::SwitchOptions options;
  options.port_tm = *std::move(port_tm);
  options.replication = *std::move(replication);
  options.clock = o.clock == "real"      ? dataplane::ClockChoice::kReal
                  : o.clock == "virtual" ? dataplane::ClockChoice::kVirtual
                                         : dataplane::ClockChoice::kAuto;
  options.fp_cores = o.fp_cores;
  options.ports.rx_descriptors = o.rx_descriptors;
  options.ports.tx_descriptors = o.tx_descriptors;
  options.ports.promiscuous = !o.no_promiscuous;
  auto sw = dataplane::Switch::Create(*program, options);
  if (!sw.ok()) return Fail(sw.status().message());

  control::InstallStopSignalHandlers();
  control::PublishTelemetry(sw->get(), o.pipeline);
  control::SlowPath slow_path(**sw, {std::chrono::milliseconds(o.exit_when_idle_ms)});
  std::fprintf(stderr, "softfino: %s running on %u port(s) with %u pipe(s), %s time\n",
               o.pipeline.c_str(), (*sw)->port_count(), (*sw)->pipe_count(),
               (*sw)->clock() == dataplane::ClockMode::kVirtual ? "virtual" : "real");
  (*sw)->Run([&] { return slow_path.Tick(); });
  control::UnpublishTelemetry();

  const dataplane::StatsSnapshot stats = (*sw)->Snapshot();
  std::fputs(control::FormatStatsText(o.pipeline, stats, (*sw)->ports()).c_str(), stdout);
  int rc = 0;
  if (!o.stats_json.empty()) {
    std::ofstream out(o.stats_json);
    out << control::StatsToJson(o.pipeline, stats, (*sw)->ports()).dump(2) << "\n";
    if (!out) rc = Fail(absl::StrCat("cannot write ", o.stats_json));
  }
  sw->reset();  // stops and closes the ports, which flushes pcap output
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  // EAL args come before "--", ours after it.
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--") {
      split = i;
      break;
    }
  }
  std::vector<char*> app_argv = {argv[0]};
  for (int i = split + 1; i < argc; ++i) app_argv.push_back(argv[i]);
  // `softfino --help` without "--" is a request for our help, not EAL's.
  if (split == argc) {
    for (int i = 1; i < argc; ++i) {
      const absl::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h" || arg == "--list-pipelines") app_argv.push_back(argv[i]);
    }
  }

  CLI::App app;
  AppOptions options;
  DefineOptions(app, options);
  try {
    app.parse(static_cast<int>(app_argv.size()), app_argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (options.list_pipelines) {
    std::fputs(ProgramList().c_str(), stdout);
    return 0;
  }
  if (options.pipeline.empty()) {
    return Fail("--pipeline is required (after --); see softfino --help");
  }

  // Syntax errors in the config are reported before DPDK starts.
  nlohmann::json config;
  if (!options.config.empty()) {
    auto loaded = control::LoadJsonFile(options.config);
    if (!loaded.ok()) return Fail(absl::StrCat("config ", loaded.status().message()));
    config = *std::move(loaded);
  }

  const int eal_argc = split;
  if (rte_eal_init(eal_argc, argv) < 0) {
    return Fail(absl::StrCat("cannot initialise DPDK's EAL: ", rte_strerror(rte_errno),
                             " (see DPDK's message above; EAL args go before --)"));
  }
  const int rc = RunSwitch(options, config);
  rte_eal_cleanup();
  return rc;
}
