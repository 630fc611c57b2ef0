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
  // Every packet's metadata is a copy of the first's (a few wide stores
  // each), not cleared and then set field by field. (Copied from a local,
  // GCC rebuilt the local on the stack for every packet.)
  void Reset(uint16_t n, PortId port, uint64_t tstamp_ns, uint16_t pipe = 0) {
    count = n;
    if (n == 0) return;
    md[0] = IngressMetadata{};
    md[0].ig_intr_md.ingress_port = port;
    md[0].ig_intr_md.ingress_mac_tstamp = tstamp_ns;
    md[0].ig_intr_md.pipe = pipe;
    for (uint16_t i = 1; i < n; ++i) md[i] = md[0];
  }

  // Appends one packet received on `port` at `tstamp_ns`.
  void Append(rte_mbuf* pkt, PortId port, uint64_t tstamp_ns, uint16_t pipe = 0) {
    pkts[count] = pkt;
    md[count] = IngressMetadata{};
    md[count].ig_intr_md.ingress_port = port;
    md[count].ig_intr_md.ingress_mac_tstamp = tstamp_ns;
    md[count].ig_intr_md.pipe = pipe;
    ++count;
  }
};

// A burst of packets leaving the traffic manager for one egress port, with
// the metadata the TM gave each, for the egress pipeline.
struct EgressBurst {
  uint16_t count = 0;
  rte_mbuf* pkts[kBurstSize];
  EgressIntrinsicMetadata eg_intr_md[kBurstSize];
  EgressIntrinsicMetadataForDeparser eg_intr_md_for_dprsr[kBurstSize];
};

}  // namespace softfino::pipe
