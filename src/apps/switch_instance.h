// One running switch of the softfino binary and everything around it: its
// program, ports and pipes, control socket and commands, events, RDMA
// supervisor and slow path. softfino runs one (--pipeline) or several wired
// by internal links (--topology); each is built and torn down the same way.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/control/command_registry.h"
#include "softfino/control/control_server.h"
#include "softfino/control/event_manager.h"
#include "softfino/control/rdma_supervisor.h"
#include "softfino/control/replication_commands.h"
#include "softfino/control/slow_path.h"
#include "softfino/dataplane/switch.h"
#include "softfino/pipe/program.h"

namespace softfino::app {

// What to build; the options every switch of the process shares come too.
struct SwitchPlan {
  std::string name;  // in a topology; empty for the single switch
  std::string pipeline;
  std::string config_label;  // the config's file, for messages ("" when none)
  nlohmann::json config;
  uint16_t fp_cores = 0;  // 0: as Switch::PipeCountFor
  std::optional<std::vector<unsigned>> lcores;  // as SwitchOptions::lcores
  std::vector<uint16_t> ethdevs;                // empty: every DPDK port
  std::vector<bool> internal_links;
  std::string control_socket;  // empty: the default path
  bool no_control_socket = false;
  std::string events, events_dta;
  std::vector<std::string> events_from;
  // Shared by every switch of the process.
  dataplane::ClockChoice clock = dataplane::ClockChoice::kAuto;
  uint16_t rx_descriptors = 1024, tx_descriptors = 1024;
  bool promiscuous = true;
  bool sleep_when_idle = true;
  bool sw_rss = false;  // software RSS (--sw-rss)
  uint16_t scaling_initial_cores = 0;  // SwitchOptions' (--fp-cores-max)
  bool autoscale = true;
  std::chrono::milliseconds exit_when_idle{0};
};

class SwitchInstance {
 public:
  static absl::StatusOr<std::unique_ptr<SwitchInstance>> Build(SwitchPlan plan);
  ~SwitchInstance();

  dataplane::Switch& sw() { return *sw_; }
  const SwitchPlan& plan() const { return plan_; }
  // "softfino: NAME running on ..." for stderr.
  std::string RunningLine() const;
  // The slow path's tick: events, control socket, stop conditions. False:
  // this switch would stop (a signal, or idle for exit_when_idle).
  bool Tick();
  // After the pipes stopped: stop the RDMA supervisor, deliver the last
  // events (Program::Finish ran).
  void AfterRun();
  // Clients still connected (followers of events) get a last answer.
  size_t ServeClients();
  // The control socket goes, so a client gets "no switch" at once.
  void CloseControlSocket() { control_server_.reset(); }
  std::string StatsText() const;
  nlohmann::json StatsJson() const;
  // Stops and closes the ports (pcap output is written then).
  void StopPorts() { sw_.reset(); }

 private:
  SwitchInstance() = default;
  absl::Status Start();
  // "config FILE: " before a config error (nothing without a file).
  std::string ConfigPrefix() const;

  SwitchPlan plan_;
  std::unique_ptr<pipe::Program> program_;
  control::CommandRegistry commands_;
  std::unique_ptr<control::ControlServer> control_server_;
  std::unique_ptr<dataplane::Switch> sw_;
  std::unique_ptr<control::EventManager> events_;
  std::unique_ptr<control::ReplicationControl> replication_control_;
  std::unique_ptr<control::RdmaSupervisor> supervisor_;
  std::unique_ptr<control::SlowPath> slow_path_;
  nlohmann::json rdma_stats_;
};

}  // namespace softfino::app
