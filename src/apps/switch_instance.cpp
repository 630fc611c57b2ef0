#include "switch_instance.h"

#include <rte_eal.h>
#include <rte_ethdev.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pipelines/registry.h"
#include "softfino/control/pktgen_config.h"
#include "softfino/control/port_config.h"
#include "softfino/control/rdma_connections.h"
#include "softfino/control/replication_config.h"
#include "softfino/control/stateful_commands.h"
#include "softfino/control/stats_commands.h"
#include "softfino/control/stats_report.h"
#include "softfino/control/table_commands.h"
#include "softfino/control/topology.h"
#include "softfino/pipe/stateful_control.h"
#include "softfino/pipe/table_control.h"

namespace softfino::app {

absl::StatusOr<std::unique_ptr<SwitchInstance>> SwitchInstance::Build(SwitchPlan plan) {
  auto instance = std::unique_ptr<SwitchInstance>(new SwitchInstance());
  instance->plan_ = std::move(plan);
  if (absl::Status s = instance->Start(); !s.ok()) {
    if (instance->plan_.name.empty()) return s;
    return absl::Status(s.code(), absl::StrCat("switch ", instance->plan_.name, ": ", s.message()));
  }
  return instance;
}

SwitchInstance::~SwitchInstance() = default;

std::string SwitchInstance::ConfigPrefix() const {
  return plan_.config_label.empty() ? "" : absl::StrCat("config ", plan_.config_label, ": ");
}

absl::Status SwitchInstance::Start() {
  const SwitchPlan& p = plan_;
  const auto config_error = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(ConfigPrefix(), s.message()));
  };
  std::vector<uint16_t> ethdevs = p.ethdevs;
  if (ethdevs.empty()) {
    auto count = dataplane::CountPorts();
    if (!count.ok()) return count.status();
    for (uint16_t port = 0; port < *count; ++port) ethdevs.push_back(port);
  }
  const auto port_count = static_cast<uint16_t>(ethdevs.size());
  const uint16_t pipe_count =
      p.lcores ? static_cast<uint16_t>(std::max<size_t>(p.lcores->size(), 1))
               : dataplane::Switch::PipeCountFor(p.fp_cores);
  // The MAC of a switch port, for RDMA queue pairs.
  const control::PortMacLookup port_mac = [ethdevs](uint16_t port) -> absl::StatusOr<net::MacAddress> {
    rte_ether_addr addr;
    if (port >= ethdevs.size() || rte_eth_macaddr_get(ethdevs[port], &addr) != 0) {
      return absl::NotFoundError(absl::StrCat("port ", port, " has no MAC address; give \"mac\""));
    }
    net::MacAddress mac;
    for (size_t i = 0; i < mac.size(); ++i) mac[i] = addr.addr_bytes[i];
    return mac;
  };

  // Queue pairs with collectors come first: the program finds their
  // parameters in its config, like table entries.
  if (absl::Status s = control::ConnectRdmaQueuePairs(plan_.config, port_count, pipe_count, port_mac);
      !s.ok()) {
    return config_error(s);
  }
  auto port_tm = control::ParsePortConfig(p.config, port_count);
  if (!port_tm.ok()) return config_error(port_tm.status());

  program_ = pipelines::FindProgram(p.pipeline)->create();
  pipe::SwitchInfo info{port_count, pipe_count, {}};
  for (const tm::EgressPortConfig& c : dataplane::Switch::ResolvePortConfigs(*port_tm, ethdevs)) {
    info.port_rate_bps.push_back(c.rate_bps);
  }
  if (absl::Status s = program_->Configure(p.config, info); !s.ok()) return config_error(s);

  auto replication = control::ParseReplication(p.config, port_count);
  if (!replication.ok()) return config_error(replication.status());
  if (absl::Status s = control::AddProgramReplication(program_->Replication(), p.pipeline,
                                                      port_count, *replication);
      !s.ok()) {
    return config_error(s);
  }
  auto pktgen = control::ParsePktgenConfig(p.config);
  if (!pktgen.ok()) return config_error(pktgen.status());

  dataplane::SwitchOptions options;
  options.pktgen = *std::move(pktgen);
  options.port_tm = *std::move(port_tm);
  options.replication = *std::move(replication);
  options.clock = p.clock;
  options.fp_cores = p.fp_cores;
  options.lcores = p.lcores;
  options.internal_links = p.internal_links;
  options.sleep_when_idle = p.sleep_when_idle;
  options.scaling_initial_cores = p.scaling_initial_cores;
  options.autoscale = p.autoscale;
  options.ports.rx_descriptors = p.rx_descriptors;
  options.ports.tx_descriptors = p.tx_descriptors;
  options.ports.promiscuous = p.promiscuous;
  options.ports.sw_rss = p.sw_rss;
  options.ports.ethdevs = p.ethdevs;
  if (!p.name.empty()) options.ports.name = absl::StrCat("sf_", p.name);

  // The control socket comes up before the ports start, so a switch that
  // finds another one serving its socket stops before it starts any port.
  if (!p.no_control_socket) {
    control::ControlServerOptions server_options;
    server_options.path = p.control_socket;
    if (server_options.path.empty()) {
      server_options.path = absl::StrCat(
          rte_eal_get_runtime_dir(), "/",
          p.name.empty() ? std::string(control::kControlSocketName)
                         : control::TopologySocketName(p.name));
    }
    auto server = control::ControlServer::Create(commands_, std::move(server_options));
    if (!server.ok()) return server.status();
    control_server_ = *std::move(server);
  }

  auto sw = dataplane::Switch::Create(*program_, options);
  if (!sw.ok()) return sw.status();
  sw_ = *std::move(sw);
  if (absl::Status s = control::RegisterStatsCommands(commands_, *sw_, p.pipeline, program_.get());
      !s.ok()) {
    return s;
  }
  for (pipe::ProgramCommand& c : program_->Commands()) {
    if (absl::Status s = commands_.Register(c.name, c.help, std::move(c.handler)); !s.ok()) return s;
  }
  control::EventManagerOptions event_options;
  event_options.file = p.events;
  event_options.dta_export = p.events_dta;
  event_options.sources = p.events_from;
  auto events = control::EventManager::Create(*program_, std::move(event_options));
  if (!events.ok()) return events.status();
  events_ = *std::move(events);
  if (absl::Status s = events_->RegisterCommands(commands_); !s.ok()) return s;
  if (pipe::TableControl* tables = program_->table_control()) {
    if (absl::Status s = control::RegisterTableCommands(commands_, *tables, sw_->rcu()); !s.ok()) {
      return s;
    }
  }
  if (pipe::StatefulControl* stateful = program_->stateful_control()) {
    if (absl::Status s = control::RegisterStatefulCommands(commands_, *stateful); !s.ok()) return s;
  }
  replication_control_ = std::make_unique<control::ReplicationControl>(
      sw_->replication(), sw_->rcu(), sw_->port_count(), program_->Replication(), p.pipeline);
  if (absl::Status s = control::RegisterReplicationCommands(commands_, *replication_control_);
      !s.ok()) {
    return s;
  }

  // Collectors that restart get new queue pairs (dta_translator).
  auto supervisor =
      control::RdmaSupervisor::Start(p.config, port_count, pipe_count, port_mac, *program_);
  if (!supervisor.ok()) return config_error(supervisor.status());
  supervisor_ = *std::move(supervisor);
  if (supervisor_) {
    if (absl::Status s = commands_.Register(
            "rdma", "the collectors the RDMA connections reach: up or down, reconnections",
            [sup = supervisor_.get()](const nlohmann::json&) -> absl::StatusOr<nlohmann::json> {
              return sup->Stats();
            });
        !s.ok()) {
      return s;
    }
  }
  slow_path_ = std::make_unique<control::SlowPath>(
      *sw_, control::SlowPathOptions{.exit_when_idle = p.exit_when_idle,
                                     .control_server = control_server_.get()});
  return absl::OkStatus();
}

