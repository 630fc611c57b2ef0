// burstradar: BurstRadar (APSys'18) microburst snapshots in the egress
// pipeline. Traffic is forwarded by ingress port; in the egress of every
// watched port, the snapshot algorithm marks the packets of a microburst:
//
//   per packet:  if deq_qdepth > threshold:  remaining = deq_qdepth - size; mark
//                elif remaining > 0:          remaining -= size;            mark
//
// with depths and sizes in 80-byte cells, as a Tofino reads them (so a
// burst's tail is over-marked a little, as on hardware). A marked packet
// writes its telemetry (5-tuple, enqueue and dequeue times, enqueue and
// dequeue depths) into a ring buffer and is cloned egress-to-egress, the
// clone carrying the entry's sequence number in its mirror header. The
// clone (the courier) goes to the monitor port; its egress reads the entry
// back and becomes a courier packet to the monitor. An entry overwritten
// before its courier read it (the ring wrapped while couriers queued for the
// monitor port) is counted, and its courier dropped.
//
// The ring is per pipe, as registers are on Tofino; a courier must find its
// entry in the pipe that wrote it, so the monitor port and the watched ports
// must share a pipe (one pipe: always).
#pragma once

#include <memory>
#include <vector>

#include "nlohmann/json.hpp"
#include "pipelines/burstradar/burstradar_stage.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

// The BurstRadar stage behind a forward-by-ingress-port table.
class BurstRadar final : public pipe::Program {
 public:
  static constexpr uint16_t kCourierUdpPort = BurstRadarStage::kCourierUdpPort;
  using Entry = BurstRadarStage::Entry;

  static std::unique_ptr<pipe::Program> Create();

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  void Egress(pipe::EgressBurst& burst) const override { stage_.Egress(burst); }
  std::vector<pipe::ResourceUse> Resources() const override;
  pipe::ProgramReplication Replication() const override;
  nlohmann::json Counters() const override { return stage_.Counters(); }

 private:
  std::vector<pipe::PortId> forward_;  // by ingress port
  BurstRadarStage stage_;
};

}  // namespace softfino::pipelines
