// A data-plane program: what a P4 program is to a Tofino. The dataplane runs
// it without knowing which one it is; the program never sees ports, queues or
// threads, only bursts of packets and their intrinsic metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/resources.h"

namespace softfino::pipe {

class TableControl;     // table_control.h
class StatefulControl;  // stateful_control.h

// The pipe that owns `port`: it runs the port's traffic manager and egress
// pipeline (and so is the only one to touch state an egress program keeps
// for that port). Ports are dealt round-robin, as Tofino ties a port to the
// pipe its number names.
constexpr uint16_t PipeOfPort(PortId port, uint16_t pipe_count) {
  return static_cast<uint16_t>(port % pipe_count);
}

// What the program may rely on about the switch it runs in.
struct SwitchInfo {
  SwitchInfo() = default;
  SwitchInfo(uint16_t ports, uint16_t pipes = 1, std::vector<uint64_t> rates = {})
      : port_count(ports), pipe_count(pipes), port_rate_bps(std::move(rates)) {}

  uint16_t port_count = 0;  // ports are numbered 0 .. port_count-1
  uint16_t pipe_count = 1;  // pipes are numbered 0 .. pipe_count-1
  // Each port's line rate (what drains its queues), when the switch knows
  // it; empty otherwise (e.g. a program configured outside a switch).
  std::vector<uint64_t> port_rate_bps;

  uint16_t PipeOf(PortId port) const { return PipeOfPort(port, pipe_count); }
};

// Packet replication entries a program needs (Tofino's PRE multicast groups
// and mirror sessions), which its own control plane installs, as a
// bfrt setup script does for a P4 program: e.g. a group that makes N copies
// of a packet to one port. The switch adds them to those of the config
// file; an id used by both is refused.
struct ProgramReplication {
  struct Member {
    PortId port = 0;
    uint16_t rid = 0;
  };
  struct Group {
    uint16_t group = 0;
    std::vector<Member> members;
  };
  struct MirrorSession {
    MirrorSessionId session = 0;
    PortId port = 0;
    uint32_t max_len = 0;  // 0: whole packets
  };
  std::vector<Group> groups;
  std::vector<MirrorSession> mirror_sessions;
};

// A control command a program serves itself (softfino-ctl NAME ...), e.g.
// Trumpet's trigger_add. Runs on the slow path.
struct ProgramCommand {
  std::string name;
  std::string help;
  std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json& args)> handler;
};

class Program {
 public:
  virtual ~Program() = default;

  // Fills the program's tables from the parsed config file (null when the
  // switch runs without --config). All or nothing: on error
  // the program is left unusable and the switch does not start.
  virtual absl::Status Configure(const nlohmann::json& config, const SwitchInfo& info) = 0;

  // The ingress pipeline over one burst (one virtual call per burst, never
  // per packet). Sets each packet's ucast_egress_port or drops it. Pipes call
  // it concurrently, so it must only read state shared between pipes.
  virtual void Ingress(PacketBurst& burst) const = 0;

  // The egress pipeline over packets the traffic manager released to one
  // port, with their queueing metadata. May drop (eg_intr_md_for_dprsr) or
  // rewrite them. Programs without an egress pipeline keep this default.
  virtual void Egress(EgressBurst& /*burst*/) const {}
  // How much of eg_intr_md Egress reads: the traffic manager fills in only
  // that (EgressMetadataUse). Asked once, after Configure, when the pipes
  // are made.
  virtual EgressMetadataUse EgressMetadataRead() const { return EgressMetadataUse::kAll; }

  // True when Ingress may set resubmit_type: the pipe then keeps the first
  // kResubmitBytes of every packet so it can resubmit it as it arrived.
  virtual bool UsesResubmit() const { return false; }
  // True when Ingress may send packets to the recirculation port. In virtual
  // time the pipe then runs ingress one packet at a time, so a recirculated
  // packet re-enters exactly when it comes back, before later arrivals.
  virtual bool UsesRecirculation() const { return false; }

  // The tables and stateful objects the program would place on a Tofino,
  // stage by stage (softfino --resources).
  virtual std::vector<ResourceUse> Resources() const = 0;

  // The replication entries the program needs, valid after Configure.
  virtual ProgramReplication Replication() const { return {}; }

  // The program's own counters (e.g. its RDMA queue pairs' events), for the
  // exit report and --stats-json under "program"; read by the slow path
  // while pipes run, so values may be a little stale. Null when none.
  virtual nlohmann::json Counters() const;

  // Time-driven work of pipe `pipe` (e.g. Trumpet's sweeps), called on that
  // pipe's thread once per poll, between bursts, with the pipe's clock
  // (ns, the clock of ingress_mac_tstamp). It must return quickly: packets
  // wait meanwhile. One virtual call per poll, never per packet.
  virtual void Background(uint16_t /*pipe*/, uint64_t /*now_ns*/) const {}
  // When the switch stops, for each pipe once its thread has stopped:
  // `end_ns` is the latest time any pipe reached, so time-driven state
  // closes what ended by then (e.g. the last full intervals of a replay).
  virtual void Finish(uint16_t /*pipe*/, uint64_t /*end_ns*/) const {}
  // Slow path: hands the program's events (e.g. Trumpet's triggers that
  // fired) to `emit`, one JSON object each, oldest first.
  virtual void DrainEvents(const std::function<void(nlohmann::json)>& /*emit*/) {}
  // The program's own control commands, registered beside the switch's.
  virtual std::vector<ProgramCommand> Commands() { return {}; }

  // RDMA reconnection, for programs whose queue pairs reach collectors that
  // may restart (control/rdma_supervisor.h). Called from the supervisor's
  // thread, never a pipe's; the program hands changes to its pipes itself.
  // True when the program implements the two calls below.
  virtual bool ReconnectsRdma() const { return false; }
  // The collector behind connections `names` stopped answering (`down`:
  // what the program would send it is counted as lost from now on), or
  // answers again with the same queue pairs (it only paused).
  virtual void SetRdmaConnectionsDown(const std::vector<std::string>& /*names*/, bool /*down*/) {}
  // Connections `names` have new queue pairs (a restarted collector, fresh
  // memory), found in `config` as Configure found the first ones.
  virtual absl::Status RdmaConnectionsUp(const std::vector<std::string>& /*names*/,
                                         const nlohmann::json& /*config*/) {
    return absl::UnimplementedError("this program does not reconnect its RDMA queue pairs");
  }

  // The tables the control plane may change while the switch runs
  // (softfino-ctl table_add ...), or null when the program has none.
  virtual TableControl* table_control() { return nullptr; }
  // The registers and indexed counters the control plane may read, write
  // and clear by name (softfino-ctl register_read ...), valid after
  // Configure, or null when the program exposes none.
  virtual StatefulControl* stateful_control() { return nullptr; }
  static constexpr uint32_t kResubmitBytes = 128;
};

// An entry of the program registry.
struct ProgramDescriptor {
  absl::string_view name;
  absl::string_view summary;
  std::unique_ptr<Program> (*create)();
};

}  // namespace softfino::pipe
