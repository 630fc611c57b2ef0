// The switch's event hub on the slow path: drains the program's events
// (Program::DrainEvents, e.g. Trumpet's fired triggers) every tick, numbers
// them, appends them to a JSON-lines file when asked (--events FILE), and
// keeps the latest ones for subscribers, who read them with the `events`
// command from a cursor (softfino-ctl events follow=true streams them).
// A subscriber never holds the slow path up: it asks, gets what is there,
// and asks again; one that falls behind the backlog is told how many it
// missed.
#pragma once

#include <cstdint>
#include <deque>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/control/command_registry.h"
#include "softfino/pipe/program.h"

namespace softfino::control {

struct EventManagerOptions {
  std::string file;        // JSON lines; empty: none
  size_t backlog = 65536;  // events kept for subscribers
};

class EventManager {
 public:
  static absl::StatusOr<std::unique_ptr<EventManager>> Create(pipe::Program& program,
                                                              EventManagerOptions options);
  // Takes whatever the program has now.
  void Poll();
  absl::Status RegisterCommands(CommandRegistry& registry);
  uint64_t total() const { return next_seq_; }

 private:
  EventManager(pipe::Program& program, EventManagerOptions options)
      : program_(program), options_(std::move(options)) {}
  absl::StatusOr<nlohmann::json> Read(const nlohmann::json& args) const;

  pipe::Program& program_;
  EventManagerOptions options_;
  std::ofstream file_;
  std::deque<nlohmann::json> backlog_;  // seq next_seq_ - size .. next_seq_ - 1
  uint64_t next_seq_ = 0;
};

}  // namespace softfino::control