std::string SwitchInstance::RunningLine() const {
  const std::string control_line =
      control_server_ ? absl::StrCat(", control socket ", control_server_->path()) : "";
  return absl::StrCat("softfino: ", plan_.name.empty() ? "" : absl::StrCat(plan_.name, ": "),
                      plan_.pipeline, " running on ", sw_->port_count(), " port(s) with ",
                      sw_->pipe_count(), " pipe(s), ",
                      sw_->clock() == dataplane::ClockMode::kVirtual ? "virtual" : "real",
                      " time", control_line, "\n");
}

bool SwitchInstance::Tick() {
  events_->Poll();
  return slow_path_->Tick();
}

void SwitchInstance::AfterRun() {
  if (supervisor_) rdma_stats_ = supervisor_->Stats();
  supervisor_.reset();
  // What the pipes' last intervals produced (Program::Finish ran in Run).
  events_->Poll();
  events_->Flush(std::chrono::seconds(5));
}

size_t SwitchInstance::ServeClients() {
  if (!control_server_) return 0;
  control_server_->Poll();
  return control_server_->client_count();
}

std::string SwitchInstance::StatsText() const {
  std::string text = control::FormatStatsText(plan_.pipeline, sw_->Snapshot(), sw_->ports());
  if (plan_.name.empty()) return text;
  return absl::StrCat("=== switch ", plan_.name, " ===\n", text);
}

nlohmann::json SwitchInstance::StatsJson() const {
  nlohmann::json j = control::StatsToJson(plan_.pipeline, sw_->Snapshot(), sw_->ports());
  if (nlohmann::json counters = program_->Counters(); !counters.is_null()) {
    j["program"] = std::move(counters);
  }
  if (!rdma_stats_.is_null()) j["rdma"] = rdma_stats_;
  return j;
}

}  // namespace softfino::app
