#include "softfino/control/command_registry.h"

#include <exception>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::control {
namespace {

bool ValidName(absl::string_view name) {
  if (name.empty() || !absl::ascii_islower(name.front())) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '.') return false;
  }
  return true;
}

nlohmann::json ErrorReply(const nlohmann::json& id, absl::string_view message) {
  return {{"id", id}, {"ok", false}, {"error", std::string(message)}};
}

}  // namespace

CommandRegistry::CommandRegistry() {
  commands_.emplace("help",
                    Command{"List the commands with their help; {\"command\": NAME} shows one.",
                            [this](const nlohmann::json& args) { return Help(args); }});
}

absl::Status CommandRegistry::Register(absl::string_view name, absl::string_view help,
                                       Handler handler) {
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("command name '", name,
                     "' is not valid: use lowercase letters, digits, '_' and '.', starting with "
                     "a letter"));
  }
  if (handler == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("command '", name, "' has no handler"));
  }
  if (commands_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("command '", name, "' is registered twice"));
  }
  commands_.emplace(std::string(name), Command{std::string(help), std::move(handler)});
  return absl::OkStatus();
}

std::vector<std::string> CommandRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(commands_.size());
  for (const auto& [name, command] : commands_) names.push_back(name);
  return names;
}

absl::StatusOr<nlohmann::json> CommandRegistry::Call(absl::string_view name,
                                                     const nlohmann::json& args) const {
  const auto it = commands_.find(name);
  if (it == commands_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown command '", name,
                                            "'; known commands: ", absl::StrJoin(Names(), ", ")));
  }
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& checked_args = args.is_null() ? empty : args;
  if (!checked_args.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the args of '", name, "' must be a JSON object, e.g. {\"port\": 0}; got ",
                     checked_args.type_name()));
  }
  // nlohmann::json reports misuse by throwing; a handler's slip must cost one
  // request, not the switch.
  try {
    return it->second.handler(checked_args);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("command '", name, "' failed: ", e.what()));
  }
}

nlohmann::json CommandRegistry::Dispatch(const nlohmann::json& request) const {
  if (!request.is_object()) {
    return ErrorReply(nullptr, absl::StrCat("a request is a JSON object such as "
                                            "{\"id\": 1, \"cmd\": \"help\"}; got ",
                                            request.type_name()));
  }
  const auto id_it = request.find("id");
  const nlohmann::json id = id_it == request.end() ? nlohmann::json(nullptr) : *id_it;
  for (const auto& [key, value] : request.items()) {
    if (key != "id" && key != "cmd" && key != "args") {
      return ErrorReply(id, absl::StrCat("unknown request field '", key,
                                         "'; a request has \"id\", \"cmd\" and \"args\""));
    }
  }
  const auto cmd = request.find("cmd");
  if (cmd == request.end()) {
    return ErrorReply(id,
                      "the request has no \"cmd\"; send {\"id\": 1, \"cmd\": \"help\"} to "
                      "list the commands");
  }
  if (!cmd->is_string()) {
    return ErrorReply(id, absl::StrCat("\"cmd\" must be a string naming a command, e.g. "
                                       "\"help\"; got ",
                                       cmd->type_name()));
  }
  const auto args = request.find("args");
  absl::StatusOr<nlohmann::json> result =
      Call(cmd->get_ref<const std::string&>(), args == request.end() ? nlohmann::json() : *args);
  if (!result.ok()) return ErrorReply(id, result.status().message());
  return {{"id", id}, {"ok", true}, {"result", *std::move(result)}};
}

absl::StatusOr<nlohmann::json> CommandRegistry::Help(const nlohmann::json& args) const {
  if (absl::Status s = CheckArgNames("help", args, {"command"}); !s.ok()) return s;
  nlohmann::json out = nlohmann::json::object();
  const auto wanted = args.find("command");
  if (wanted != args.end()) {
    const auto it = wanted->is_string() ? commands_.find(wanted->get_ref<const std::string&>())
                                        : commands_.end();
    if (it == commands_.end()) {
      return absl::NotFoundError(absl::StrCat("help: no command ", wanted->dump(),
                                              "; known commands: ", absl::StrJoin(Names(), ", ")));
    }
    out[it->first] = it->second.help;
    return out;
  }
  for (const auto& [name, command] : commands_) out[name] = command.help;
  return out;
}

absl::Status CheckArgNames(absl::string_view command, const nlohmann::json& args,
                           std::initializer_list<absl::string_view> allowed) {
  for (const auto& [key, value] : args.items()) {
    bool known = false;
    for (absl::string_view a : allowed) known = known || a == key;
    if (known) continue;
    if (allowed.size() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown argument '", key, "': ", command, " takes no arguments"));
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown argument '", key, "': ", command,
                                                   " takes ", absl::StrJoin(allowed, ", ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> OptionalIndexArg(const nlohmann::json& args, absl::string_view key,
                                         absl::string_view what, size_t count) {
  const auto it = args.find(std::string(key));
  if (it == args.end()) return -1;
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" must be a ", what,
                                                   " number (an integer), e.g. {\"", key,
                                                   "\": 0}; got ", it->dump()));
  }
  const int64_t value = it->get<int64_t>();
  if (value < 0 || static_cast<uint64_t>(value) >= count) {
    return absl::OutOfRangeError(
        absl::StrCat(what, " ", it->dump(), " does not exist; this switch has ", count, " ", what,
                     "(s)", count == 0 ? "" : absl::StrCat(", 0..", count - 1)));
  }
  return value;
}

}  // namespace softfino::control
