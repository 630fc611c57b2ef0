// softfino: the switch. `softfino [EAL args] -- [app args]`.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
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
#include "softfino/control/config_file.h"
#include "softfino/control/eal_args.h"
#include "softfino/control/signals.h"
#include "softfino/control/telemetry.h"
#include "softfino/control/topology.h"
#include "softfino/dataplane/links.h"
#include "softfino/dataplane/switch.h"
#include "switch_instance.h"
#include "softfino/pipe/resources.h"
#include "softfino/net/crc.h"

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
  bool fp_no_ints = false;
  bool sw_rss = false;
  uint16_t fp_cores_max = 0;
  bool fp_no_autoscale = false;
  std::string clock = "auto";
  std::string control_socket;
  bool no_control_socket = false;
  bool list_pipelines = false;
  bool resources = false;
  std::string topology;
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
  auto* cores_max = app.add_option(
      "--fp-cores-max", o.fp_cores_max,
      "Scale fast-path cores as TAS does: make N pipes (each owns an RX queue of every port, its "
      "registers and TMs, as with --fp-cores N) on N worker lcores, of which --fp-cores (default "
      "1) run at first; every 10 ms the slow path adds a core when less than 0.2 core's worth "
      "is idle and removes one when more than 1.25 is, moving whole pipes between lcores, so "
      "flows keep their pipe and its state")
      ->check(CLI::Range(1, 64));
  app.add_flag("--fp-no-autoscale", o.fp_no_autoscale,
               "With --fp-cores-max: keep the cores --fp-cores gives (no scaling)")
      ->needs(cores_max);
  app.add_flag("--fp-no-ints", o.fp_no_ints,
               "Pipes always spin. By default a pipe that has had nothing to do for 1 ms sleeps "
               "between polls (16 us, doubling up to 256 us) until work comes, as TAS's fast path "
               "blocks when idle: an idle switch then costs little CPU, and the first packet after "
               "a quiet spell waits at most one sleep");
  app.add_flag("--sw-rss", o.sw_rss,
               "Spread flows over pipes in software, for NICs without RSS (virtio-net without "
               "its RSS feature, af_packet, tap, single-queue VFs): each port gets one RX queue, "
               "which the pipe that owns the port reads, hashing every packet as a NIC would with "
               "softfino's symmetric key and handing other pipes' packets to them. Needs real "
               "time (live ports, or --clock real)");
  auto* control_socket =
      app.add_option("--control-socket", o.control_socket,
                     "UNIX socket where softfino-ctl reaches the running switch (mode 0600, "
                     "removed at exit). Default: softfino.sock in DPDK's runtime folder, "
                     "/var/run/dpdk/<file-prefix>/ for root, else under $XDG_RUNTIME_DIR or "
                     "/tmp, where `softfino-ctl --file-prefix` finds it");
  app.add_flag("--no-control-socket", o.no_control_socket, "Serve no control socket")
      ->excludes(control_socket);
  auto* topology = app.add_option(
      "--topology", o.topology,
      "Run several switches in this process, wired by internal links, as the JSON file "
      "declares: {\"switches\": [{\"name\", \"pipeline\", \"config\", \"fp_cores\", "
      "\"ports\": [DPDK device name or {\"link\": NAME}, ...]}, ...]} (see the README). Each "
      "switch serves its own control socket, softfino-NAME.sock in DPDK's runtime folder "
      "(softfino-ctl --switch NAME)")
      ->check(CLI::ExistingFile);
  for (const char* single : {"--pipeline", "--config", "--fp-cores", "--control-socket", "--events",
                             "--events-dta", "--events-from", "--fp-cores-max"}) {
    topology->excludes(app.get_option(single));
  }
  app.add_flag("--list-pipelines", o.list_pipelines, "Print the programs and exit");
  app.add_flag("--resources", o.resources,
               "Print what --pipeline would use on a Tofino-1, stage by stage (SRAM, TCAM, "
               "stateful ALUs), and exit: 0 when it fits, 1 when it would not");
}

int Fail(absl::string_view message) {
  std::fprintf(stderr, "softfino: %.*s\n", static_cast<int>(message.size()), message.data());
  return 1;
}

// What every switch of the process shares.
app::SwitchPlan CommonPlan(const AppOptions& o) {
  app::SwitchPlan plan;
  plan.clock = o.clock == "real"      ? dataplane::ClockChoice::kReal
               : o.clock == "virtual" ? dataplane::ClockChoice::kVirtual
                                      : dataplane::ClockChoice::kAuto;
  plan.rx_descriptors = o.rx_descriptors;
  plan.tx_descriptors = o.tx_descriptors;
  plan.promiscuous = !o.no_promiscuous;
  plan.sleep_when_idle = !o.fp_no_ints;
  plan.sw_rss = o.sw_rss;
  plan.no_control_socket = o.no_control_socket;
  plan.exit_when_idle = std::chrono::milliseconds(o.exit_when_idle_ms);
  return plan;
}

