// softfino: the switch. `softfino [EAL args] -- [app args]`.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <chrono>
#include <thread>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "pipelines/registry.h"
#include "softfino/control/command_registry.h"
#include "softfino/control/config_file.h"
#include "softfino/control/control_server.h"
#include "softfino/control/eal_args.h"
#include "softfino/control/event_manager.h"
#include "softfino/control/pktgen_config.h"
#include "softfino/control/port_config.h"
#include "softfino/control/rdma_connections.h"
#include "softfino/control/replication_commands.h"
#include "softfino/control/rdma_supervisor.h"
#include "softfino/control/replication_config.h"
#include "softfino/control/stateful_commands.h"
#include "softfino/control/signals.h"
#include "softfino/control/slow_path.h"
#include "softfino/control/stats_commands.h"
#include "softfino/control/stats_report.h"
#include "softfino/control/table_commands.h"
#include "softfino/control/telemetry.h"
#include "softfino/dataplane/switch.h"
#include "softfino/pipe/stateful_control.h"
#include "softfino/pipe/table_control.h"

namespace {

using namespace softfino;

struct AppOptions {
  std::string pipeline;
  std::string config;
  uint16_t fp_cores = 0;
  unsigned exit_when_idle_ms = 0;
  std::string stats_json;
  std::string events;
  std::string events_dta;
  std::vector<std::string> events_from;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  bool no_promiscuous = false;
  std::string clock = "auto";
  std::string control_socket;
  bool no_control_socket = false;
  bool list_pipelines = false;
  bool resources = false;
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
  app.add_option("--events", o.events,
                 "Append the program's events (e.g. Trumpet triggers that fired) to this file, "
                 "one JSON object per line, as they come; `softfino-ctl events` reads them live");
  app.add_option("--events-dta", o.events_dta,
                 "Also send every event to a DTA collector as Append reports, through the DTA "
                 "translator at ADDRESS[:PORT] (UDP, default port 40040): "
                 "ADDRESS[:PORT],list=L[,form=2-byte|3-byte][,rate=REPORTS_PER_S][,queue=EVENTS]; "
                 "`softfino-collector query` reads them back with {\"primitive\": \"events\"}");
  app.add_option("--events-from", o.events_from,
                 "Gather the events of another switch too, through its control socket: "
                 "NAME=SOCKET (repeat for more); they join this switch's events tagged "
                 "\"switch\": NAME");
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
  auto* control_socket =
      app.add_option("--control-socket", o.control_socket,
                     "UNIX socket where softfino-ctl reaches the running switch (mode 0600, "
                     "removed at exit). Default: softfino.sock in DPDK's runtime folder, "
                     "/var/run/dpdk/<file-prefix>/ for root, else under $XDG_RUNTIME_DIR or "
                     "/tmp, where `softfino-ctl --file-prefix` finds it");
  app.add_flag("--no-control-socket", o.no_control_socket, "Serve no control socket")
      ->excludes(control_socket);
  app.add_flag("--list-pipelines", o.list_pipelines, "Print the programs and exit");
  app.add_flag("--resources", o.resources,
               "Print what --pipeline would use on a Tofino-1, stage by stage (SRAM, TCAM, "
               "stateful ALUs), and exit: 0 when it fits, 1 when it would not");
}

int Fail(absl::string_view message) {
  std::fprintf(stderr, "softfino: %.*s\n", static_cast<int>(message.size()), message.data());
  return 1;
}

absl::StatusOr<net::MacAddress> PortMac(uint16_t port) {
  rte_ether_addr addr;
  if (rte_eth_macaddr_get(port, &addr) != 0) {
    return absl::NotFoundError(absl::StrCat("port ", port, " has no MAC address; give \"mac\""));
  }
  net::MacAddress mac;
  for (size_t i = 0; i < mac.size(); ++i) mac[i] = addr.addr_bytes[i];
  return mac;
}

// Everything after EAL is up. Returns the exit code.
int RunSwitch(const AppOptions& o, nlohmann::json config) {
  auto port_count = dataplane::CountPorts();
  if (!port_count.ok()) return Fail(port_count.status().message());
  const uint16_t pipe_count = dataplane::Switch::PipeCountFor(o.fp_cores);

  // Queue pairs with collectors come first: the program finds their
  // parameters in its config, like table entries.
  if (absl::Status s = control::ConnectRdmaQueuePairs(config, *port_count, pipe_count, PortMac);
      !s.ok()) {
    return Fail(absl::StrCat("config ", o.config, ": ", s.message()));
  }

  auto port_tm = control::ParsePortConfig(config, *port_count);
  if (!port_tm.ok()) return Fail(absl::StrCat("config ", o.config, ": ", port_tm.status().message()));

  const pipe::ProgramDescriptor* descriptor = pipelines::FindProgram(o.pipeline);
  std::unique_ptr<pipe::Program> program = descriptor->create();
  pipe::SwitchInfo info{*port_count, pipe_count, {}};
  for (const tm::EgressPortConfig& p : dataplane::Switch::ResolvePortConfigs(*port_tm, *port_count)) {
    info.port_rate_bps.push_back(p.rate_bps);
  }
  if (absl::Status s = program->Configure(config, info); !s.ok()) {
    return Fail(o.config.empty() ? s.message() : absl::StrCat("config ", o.config, ": ", s.message()));
  }

  auto replication = control::ParseReplication(config, *port_count);
  if (!replication.ok()) {
    return Fail(absl::StrCat("config ", o.config, ": ", replication.status().message()));
  }
  if (absl::Status s = control::AddProgramReplication(program->Replication(), o.pipeline,
                                                      *port_count, *replication);
      !s.ok()) {
    return Fail(absl::StrCat("config ", o.config, ": ", s.message()));
  }

  auto pktgen = control::ParsePktgenConfig(config);
  if (!pktgen.ok()) return Fail(absl::StrCat("config ", o.config, ": ", pktgen.status().message()));

  dataplane::SwitchOptions options;
  options.pktgen = *std::move(pktgen);
  options.port_tm = *std::move(port_tm);
  options.replication = *std::move(replication);
  options.clock = o.clock == "real"      ? dataplane::ClockChoice::kReal
                  : o.clock == "virtual" ? dataplane::ClockChoice::kVirtual
                                         : dataplane::ClockChoice::kAuto;
  options.fp_cores = o.fp_cores;
  options.ports.rx_descriptors = o.rx_descriptors;
  options.ports.tx_descriptors = o.tx_descriptors;
  options.ports.promiscuous = !o.no_promiscuous;

  // The control socket comes up before the ports start, so a switch that
  // finds another one serving its socket stops before it starts any port.
  control::CommandRegistry commands;
  std::unique_ptr<control::ControlServer> control_server;
  if (!o.no_control_socket) {
    control::ControlServerOptions server_options;
    server_options.path = o.control_socket;
    if (server_options.path.empty()) {
      server_options.path =
          absl::StrCat(rte_eal_get_runtime_dir(), "/", control::kControlSocketName);
    }
    auto server = control::ControlServer::Create(commands, std::move(server_options));
    if (!server.ok()) return Fail(server.status().message());
    control_server = *std::move(server);
  }

  auto sw = dataplane::Switch::Create(*program, options);
  if (!sw.ok()) return Fail(sw.status().message());
  if (absl::Status s =
          control::RegisterStatsCommands(commands, **sw, o.pipeline, program.get());
      !s.ok()) {
    return Fail(s.message());
  }
  for (pipe::ProgramCommand& c : program->Commands()) {
    if (absl::Status s = commands.Register(c.name, c.help, std::move(c.handler)); !s.ok()) {
      return Fail(s.message());
    }
  }
  control::EventManagerOptions event_options;
  event_options.file = o.events;
  event_options.dta_export = o.events_dta;
  event_options.sources = o.events_from;
  auto events = control::EventManager::Create(*program, std::move(event_options));
  if (!events.ok()) return Fail(events.status().message());
  if (absl::Status s = (*events)->RegisterCommands(commands); !s.ok()) return Fail(s.message());
  if (pipe::TableControl* tables = program->table_control()) {
    if (absl::Status s = control::RegisterTableCommands(commands, *tables, (*sw)->rcu()); !s.ok()) {
      return Fail(s.message());
    }
  }
  if (pipe::StatefulControl* stateful = program->stateful_control()) {
    if (absl::Status s = control::RegisterStatefulCommands(commands, *stateful); !s.ok()) {
      return Fail(s.message());
    }
  }
  control::ReplicationControl replication_control((*sw)->replication(), (*sw)->rcu(),
                                                  (*sw)->port_count(), program->Replication(),
                                                  o.pipeline);
  if (absl::Status s = control::RegisterReplicationCommands(commands, replication_control);
      !s.ok()) {
    return Fail(s.message());
  }

  // Collectors that restart get new queue pairs (dta_translator).
  auto supervisor =
      control::RdmaSupervisor::Start(config, *port_count, pipe_count, PortMac, *program);
  if (!supervisor.ok()) {
    return Fail(absl::StrCat("config ", o.config, ": ", supervisor.status().message()));
  }
  if (*supervisor) {
    if (absl::Status s = commands.Register(
            "rdma", "the collectors the RDMA connections reach: up or down, reconnections",
            [sup = supervisor->get()](const nlohmann::json&) -> absl::StatusOr<nlohmann::json> {
              return sup->Stats();
            });
        !s.ok()) {
      return Fail(s.message());
    }
  }

  control::InstallStopSignalHandlers();
  control::PublishTelemetry(sw->get(), o.pipeline);
  control::SlowPath slow_path(**sw,
                              {.exit_when_idle = std::chrono::milliseconds(o.exit_when_idle_ms),
                               .control_server = control_server.get()});
  const std::string control_line =
      control_server ? absl::StrCat(", control socket ", control_server->path()) : "";
  std::fprintf(stderr, "softfino: %s running on %u port(s) with %u pipe(s), %s time%s\n",
               o.pipeline.c_str(), (*sw)->port_count(), (*sw)->pipe_count(),
               (*sw)->clock() == dataplane::ClockMode::kVirtual ? "virtual" : "real",
               control_line.c_str());
  (*sw)->Run([&] {
    (*events)->Poll();
    return slow_path.Tick();
  });
  nlohmann::json rdma_stats = *supervisor ? (*supervisor)->Stats() : nlohmann::json();
  supervisor->reset();
  // What the pipes' last intervals produced (Program::Finish ran in Run).
  (*events)->Poll();
  (*events)->Flush(std::chrono::seconds(5));
  // Those last events reach followers (softfino-ctl events follow=true,
  // another switch's --events-from) only if they ask once more: the socket
  // is served a little longer while any client is connected.
  if (control_server) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (control_server->client_count() > 0 && std::chrono::steady_clock::now() < until) {
      control_server->Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  control::UnpublishTelemetry();
  // Gone before the ports stop: a client now gets "no switch" at once
  // rather than waiting on a socket nobody polls.
  control_server.reset();

  const dataplane::StatsSnapshot stats = (*sw)->Snapshot();
  std::fputs(control::FormatStatsText(o.pipeline, stats, (*sw)->ports()).c_str(), stdout);
  int rc = 0;
  if (!o.stats_json.empty()) {
    std::ofstream out(o.stats_json);
    nlohmann::json j = control::StatsToJson(o.pipeline, stats, (*sw)->ports());
    if (nlohmann::json counters = program->Counters(); !counters.is_null()) {
      j["program"] = std::move(counters);
    }
    if (!rdma_stats.is_null()) j["rdma"] = std::move(rdma_stats);
    out << j.dump(2) << "\n";
    if (!out) rc = Fail(absl::StrCat("cannot write ", o.stats_json));
  }
  sw->reset();  // stops and closes the ports, which flushes pcap output
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  control::SplitArgs args = control::SplitEalArgs(argc, argv, {"--help", "-h", "--list-pipelines"});
  CLI::App app;
  AppOptions options;
  DefineOptions(app, options);
  try {
    app.parse(static_cast<int>(args.app_argv.size()), args.app_argv.data());
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
  if (options.resources) {
    const auto uses = pipelines::FindProgram(options.pipeline)->create()->Resources();
    const pipe::ResourceReport report = pipe::BuildResourceReport(uses);
    std::fputs(pipe::FormatResourceReport(options.pipeline, uses, report).c_str(), stdout);
    return report.fits() ? 0 : 1;
  }

  // Syntax errors in the config are reported before DPDK starts.
  nlohmann::json config;
  if (!options.config.empty()) {
    auto loaded = control::LoadJsonFile(options.config);
    if (!loaded.ok()) return Fail(absl::StrCat("config ", loaded.status().message()));
    config = *std::move(loaded);
  }

  if (rte_eal_init(args.eal_argc, argv) < 0) {
    return Fail(absl::StrCat("cannot initialise DPDK's EAL: ", rte_strerror(rte_errno),
                             " (see DPDK's message above; EAL args go before --)"));
  }
  const int rc = RunSwitch(options, std::move(config));
  rte_eal_cleanup();
  return rc;
}
