// l3fwd: an IPv4/IPv6 router. Parse Ethernet + IP, longest-prefix match on
// the destination to a next hop, rewrite MACs, decrement TTL / hop limit.
// See README.md for its tables and drop reasons, p4/l3fwd.p4 for hardware.
#pragma once

#include <memory>
#include <vector>

#include "softfino/net/address.h"
#include "softfino/pipe/lpm_table.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

class L3fwd final : public pipe::Program {
 public:
  static constexpr uint32_t kNexthopTableSize = 1024;
  static constexpr pipe::LpmTableSize kIpv4LpmSize{16384, 4096};
  static constexpr pipe::LpmTableSize kIpv6LpmSize{4096, 16384};

  static std::unique_ptr<pipe::Program> Create();

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;

 private:
  // Action data of the nexthop table's `forward` action.
  struct Nexthop {
    pipe::PortId port;
    net::MacAddress src_mac;
    net::MacAddress dst_mac;
  };

  // Route values index nexthops_ (dense), not the user's nexthop_id.
  std::vector<Nexthop> nexthops_;
  std::unique_ptr<pipe::Ipv4LpmTable> ipv4_lpm_;
  std::unique_ptr<pipe::Ipv6LpmTable> ipv6_lpm_;
};

}  // namespace softfino::pipelines
