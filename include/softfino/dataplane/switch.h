// The switch: its ports and its pipes (one per fast-path lcore), running a
// program. The main lcore stays the slow path: Run() hands it a callback that
// it calls about every millisecond while the pipes forward.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "softfino/dataplane/core_scaler.h"
#include "softfino/dataplane/pipe_worker.h"
#include "softfino/dataplane/ports.h"
#include "softfino/dataplane/stats.h"
#include "softfino/pipe/program.h"
#include "softfino/pipe/versioned.h"
#include "softfino/tm/egress_port.h"
#include "softfino/tm/replication.h"

namespace softfino::dataplane {

enum class ClockChoice { kAuto, kReal, kVirtual };

struct SwitchOptions {
  // Pipes (worker lcores). 0: one per worker lcore EAL gave us, or a single
  // pipe on the main lcore when it gave none.
  uint16_t fp_cores = 0;
  PortOptions ports;
  // kAuto: virtual time when the ports timestamp packets (net_pcap replay),
  // real time otherwise.
  ClockChoice clock = ClockChoice::kAuto;
  // Traffic manager per port, by port number. A port without one gets its
  // link speed (10G when the device does not say) and the defaults.
  std::vector<std::optional<tm::EgressPortConfig>> port_tm;
  tm::Replication replication;  // multicast groups and mirror sessions
  std::vector<pipe::PktgenApp> pktgen;  // timer apps, run in every pipe
  // Where the pipes run. Unset: one per worker lcore (fp_cores of them), or
  // one pipe on the main lcore when EAL gave no worker. Set: one pipe on
  // each of these worker lcores, or, when empty, one pipe on the main lcore
  // (several switches in one process share the main lcore this way).
  std::optional<std::vector<unsigned>> lcores;
  // Per port (by port number; missing: false): an internal link to another
  // switch of this process (see dataplane/links.h).
  std::vector<bool> internal_links;
  // TAS-style core scaling (--fp-cores-max): fp_cores pipes (RX queues,
  // registers, TMs: the state flows live in) on as many worker lcores, of
  // which only `scaling_initial_cores` run at first; each lcore runs the
  // pipes assigned to it, and the slow path moves pipes between lcores.
  // With `autoscale`, every 10 ms it applies TAS's rule (core_scaler.h) to
  // the lcores' busy cycles. Flows never change pipe, so per-pipe state
  // stays whole whatever the number of cores. 0: off (one lcore per pipe).
  uint16_t scaling_initial_cores = 0;
  bool autoscale = true;
  // Idle pipes sleep between polls instead of spinning (idle_backoff.h);
  // false (--fp-no-ints): they always spin.
  bool sleep_when_idle = true;
};

class Switch {
 public:
  // Starts the ports; `program` must be configured and outlive the switch.
  static absl::StatusOr<std::unique_ptr<Switch>> Create(const pipe::Program& program,
                                                        SwitchOptions options);
  ~Switch();

  // How many pipes Create will make for `fp_cores` (0: one per worker lcore,
  // or one on the main lcore), so programs can be configured before it.
  static uint16_t PipeCountFor(uint16_t fp_cores);
  // Each port's traffic-manager settings: the config's where it gives them,
  // else the defaults at the port's link speed (EAL and the ports up).
  // `ethdevs`: DPDK's port id of each switch port (PortOptions::ethdevs).
  static std::vector<tm::EgressPortConfig> ResolvePortConfigs(
      const std::vector<std::optional<tm::EgressPortConfig>>& configured,
      const std::vector<uint16_t>& ethdevs);

  // Forwards until `slow_path_tick` returns false. With worker lcores the
  // main lcore only runs the slow path; without, it interleaves it with the
  // one pipe's polling.
  void Run(const std::function<bool()>& slow_path_tick);
  // Runs several switches of one process at once, as Run does one: each
  // switch's pipes on its worker lcores, the pipes that run on the main lcore
  // polled in turn between slow-path ticks. Then stops them all.
  static void RunAll(const std::vector<Switch*>& switches,
                     const std::function<bool()>& slow_path_tick);

