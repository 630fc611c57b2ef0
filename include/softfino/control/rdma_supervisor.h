// Watches the collectors the switch's RDMA connections reach, on a thread
// of its own (a handshake can block for its timeout; the slow path and the
// pipes never wait for it), and reconnects when one restarts.
//
// Every `interval` it asks each collector's handshake port who answers
// ({"incarnation": {}}, a number the collector drew at start):
//   - no answer: the collector is down. The program is told
//     (Program::SetRdmaConnectionsDown) and counts what it would send there
//     as lost, instead of writing into queue pairs nobody serves.
//   - the same incarnation again after a down: it only paused; its queue
//     pairs still hold, and the program is told it is up again.
//   - a new incarnation: a restarted collector, with new queue pairs and
//     empty memory. Every connection to it is handshaken again (new QPNs,
//     PSNs, rkeys) and the program adopts them (Program::RdmaConnectionsUp);
//     until then it stays down.
// Each change is logged on stderr and counted (Stats, `softfino-ctl rdma`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/control/rdma_connections.h"
#include "softfino/pipe/program.h"

namespace softfino::control {

struct RdmaSupervisorOptions {
  std::chrono::milliseconds interval{200};  // between probes of one collector
  std::chrono::milliseconds timeout{500};   // for one probe
};

class RdmaSupervisor {
 public:
  // Null when `config` has no RDMA connections or the program does not
  // reconnect (Program::ReconnectsRdma). `config` is the one
  // ConnectRdmaQueuePairs filled in; `program` must outlive the supervisor.
  // "rdma": {"supervise_ms": N} sets the interval; 0 turns supervision off.
  static absl::StatusOr<std::unique_ptr<RdmaSupervisor>> Start(
      const nlohmann::json& config, uint16_t port_count, uint16_t pipe_count,
      PortMacLookup port_mac, pipe::Program& program, RdmaSupervisorOptions options = {});
  ~RdmaSupervisor();  // stops the thread
  RdmaSupervisor(const RdmaSupervisor&) = delete;
  RdmaSupervisor& operator=(const RdmaSupervisor&) = delete;

  // Per collector: its state (up, down, reconnecting), incarnation and
  // counts of probes, failed probes, downs, pauses and reconnections.
  nlohmann::json Stats() const;

 private:
  struct Collector {
    std::string host;
    uint16_t port = 0;
    std::vector<size_t> connections;  // indices into config_["rdma"]["connections"]
    std::vector<std::string> names;
    bool down = false;
    bool known = false;  // incarnation seen
    uint64_t incarnation = 0;
    uint64_t probes = 0, probe_failures = 0, downs = 0, pauses = 0, reconnects = 0,
             reconnect_failures = 0;
    std::string last_error;
  };

  RdmaSupervisor(nlohmann::json config, uint16_t port_count, uint16_t pipe_count,
                 PortMacLookup port_mac, pipe::Program& program, RdmaSupervisorOptions options,
                 std::vector<Collector> collectors);
  void Run();
  void Check(Collector& c);

  nlohmann::json config_;  // the thread's own copy; reconnections rewrite its queue_pairs
  const uint16_t port_count_, pipe_count_;
  const PortMacLookup port_mac_;
  pipe::Program& program_;
  const RdmaSupervisorOptions options_;
  mutable std::mutex mu_;  // guards collectors_ and stop_
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<Collector> collectors_;
  std::thread thread_;
};

}  // namespace softfino::control
