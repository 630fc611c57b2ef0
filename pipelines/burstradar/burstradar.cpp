#include "pipelines/burstradar/burstradar.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace softfino::pipelines {

using pipe::DropReason;

std::unique_ptr<pipe::Program> BurstRadar::Create() { return std::make_unique<BurstRadar>(); }

absl::Status BurstRadar::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (!config.is_object() || !config.contains("burstradar") || !config["burstradar"].is_object()) {
    return absl::InvalidArgumentError(
        "the config needs a \"burstradar\" section (see pipelines/burstradar/README.md)");
  }
  const nlohmann::json& b = config["burstradar"];
  for (const auto& [key, value] : b.items()) {
    // Init-capture: clang before 16 cannot capture a structured binding.
    if (key != "forward" &&
        std::find_if(std::begin(BurstRadarStage::kFields), std::end(BurstRadarStage::kFields),
                     [&name = key](const char* f) { return name == f; }) ==
            std::end(BurstRadarStage::kFields)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "burstradar: unknown field \"", key,
          "\"; it has forward, watch, threshold_bytes, threshold_rtt_fraction, rtt_us, "
          "ring_entries, monitor_port, mirror_session, courier"));
    }
  }
  forward_.assign(info.port_count, pipe::kInvalidPort);
  if (!b.contains("forward") || !b["forward"].is_array()) {
    return absl::InvalidArgumentError(
        "burstradar.forward: expected a list of {\"in\": PORT, \"out\": PORT}");
  }
  // Watched by default: every port traffic is forwarded to.
  std::vector<bool> watched(info.port_count, false);
  for (const auto& f : b["forward"]) {
    for (const char* end : {"in", "out"}) {
      if (!f.is_object() || !f.contains(end) || !f[end].is_number_unsigned() ||
          f[end].get<uint64_t>() >= info.port_count) {
        return absl::InvalidArgumentError(absl::StrCat(
            "burstradar.forward: ", f.dump(), " needs \"", end, "\": a port 0..",
            info.port_count - 1));
      }
    }
    forward_[f["in"].get<uint64_t>()] = static_cast<pipe::PortId>(f["out"].get<uint64_t>());
    watched[f["out"].get<uint64_t>()] = true;
  }
  return stage_.Configure(b, info, std::move(watched));
}

pipe::ProgramReplication BurstRadar::Replication() const {
  pipe::ProgramReplication r;
  r.mirror_sessions = stage_.MirrorSessions();
  return r;
}

void BurstRadar::Ingress(pipe::PacketBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    pipe::IngressMetadata& md = burst.md[i];
    const pipe::PortId in = md.ig_intr_md.ingress_port;
    const pipe::PortId out = in < forward_.size() ? forward_[in] : pipe::kInvalidPort;
    if (out == pipe::kInvalidPort) {
      md.Drop(DropReason::kNoRoute);
    } else {
      md.ig_intr_md_for_tm.ucast_egress_port = out;
    }
  }
}

std::vector<pipe::ResourceUse> BurstRadar::Resources() const {
  std::vector<pipe::ResourceUse> uses = {
      {"forward", pipe::ResourceKind::kExactTable, 0, 512, 9, 9}};
  for (const pipe::ResourceUse& u : stage_.Resources(1)) uses.push_back(u);
  return uses;
}

}  // namespace softfino::pipelines