// A topology's switches as plans: ports resolved to DPDK port ids (links
// created here), worker lcores dealt out in order.
absl::StatusOr<std::vector<app::SwitchPlan>> PlanTopology(
    const AppOptions& o, control::Topology topology,
    std::vector<std::unique_ptr<dataplane::InternalLink>>& links) {
  const unsigned workers = rte_lcore_count() - 1;
  unsigned needed = 0;
  for (const control::TopologySwitch& sw : topology.switches) needed += sw.fp_cores;
  std::vector<unsigned> worker_lcores;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) worker_lcores.push_back(lcore);
  if (workers != 0 && needed > workers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topology ", o.topology, ": its switches have ", needed, " pipes (fp_cores) in all but EAL "
        "has ", workers, " worker lcore(s); give EAL -l 0-", needed,
        ", or -l 0 to run one pipe of every switch on the main lcore"));
  }
  for (const control::TopologySwitch& sw : topology.switches) {
    if (workers == 0 && sw.fp_cores > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "topology ", o.topology, ": switch ", sw.name, " has fp_cores ", sw.fp_cores,
          " but EAL gave no worker lcore (every switch then runs one pipe on the main lcore); "
          "give EAL more with -l"));
    }
  }
  auto pipes_of = [&](size_t s) -> uint16_t { return workers == 0 ? 1 : topology.switches[s].fp_cores; };
  std::vector<std::array<uint16_t, 2>> link_ports;
  for (const control::Topology::Link& l : topology.links) {
    auto link = dataplane::InternalLink::Create(l.name, pipes_of(l.a_switch), pipes_of(l.b_switch));
    if (!link.ok()) return link.status();
    link_ports.push_back({(*link)->a_port(), (*link)->b_port()});
    links.push_back(*std::move(link));
  }
  std::vector<app::SwitchPlan> plans;
  unsigned next_worker = 0;
  for (size_t s = 0; s < topology.switches.size(); ++s) {
    control::TopologySwitch& sw = topology.switches[s];
    app::SwitchPlan plan = CommonPlan(o);
    plan.name = sw.name;
    plan.pipeline = sw.pipeline;
    plan.config_label = sw.config_path;
    plan.config = std::move(sw.config);
    plan.control_socket = sw.control_socket;
    plan.events = sw.events;
    plan.lcores.emplace();
    for (uint16_t p = 0; workers != 0 && p < sw.fp_cores; ++p) {
      plan.lcores->push_back(worker_lcores[next_worker++]);
    }
    for (size_t p = 0; p < sw.ports.size(); ++p) {
      const control::TopologyPort& port = sw.ports[p];
      if (port.device.empty()) {
        for (size_t l = 0; l < topology.links.size(); ++l) {
          const control::Topology::Link& link = topology.links[l];
          if (link.name != port.link) continue;
          const bool a_end = link.a_switch == s && link.a_port == p;
          plan.ethdevs.push_back(link_ports[l][a_end ? 0 : 1]);
        }
        plan.internal_links.push_back(true);
        continue;
      }
      uint16_t id = 0;
      if (rte_eth_dev_get_port_by_name(port.device.c_str(), &id) != 0) {
        std::string known;
        uint16_t d;
        RTE_ETH_FOREACH_DEV(d) {
          char name[RTE_ETH_NAME_MAX_LEN];
          if (rte_eth_dev_get_name_by_port(d, name) == 0 &&
              std::string_view(name).rfind("net_ring_", 0) != 0) {
            absl::StrAppend(&known, known.empty() ? "" : ", ", name);
          }
        }
        return absl::InvalidArgumentError(absl::StrCat(
            "topology ", o.topology, ": switch ", sw.name, " port ", p, ": no DPDK device named ",
            port.device, " (EAL has: ", known.empty() ? "none" : known,
            "); give it to EAL, e.g. --vdev=", port.device, ",..."));
      }
      plan.ethdevs.push_back(id);
      plan.internal_links.push_back(false);
    }
    plans.push_back(std::move(plan));
  }
  // Every device EAL has belongs to a switch: one left out is a mistake.
  uint16_t d;
  RTE_ETH_FOREACH_DEV(d) {
    bool used = false;
    for (const app::SwitchPlan& plan : plans) {
      used |= std::find(plan.ethdevs.begin(), plan.ethdevs.end(), d) != plan.ethdevs.end();
    }
    if (!used) {
      char name[RTE_ETH_NAME_MAX_LEN] = "?";
      rte_eth_dev_get_name_by_port(d, name);
      return absl::InvalidArgumentError(absl::StrCat(
          "topology ", o.topology, ": DPDK device ", name,
          " is in no switch's ports; add it to one, or leave it out of the EAL args"));
    }
  }
  return plans;
}

