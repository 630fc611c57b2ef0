// A burst of packets moving through the pipeline together, with the
// intrinsic metadata of each. Stages run over the whole burst in turn (as
// VPP does), which keeps code and table lines hot and lets lookups batch.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "softfino/pipe/intrinsic_metadata.h"

namespace softfino::pipe {

inline constexpr uint16_t kBurstSize = 32;

struct PacketBurst {
  uint16_t count = 0;
  rte_mbuf* pkts[kBurstSize];
  IngressMetadata md[kBurstSize];

  // Starts a burst of `n` packets just received on `port` at `tstamp_ns`.
  void Reset(uint16_t n, PortId port, uint64_t tstamp_ns) {
    count = n;
    for (uint16_t i = 0; i < n; ++i) {
      md[i] = IngressMetadata{};
      md[i].ig_intr_md.ingress_port = port;
      md[i].ig_intr_md.ingress_mac_tstamp = tstamp_ns;
    }
  }
};

}  // namespace softfino::pipe
