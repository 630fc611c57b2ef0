#include "softfino/control/stats_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace softfino::control {

std::string FormatStatsText(absl::string_view pipeline, const dataplane::StatsSnapshot& stats,
                            const dataplane::Ports& ports) {
  std::string out = absl::StrFormat("softfino %s: %u pipe(s), %u port(s), %.3f s\n", pipeline,
                                    stats.pipes.size(), stats.ports.size(), stats.seconds);
  absl::StrAppendFormat(&out, "  %-4s %-24s %12s %14s %12s %14s %10s\n", "port", "device",
                        "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_missed");
  for (size_t p = 0; p < stats.ports.size(); ++p) {
    const auto& t = stats.ports[p];
    absl::StrAppendFormat(&out, "  %-4u %-24s %12u %14u %12u %14u %10u\n", p,
                          ports.name(static_cast<uint16_t>(p)).substr(0, 24), t.rx_packets,
                          t.rx_bytes, t.tx_packets, t.tx_bytes, t.rx_missed);
  }
  absl::StrAppendFormat(&out, "  %-4s %-6s %12s %12s %12s %12s\n", "pipe", "lcore", "rx_packets",
                        "tx_packets", "dropped", "busy_polls");
  for (size_t p = 0; p < stats.pipes.size(); ++p) {
    const auto& t = stats.pipes[p];
    absl::StrAppendFormat(&out, "  %-4u %-6u %12u %12u %12u %12u\n", p, t.lcore, t.rx_packets,
                          t.tx_packets, t.dropped, t.busy_polls);
  }
  absl::StrAppendFormat(&out, "  %-4s %-4s %12s %14s %10s %12s %12s\n", "port", "qid", "enqueued",
                        "enq_bytes", "tail_drops", "depth_cells", "watermark");
  for (const auto& q : stats.queues) {
    if (q.enqueued_packets == 0 && q.tail_drops == 0) continue;  // idle queues say nothing
    absl::StrAppendFormat(&out, "  %-4u %-4u %12u %14u %10u %12u %12u\n", q.port, q.qid,
                          q.enqueued_packets, q.enqueued_bytes, q.tail_drops, q.depth_cells,
                          q.watermark_cells);
  }
  absl::StrAppend(&out, "  drops by reason:", stats.dropped() == 0 ? " none\n" : "\n");
  for (size_t r = 0; r < pipe::kDropReasonCount; ++r) {
    if (stats.drops[r] == 0) continue;
    absl::StrAppendFormat(&out, "    %-26s %12u\n", pipe::kDropReasonNames[r], stats.drops[r]);
  }
  std::string copies =
      stats.copies() ? absl::StrFormat(" + %u copies", stats.copies()) : std::string();
  if (stats.generated()) absl::StrAppendFormat(&copies, " + %u generated", stats.generated());
  absl::StrAppendFormat(&out, "  total: %u received%s, %u forwarded, %u dropped\n",
                        stats.received(), copies, stats.forwarded(), stats.dropped());
  return out;
}

nlohmann::json StatsToJson(absl::string_view pipeline, const dataplane::StatsSnapshot& stats,
                           const dataplane::Ports& ports) {
  nlohmann::json j;
  j["pipeline"] = pipeline;
  j["seconds"] = stats.seconds;
  j["ports"] = nlohmann::json::array();
  for (size_t p = 0; p < stats.ports.size(); ++p) {
    const auto& t = stats.ports[p];
    j["ports"].push_back({{"port", p},
                          {"device", ports.name(static_cast<uint16_t>(p))},
                          {"rx_packets", t.rx_packets},
                          {"rx_bytes", t.rx_bytes},
                          {"tx_packets", t.tx_packets},
                          {"tx_bytes", t.tx_bytes},
                          {"rx_missed", t.rx_missed}});
  }
  j["pipes"] = nlohmann::json::array();
  for (size_t p = 0; p < stats.pipes.size(); ++p) {
    const auto& t = stats.pipes[p];
    j["pipes"].push_back({{"pipe", p},
                          {"lcore", t.lcore},
                          {"rx_packets", t.rx_packets},
                          {"tx_packets", t.tx_packets},
                          {"dropped", t.dropped},
                          {"polls", t.polls},
                          {"busy_polls", t.busy_polls},
                          {"idle_sleeps", t.idle_sleeps},
                          {"held_back", t.held_back},
                          {"copies", t.copies},
                          {"generated", t.generated},
                          {"recirculated", t.recirculated},
                          {"resubmitted", t.resubmitted}});
  }
  if (stats.cores_max != 0) {
    j["cores"] = {{"active", stats.cores_active},
                  {"max", stats.cores_max},
                  {"grown", stats.cores_grown},
                  {"shrunk", stats.cores_shrunk}};
  }
  j["queues"] = nlohmann::json::array();
  for (const auto& q : stats.queues) {
    j["queues"].push_back({{"port", q.port},
                           {"qid", q.qid},
                           {"enqueued_packets", q.enqueued_packets},
                           {"enqueued_bytes", q.enqueued_bytes},
                           {"tail_drops", q.tail_drops},
                           {"depth_cells", q.depth_cells},
                           {"watermark_cells", q.watermark_cells}});
  }
  j["drops"] = nlohmann::json::object();
  for (size_t r = 1; r < pipe::kDropReasonCount; ++r) {
    j["drops"][std::string(pipe::kDropReasonNames[r])] = stats.drops[r];
  }
  j["totals"] = {{"received", stats.received()},
                 {"copies", stats.copies()},
                 {"generated", stats.generated()},
                 {"forwarded", stats.forwarded()},
                 {"dropped", stats.dropped()}};
  return j;
}

}  // namespace softfino::control
