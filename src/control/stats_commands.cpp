#include "softfino/control/stats_commands.h"

#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "softfino/control/stats_report.h"

namespace softfino::control {
namespace {

using nlohmann::json;

}  // namespace

absl::Status RegisterStatsCommands(CommandRegistry& registry, const dataplane::Switch& sw,
                                   absl::string_view pipeline_name, const pipe::Program* program) {
  const std::string pipeline(pipeline_name);
  // Every command answers from one snapshot in the same shapes as
  // --stats-json, so scripts can use either.
  auto stats = [&sw, pipeline] { return StatsToJson(pipeline, sw.Snapshot(), sw.ports()); };
  // `stats` is all of --stats-json, the program's own counters too (a
  // NAT's lookups, a firewall's learning): what a script polls while the
  // switch runs.
  auto all_stats = [stats, program] {
    json j = stats();
    if (program != nullptr) {
      if (json counters = program->Counters(); !counters.is_null()) j["program"] = std::move(counters);
    }
    return j;
  };
  Registrar r(registry);

  r.Add("info", "Pipeline, number of ports and pipes, clock mode (real/virtual), pid, uptime.",
        [&sw, pipeline](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("info", args, {}); !s.ok()) return s;
          return json{{"pipeline", pipeline},
                      {"ports", sw.port_count()},
                      {"pipes", sw.pipe_count()},
                      {"clock", sw.clock() == dataplane::ClockMode::kVirtual ? "virtual" : "real"},
                      {"pid", getpid()},
                      {"seconds", sw.Snapshot().seconds}};
        });

  r.Add("stats",
        "All counters: ports, pipes, queues, drops by reason, totals, the program's own (as "
        "--stats-json).",
        [all_stats](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("stats", args, {}); !s.ok()) return s;
          return all_stats();
        });

  r.Add("ports",
        "Per-port counters and traffic-manager settings (rate_bps, queues); {\"port\": N} for "
        "one port.",
        [&sw, stats](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("ports", args, {"port"}); !s.ok()) return s;
          auto port = OptionalIndexArg(args, "port", "port", sw.port_count());
          if (!port.ok()) return port.status();
          json ports = stats()["ports"];
          for (size_t p = 0; p < ports.size() && p < sw.port_tm().size(); ++p) {
            ports[p]["rate_bps"] = sw.port_tm()[p].rate_bps;
            ports[p]["queues"] = sw.port_tm()[p].queues;
          }
          if (*port >= 0) return ports[static_cast<size_t>(*port)];
          return ports;
        });

  r.Add("pipes", "Per-pipe counters (lcore, rx/tx packets, drops, polls); {\"pipe\": N} for one.",
        [&sw, stats](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("pipes", args, {"pipe"}); !s.ok()) return s;
          auto pipe = OptionalIndexArg(args, "pipe", "pipe", sw.pipe_count());
          if (!pipe.ok()) return pipe.status();
          json pipes = stats()["pipes"];
          if (*pipe >= 0) return pipes[static_cast<size_t>(*pipe)];
          return pipes;
        });

  r.Add("queues",
        "Traffic-manager queues: enqueued packets/bytes, tail drops, depth and watermark in "
        "80-byte cells; filter with {\"port\": N} and/or {\"qid\": Q}.",
        [&sw, stats](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("queues", args, {"port", "qid"}); !s.ok()) return s;
          auto port = OptionalIndexArg(args, "port", "port", sw.port_count());
          if (!port.ok()) return port.status();
          // The qid's range depends on the port asked about, or on the
          // widest port when none is.
          size_t queue_count = 0;
          for (size_t p = 0; p < sw.port_tm().size(); ++p) {
            if (*port < 0 || static_cast<size_t>(*port) == p) {
              queue_count = std::max<size_t>(queue_count, sw.port_tm()[p].queues);
            }
          }
          auto qid = OptionalIndexArg(args, "qid", "qid", queue_count);
          if (!qid.ok()) {
            if (!args.at("qid").is_number_integer()) return qid.status();
            return absl::OutOfRangeError(
                absl::StrCat("qid ", args.at("qid").dump(), " does not exist; ",
                             *port >= 0 ? absl::StrCat("port ", *port, " has ")
                                        : std::string("no port has more than "),
                             queue_count, " queue(s)",
                             queue_count == 0 ? "" : absl::StrCat(", 0..", queue_count - 1)));
          }
          json all = stats();
          json out = json::array();
          for (json& q : all["queues"]) {
            if (*port >= 0 && q["port"] != *port) continue;
            if (*qid >= 0 && q["qid"] != *qid) continue;
            out.push_back(std::move(q));
          }
          return out;
        });

  r.Add("drops", "Dropped packets by reason, summed over pipes.",
        [stats](const json& args) -> absl::StatusOr<json> {
          if (absl::Status s = CheckArgNames("drops", args, {}); !s.ok()) return s;
          return stats()["drops"];
        });
  return r.status();
}

}  // namespace softfino::control
