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
  if (!m->options_.dta_export.empty()) {
    auto export_options = ParseDtaEventExport(m->options_.dta_export);
    if (!export_options.ok()) return export_options.status();
    auto exporter = DtaEventExporter::Create(*export_options);
    if (!exporter.ok()) return exporter.status();
    m->exporter_ = *std::move(exporter);
  }
  for (const std::string& spec : m->options_.sources) {
    auto source = RemoteEventSource::Parse(spec);
    if (!source.ok()) return source.status();
    for (const RemoteEventSource& other : m->sources_) {
      if (other.name() == source->name()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--events-from ", spec, ": the name ", other.name(), " is used twice"));
      }
    }
    m->sources_.push_back(*std::move(source));
  }
  return m;
}

void EventManager::Record(json e) {
  e["seq"] = next_seq_++;
  if (file_.is_open()) file_ << e.dump() << '\n';
  if (exporter_) exporter_->Add(e);
  backlog_.push_back(std::move(e));
  if (backlog_.size() > options_.backlog) backlog_.pop_front();
}

void EventManager::Poll() {
  const uint64_t before = next_seq_;
  program_.DrainEvents([&](json e) { Record(std::move(e)); });
  const auto now = RemoteEventSource::Clock::now();
  for (RemoteEventSource& source : sources_) {
    source.Poll(now, [&](json e) { Record(std::move(e)); });
  }
  if (next_seq_ != before && file_.is_open()) file_.flush();
  if (exporter_) exporter_->Send(now);
}

void EventManager::Flush(std::chrono::milliseconds limit) {
  if (exporter_) exporter_->Drain(limit);
}

json EventManager::Status() const {
  json sources = json::array();
  for (const RemoteEventSource& s : sources_) sources.push_back(s.Status());
  json status{{"events", next_seq_}, {"backlog", backlog_.size()}, {"sources", std::move(sources)}};
  if (exporter_) status["dta_export"] = exporter_->Counters();
  return status;
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
              {"missed", from - std::min(since, from)},
              {"total", next_seq_}};
}

absl::Status EventManager::RegisterCommands(CommandRegistry& registry) {
  if (absl::Status s = registry.Register(
          "events_status",
          "The event manager: events so far, the other switches it gathers events from "
          "(--events-from: connected, events, outages) and the DTA export (--events-dta: "
          "events queued, reports sent, losses by reason).",
          [this](const json& args) -> absl::StatusOr<json> {
            if (auto s = CheckArgNames("events_status", args, {}); !s.ok()) return s;
            return Status();
          });
      !s.ok()) {
    return s;
  }
  return registry.Register(
      "events",
      "Events from the program (e.g. Trumpet triggers that fired), oldest first: "
      "{\"since\": SEQ, \"max\": N}. Returns {\"events\": [...], \"next\": the since of the "
      "next call, \"missed\": events that left the backlog before you asked, \"total\": "
      "events so far}. Events gathered from other switches carry \"switch\" and \"switch_seq\".",
      [this](const json& args) { return Read(args); });
}

}  // namespace softfino::control
