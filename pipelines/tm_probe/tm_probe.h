// tm_probe: forwards by ingress port (to a port and queue), and in egress
// writes the queueing metadata the traffic manager gave each packet into the
// first 24 bytes of its UDP payload, so a capture shows exactly what the TM
// did to every packet. Used to check the TM against an analytic model, and
// handy to see queueing on a live port. See README.md.
#pragma once

#include <array>
#include <memory>

#include "softfino/pipe/program.h"

namespace softfino::pipelines {

class TmProbe final : public pipe::Program {
 public:
  // The probe record, in network order, at the start of the UDP payload.
  static constexpr uint32_t kRecordBytes = 24;

  static std::unique_ptr<pipe::Program> Create();

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;
  void Egress(pipe::EgressBurst& burst) const override;

 private:
  struct Destination {
    bool valid = false;
    pipe::PortId port = 0;
    uint8_t qid = 0;
  };
  // The port_map table: exact match on the 9-bit ingress port, small enough
  // to be a direct-indexed array. Front-panel ports and each pipe's port 68
  // (recirculation and the packet generator's timer packets) are keys.
  static constexpr size_t kPortKeys = 512;
  std::array<Destination, kPortKeys> port_map_{};
};

}  // namespace softfino::pipelines
