// The commands the control socket answers, by name. Each layer registers its
// own (stats here; tables, registers, triggers later), so the socket code
// never learns what a command does.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace softfino::control {

class CommandRegistry {
 public:
  // `args` is always a JSON object (empty when the request had none). The
  // handler runs on the slow path: it must be quick and never block.
  using Handler = std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json& args)>;

  // Starts with `help`, which lists every command with its help text.
  CommandRegistry();
  CommandRegistry(const CommandRegistry&) = delete;
  CommandRegistry& operator=(const CommandRegistry&) = delete;

  // Names are lowercase words joined by '_' or '.' (e.g. "table.add");
  // registering a name twice is a programming error reported as AlreadyExists.
  absl::Status Register(absl::string_view name, absl::string_view help, Handler handler);

  // Runs one command. Unknown names fail with the list of known ones; a
  // handler that throws (e.g. a nlohmann::json type error) fails cleanly
  // instead of taking the switch down.
  absl::StatusOr<nlohmann::json> Call(absl::string_view name, const nlohmann::json& args) const;

  // One protocol request, already parsed from JSON: {"id", "cmd", "args"}.
  // Returns the reply {"id", "ok": true, "result"} or {"id", "ok": false,
  // "error"}; never fails, since every problem is the client's to read.
  nlohmann::json Dispatch(const nlohmann::json& request) const;

  std::vector<std::string> Names() const;

 private:
  struct Command {
    std::string help;
    Handler handler;
  };
  absl::StatusOr<nlohmann::json> Help(const nlohmann::json& args) const;

  std::map<std::string, Command, std::less<>> commands_;  // sorted, for `help`
};

// Registers a list of commands with one status check at the end: the first
// failure is kept and later registrations are skipped.
class Registrar {
 public:
  explicit Registrar(CommandRegistry& registry) : registry_(registry) {}
  void Add(absl::string_view name, absl::string_view help, CommandRegistry::Handler handler) {
    if (status_.ok()) status_ = registry_.Register(name, help, std::move(handler));
  }
  absl::Status status() const { return status_; }

 private:
  CommandRegistry& registry_;
  absl::Status status_;
};

// Fails unless every key of `args` is one of `allowed`, naming the command,
// the stray key and what it takes, so a typo is never silently ignored.
absl::Status CheckArgNames(absl::string_view command, const nlohmann::json& args,
                           std::initializer_list<absl::string_view> allowed);

// Reads optional argument `key` as an index below `count` (a port, a pipe, a
// qid). Returns -1 when absent. `what` names the thing in errors: "port 7
// does not exist; this switch has 3 port(s), 0..2".
absl::StatusOr<int64_t> OptionalIndexArg(const nlohmann::json& args, absl::string_view key,
                                         absl::string_view what, size_t count);

}  // namespace softfino::control
