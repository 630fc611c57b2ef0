// Events from another switch (softfino --events-from NAME=SOCKET): the event
// manager follows the other switch's `events` command over its control
// socket, the way `softfino-ctl events follow=true` does, and merges what it
// gets into its own stream, each event tagged with the switch's name. One
// event manager then serves, files and exports the events of a whole
// testbed.
//
// Slow path, never blocking: a non-blocking UNIX socket and a small state
// machine advanced once per tick (connect, ask from the cursor, read the
// answer as it comes). A switch that is not there (yet), or goes away, is
// retried every second; each outage is logged once and counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace softfino::control {

class RemoteEventSource {
 public:
  using Clock = std::chrono::steady_clock;

  // "NAME=SOCKET_PATH"; the error says what is wrong.
  static absl::StatusOr<RemoteEventSource> Parse(absl::string_view spec);
  RemoteEventSource(RemoteEventSource&& other) noexcept;
  RemoteEventSource& operator=(RemoteEventSource&&) = delete;
  ~RemoteEventSource();

  // Advances the exchange; hands each new event to `emit` with "switch":
  // the name and "switch_seq": its number on that switch.
  void Poll(Clock::time_point now, const std::function<void(nlohmann::json)>& emit);
  nlohmann::json Status() const;
  const std::string& name() const { return name_; }

 private:
  RemoteEventSource(std::string name, std::string path)
      : name_(std::move(name)), path_(std::move(path)) {}
  void Connect(Clock::time_point now);
  void Disconnect(Clock::time_point now, absl::string_view why);
  // One answer line: its events, or why it is not usable.
  void Answer(const std::string& line, const std::function<void(nlohmann::json)>& emit,
              Clock::time_point now);

  static constexpr uint64_t kMaxPerAsk = 500;
  static constexpr size_t kMaxAnswerBytes = 16 << 20;

  std::string name_, path_;
  int fd_ = -1;
  bool asked_ = false;  // an answer is due
  std::string out_;     // request bytes not yet written
  std::string in_;      // answer bytes so far
  uint64_t since_ = 0;  // the other switch's next event number
  Clock::time_point next_try_{}, next_ask_{};
  bool down_logged_ = false;
  struct {
    uint64_t events = 0, missed = 0, connects = 0, outages = 0, restarts = 0, errors = 0;
  } counts_;
  std::string last_error_;
};

}  // namespace softfino::control
