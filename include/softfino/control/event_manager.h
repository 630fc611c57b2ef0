// The switch's event hub on the slow path: drains the program's events
// (Program::DrainEvents, e.g. Trumpet's fired triggers) every tick, numbers
// them, appends them to a JSON-lines file when asked (--events FILE), and
// keeps the latest ones for subscribers, who read them with the `events`
// command from a cursor (softfino-ctl events follow=true streams them).
// A subscriber never holds the slow path up: it asks, gets what is there,
// and asks again; one that falls behind the backlog is told how many it
// missed.
//
// It also gathers the events of other switches (--events-from, through their
// control sockets; remote_events.h) into the same stream, and sends every
// event, its own and gathered ones, to a DTA collector as Append reports
// when asked (--events-dta; dta_event_export.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/control/command_registry.h"
#include "softfino/control/dta_event_export.h"
#include "softfino/control/remote_events.h"
#include "softfino/pipe/program.h"

namespace softfino::control {

struct EventManagerOptions {
  std::string file;        // JSON lines; empty: none
  size_t backlog = 65536;  // events kept for subscribers
  std::string dta_export;  // --events-dta spec; empty: none
  std::vector<std::string> sources;  // --events-from NAME=SOCKET specs
};

class EventManager {
 public:
  static absl::StatusOr<std::unique_ptr<EventManager>> Create(pipe::Program& program,
                                                              EventManagerOptions options);
  // Takes whatever the program and the other switches have now, and sends
  // what the DTA export's rate allows.
  void Poll();
  // At exit: sends what the DTA export still holds (for at most `limit`).
  void Flush(std::chrono::milliseconds limit);
  absl::Status RegisterCommands(CommandRegistry& registry);
  uint64_t total() const { return next_seq_; }

 private:
  EventManager(pipe::Program& program, EventManagerOptions options)
      : program_(program), options_(std::move(options)) {}
  absl::StatusOr<nlohmann::json> Read(const nlohmann::json& args) const;
  nlohmann::json Status() const;
  void Record(nlohmann::json event);

  pipe::Program& program_;
  EventManagerOptions options_;
  std::ofstream file_;
  std::deque<nlohmann::json> backlog_;  // seq next_seq_ - size .. next_seq_ - 1
  uint64_t next_seq_ = 0;
  std::unique_ptr<DtaEventExporter> exporter_;
  std::vector<RemoteEventSource> sources_;
};

}  // namespace softfino::control
