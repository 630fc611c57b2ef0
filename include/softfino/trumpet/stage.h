// Trumpet as a stage any program can host (l3fwd does): one monitor per
// pipe on the packet path, the triggers and the event manager on the slow
// path. The host calls Observe from its ingress after parsing, and passes
// its Background, Finish, DrainEvents, Commands and Counters through.
//
// Config (the program's "trumpet" section):
//   {"triggers": ["NAME: filter ... group ... every 10ms when ...", ...],
//    "trigger_file": "triggers.txt",  // one per line, as trigger_parser.h
//    "epoch_us": 1000, "flows": 65536, "burst_gap_us": 100,
//    "idle_timeout_ms": 1000, "sweep_budget_us": 5, "admit_after": 1,
//    "event_ring": 65536}
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/parser.h"
#include "softfino/pipe/program.h"
#include "softfino/trumpet/event_combiner.h"
#include "softfino/trumpet/monitor.h"

namespace softfino::trumpet {

class Stage {
 public:
  // `section` may be null: the stage is then off and costs nothing.
  absl::Status Configure(const nlohmann::json& section, uint16_t pipe_count);
  bool enabled() const { return !monitors_.empty(); }

  // Packet path, after the host's parser: every packet of `burst` that is
  // not dropped and parsed as IPv4 joins its flow's statistics.
  void Observe(const pipe::PacketBurst& burst, const pipe::ParsedHeaders* headers) const;
  void Background(uint16_t pipe, uint64_t now_ns) const {
    if (enabled()) monitors_[pipe]->Background(now_ns);
  }
  void Finish(uint16_t pipe, uint64_t end_ns) const {
    if (enabled()) monitors_[pipe]->Finish(end_ns);
  }

  // Slow path.
  void DrainEvents(const std::function<void(nlohmann::json)>& emit);
  std::vector<pipe::ProgramCommand> Commands();
  nlohmann::json Counters() const;

  // The control path's trigger changes (also what Commands() runs).
  absl::StatusOr<nlohmann::json> AddTrigger(Trigger t);
  absl::StatusOr<nlohmann::json> DeleteTrigger(const std::string& name);
  nlohmann::json ListTriggers() const;

 private:
  absl::Status Publish(std::vector<Trigger> next);
  nlohmann::json EventJson(const Event& e) const;

  MonitorConfig config_;
  std::vector<std::unique_ptr<Monitor>> monitors_;  // by pipe
  std::vector<Trigger> triggers_;                   // the current set's, in order
  std::shared_ptr<const TriggerSet> set_;
  uint64_t generation_ = 0;
  uint32_t next_id_ = 1;
  // Every trigger ever installed, by id: events of a deleted trigger's last
  // intervals may still be on their way.
  absl::flat_hash_map<uint32_t, Trigger> by_id_;
  absl::flat_hash_map<uint32_t, bool> live_;
  std::unique_ptr<EventCombiner> combiner_;
  // DrainEvents' buffer: a local array of Events would be zeroed (their
  // default member initializers) on every call, 4.6 KB each poll.
  Event drain_batch_[64];
};

}  // namespace softfino::trumpet
