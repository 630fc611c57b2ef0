#include "softfino/control/event_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace softfino::control {

using nlohmann::json;

absl::StatusOr<std::unique_ptr<EventManager>> EventManager::Create(pipe::Program& program,
                                                                   EventManagerOptions options) {
  std::unique_ptr<EventManager> m(new EventManager(program, std::move(options)));
  if (!m->options_.file.empty()) {
    m->file_.open(m->options_.file, std::ios::out | std::ios::trunc);
    if (!m->file_) {
      return absl::InvalidArgumentError(
          absl::StrCat("--events ", m->options_.file, ": cannot open it for writing"));
    }
  }
  return m;
}

void EventManager::Poll() {
  bool wrote = false;
  program_.DrainEvents([&](json e) {
    e["seq"] = next_seq_++;
    if (file_.is_open()) {
      file_ << e.dump() << '\n';
      wrote = true;
    }
    backlog_.push_back(std::move(e));
    if (backlog_.size() > options_.backlog) backlog_.pop_front();
  });
  if (wrote) file_.flush();
}

absl::StatusOr<json> EventManager::Read(const json& args) const {
  if (auto s = CheckArgNames("events", args, {"since", "max"}); !s.ok()) return s;
  uint64_t since = 0, max = 1000;
  for (const auto& [key, out] : {std::pair<const char*, uint64_t*>{"since", &since}, {"max", &max}}) {
    if (!args.contains(key)) continue;
    if (!args[key].is_number_unsigned()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": expected a whole number >= 0"));
    }
    *out = args[key].get<uint64_t>();
  }
  const uint64_t oldest = next_seq_ - backlog_.size();
  const uint64_t from = std::max(since, oldest);
  json events = json::array();
  for (uint64_t s = from; s < next_seq_ && events.size() < max; ++s) {
    events.push_back(backlog_[s - oldest]);
  }
  const uint64_t next = from + events.size();
  return json{{"events", std::move(events)},
              {"next", next},
              {"missed", from - std::min(since, from)}};
}

absl::Status EventManager::RegisterCommands(CommandRegistry& registry) {
  return registry.Register(
      "events",
      "Events from the program (e.g. Trumpet triggers that fired), oldest first: "
      "{\"since\": SEQ, \"max\": N}. Returns {\"events\": [...], \"next\": the since of the "
      "next call, \"missed\": events that left the backlog before you asked}.",
      [this](const json& args) { return Read(args); });
}

}  // namespace softfino::control
