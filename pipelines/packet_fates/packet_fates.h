// packet_fates: every way a packet can leave the switch model, chosen per
// packet by its UDP destination port: unicast, multicast (replication with
// rids), ingress-to-egress mirroring (with truncation), egress-to-egress
// mirroring, recirculation, resubmit, and drop. Egress writes an 8-byte record of what happened into
// the UDP payload, so a capture shows each copy's fate. It is the reference
// for these features and their test; see README.md.
#pragma once

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

class PacketFates final : public pipe::Program {
 public:
  static constexpr uint32_t kRecordBytes = 8;

  static std::unique_ptr<pipe::Program> Create();

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;
  void Egress(pipe::EgressBurst& burst) const override;
  bool UsesResubmit() const override { return true; }
  bool UsesRecirculation() const override { return true; }

 private:
  enum class Action : uint8_t {
    kUnicast,
    kMulticast,
    kMirrorAndForward,
    kMirrorAndDrop,
    kRecirculateThen,  // first pass to the recirculation port, second to `port`
    kResubmitThen,     // first pass resubmits, second to `port`
    kDrop
  };
  struct Fate {
    Action action;
    pipe::PortId port;  // unicast / forward
    uint16_t group;     // multicast
    pipe::MirrorSessionId session;
  };

  // fate: exact on the UDP destination port. egress_mirror: exact on the
  // egress port, e2e-mirrors every normal packet leaving it.
  absl::flat_hash_map<uint16_t, Fate> fate_;
  absl::flat_hash_map<pipe::PortId, pipe::MirrorSessionId> egress_mirror_;
};

}  // namespace softfino::pipelines