  uint16_t port_count() const { return ports_->count(); }
  uint16_t pipe_count() const { return static_cast<uint16_t>(pipes_.size()); }
  const Ports& ports() const { return *ports_; }
  uint64_t TotalRxPackets() const;
  // Per pipe: polls so far that were not held back (back-pressure), i.e.
  // that looked for input; appended to `out`.
  void InputPolls(std::vector<uint64_t>* out) const;
  ClockMode clock() const { return clock_; }
  const std::vector<tm::EgressPortConfig>& port_tm() const { return port_tm_; }
  StatsSnapshot Snapshot() const;
  // Core scaling (SwitchOptions::scaling_initial_cores): lcores running
  // pipes now, and how often that changed. 0 active when scaling is off.
  struct CoreScaling {
    unsigned active = 0, max = 0;
    uint64_t grown = 0, shrunk = 0;
  };
  CoreScaling core_scaling() const;
  // Runs `cores` lcores from now on (1..max), pipe p on the (p mod cores)th.
  void SetActiveCores(unsigned cores);
  // Where the pipes report quiescent states, for table commits made on the
  // main lcore (pipe/versioned.h).
  pipe::RcuDomain rcu() const {
    return {qsbr_, inline_pipe_ ? 0u : static_cast<unsigned>(RTE_QSBR_THRID_INVALID)};
  }
  // Multicast groups and mirror sessions, replaced whole by the slow path
  // (Publish with rcu()) while the pipes run: a pipe takes one version per
  // poll, so it sees a change entirely or not at all.
  pipe::Versioned<tm::Replication>& replication() { return replication_; }

 private:
  Switch() = default;
  static int WorkerMain(void* arg);
  // A worker lcore under core scaling: runs the pipes assigned to it.
  static int CoreMain(void* arg);
  // TAS's rule every 10 ms (slow path); no-op unless scaling with autoscale.
  void Autoscale();
  // Run's parts: launch the worker lcores, poll the inline pipe once (no-op
  // without one), then stop: wait for the workers, flush, Finish.
  void Launch();
  // Returns whether the pipe did or holds work (false: idle, or no inline pipe).
  bool PollInline() {
    if (!inline_pipe_) return false;
    PipeWorker& pipe = *pipes_.front();
    return pipe.PollOnce() != 0 || !pipe.Quiet();
  }
  void Stop();
  void DrainLinks(PipeWorker& pipe);

  absl::Status SetUpPipes(const pipe::Program& program, const SwitchOptions& options);
  // After the pipes stopped: the program's Finish on each, at the latest
  // time any pipe reached.
  void FinishPipes();

  const pipe::Program* program_ = nullptr;
  std::unique_ptr<Ports> ports_;
  ClockMode clock_ = ClockMode::kReal;
  std::vector<tm::EgressPortConfig> port_tm_;
  std::vector<rte_ring*> inboxes_;
  pipe::Versioned<tm::Replication> replication_{std::make_unique<const tm::Replication>()};
  std::vector<std::unique_ptr<PipeWorker>> pipes_;
  std::vector<unsigned> lcores_;  // lcore of each pipe
  bool inline_pipe_ = false;      // the single pipe runs on the main lcore
  std::atomic<bool> stop_{false};
  rte_rcu_qsbr* qsbr_ = nullptr;  // one reader per pipe, reader id = pipe id
  uint64_t start_tsc_ = 0;
  struct WorkerArgs {
    PipeWorker* pipe;
    const std::atomic<bool>* stop;
    rte_rcu_qsbr* qsbr;
    bool sleep_when_idle;
  };
  std::vector<WorkerArgs> worker_args_;
  // Core scaling: which core (index into lcores_) each pipe is assigned to
  // and which runs it now (-1: none, between two cores). A core gives a
  // pipe up (release) after its last poll; only the assigned core takes it
  // (acquire), so no two cores ever poll one pipe.
  struct alignas(RTE_CACHE_LINE_SIZE) PipeOwner {
    std::atomic<int> assigned{-1};
    std::atomic<int> running{-1};
  };
  struct alignas(RTE_CACHE_LINE_SIZE) CoreLoad {  // written by its core only
    std::atomic<uint64_t> busy_cycles{0}, cycles{0};
  };
  struct CoreArgs {
    Switch* sw;
    int core;
  };
  bool scaling_ = false;
  bool autoscale_ = false;
  unsigned initial_cores_ = 1;
  std::unique_ptr<PipeOwner[]> owners_;
  std::unique_ptr<CoreLoad[]> loads_;
  std::vector<CoreArgs> core_args_;
  std::atomic<unsigned> active_cores_{0};
  std::atomic<uint64_t> grown_{0}, shrunk_{0};
  uint64_t next_scale_tsc_ = 0;
  CoreScalingPolicy scaling_policy_;
  std::vector<uint64_t> last_busy_, last_cycles_;  // per core, at the last window
  std::string name_;  // of its DPDK objects
  bool has_links_ = false;  // an internal link among its ports
  bool sleep_when_idle_ = true;
};

}  // namespace softfino::dataplane