// Builds the switches, runs them until a signal or idle, prints their
// counters. Returns the exit code.
int RunSwitches(const AppOptions& o, std::vector<app::SwitchPlan> plans) {
  std::vector<std::unique_ptr<app::SwitchInstance>> instances;
  for (app::SwitchPlan& plan : plans) {
    auto instance = app::SwitchInstance::Build(std::move(plan));
    if (!instance.ok()) return Fail(instance.status().message());
    instances.push_back(*std::move(instance));
  }
  std::vector<dataplane::Switch*> switches;
  for (auto& instance : instances) switches.push_back(&instance->sw());

  control::InstallStopSignalHandlers();
  // DPDK telemetry serves one switch: the first.
  control::PublishTelemetry(switches.front(), instances.front()->plan().pipeline);
  for (auto& instance : instances) std::fputs(instance->RunningLine().c_str(), stderr);
  dataplane::Switch::RunAll(switches, [&] {
    // Every switch's slow path runs each tick; the process stops when none
    // wants to go on (a signal stops all; idle means all idle).
    bool go_on = false;
    for (auto& instance : instances) go_on |= instance->Tick();
    return go_on;
  });
  for (auto& instance : instances) instance->AfterRun();
  // Those last events reach followers (softfino-ctl events follow=true,
  // another switch's --events-from) only if they ask once more: the sockets
  // are served a little longer while any client is connected.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  for (;;) {
    size_t clients = 0;
    for (auto& instance : instances) clients += instance->ServeClients();
    if (clients == 0 || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  control::UnpublishTelemetry();
  // Gone before the ports stop: a client now gets "no switch" at once
  // rather than waiting on a socket nobody polls.
  for (auto& instance : instances) instance->CloseControlSocket();

  int rc = 0;
  nlohmann::json all = nlohmann::json::object();
  for (auto& instance : instances) {
    std::fputs(instance->StatsText().c_str(), stdout);
    if (o.stats_json.empty()) continue;
    if (instance->plan().name.empty()) {
      all = instance->StatsJson();
    } else {
      all["switches"][instance->plan().name] = instance->StatsJson();
    }
  }
  if (!o.stats_json.empty()) {
    std::ofstream out(o.stats_json);
    out << all.dump(2) << "\n";
    if (!out) rc = Fail(absl::StrCat("cannot write ", o.stats_json));
  }
  // Stops and closes the ports, which flushes pcap output.
  for (auto& instance : instances) instance->StopPorts();
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
  if (options.pipeline.empty() && options.topology.empty()) {
    return Fail("--pipeline is required (after --), or --topology FILE; see softfino --help");
  }
  if (options.resources) {
    if (options.pipeline.empty()) return Fail("--resources needs --pipeline NAME");
    const auto uses = pipelines::FindProgram(options.pipeline)->create()->Resources();
    const pipe::ResourceReport report = pipe::BuildResourceReport(uses);
    std::fputs(pipe::FormatResourceReport(options.pipeline, uses, report).c_str(), stdout);
    return report.fits() ? 0 : 1;
  }

  // Syntax errors in the config (or topology) are reported before DPDK starts.
  nlohmann::json config;
  std::optional<control::Topology> topology;
  if (!options.topology.empty()) {
    std::vector<std::string> names;
    for (const auto& p : pipelines::Programs()) names.emplace_back(p.name);
    auto loaded = control::LoadTopology(options.topology, names);
    if (!loaded.ok()) return Fail(absl::StrCat("topology ", loaded.status().message()));
    topology = *std::move(loaded);
  } else if (!options.config.empty()) {
    auto loaded = control::LoadJsonFile(options.config);
    if (!loaded.ok()) return Fail(absl::StrCat("config ", loaded.status().message()));
    config = *std::move(loaded);
  }

  if (rte_eal_init(args.eal_argc, argv) < 0) {
    return Fail(absl::StrCat("cannot initialise DPDK's EAL: ", rte_strerror(rte_errno),
                             " (see DPDK's message above; EAL args go before --)"));
  }
  net::UseFastestCrc32();  // needs EAL's SIMD settings
  int rc = 0;
  {
    // Links outlive the switches whose ports use them.
    std::vector<std::unique_ptr<dataplane::InternalLink>> links;
    std::vector<app::SwitchPlan> plans;
    if (topology) {
      auto planned = PlanTopology(options, *std::move(topology), links);
      if (planned.ok()) {
        plans = *std::move(planned);
      } else {
        rc = Fail(planned.status().message());
      }
    } else {
      app::SwitchPlan plan = CommonPlan(options);
      plan.pipeline = options.pipeline;
      plan.config_label = options.config;
      plan.config = std::move(config);
      plan.fp_cores = options.fp_cores;
      if (options.fp_cores_max != 0) {
        if (options.fp_cores > options.fp_cores_max) {
          rc = Fail(absl::StrCat("--fp-cores ", options.fp_cores, " is more than --fp-cores-max ",
                                 options.fp_cores_max));
        }
        plan.fp_cores = options.fp_cores_max;
        plan.scaling_initial_cores = options.fp_cores == 0 ? 1 : options.fp_cores;
        plan.autoscale = !options.fp_no_autoscale;
      }
      plan.control_socket = options.control_socket;
      plan.events = options.events;
      plan.events_dta = options.events_dta;
      plan.events_from = options.events_from;
      plans.push_back(std::move(plan));
    }
    if (rc == 0) rc = RunSwitches(options, std::move(plans));
  }
  rte_eal_cleanup();
  return rc;
}
