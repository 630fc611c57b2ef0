// Intrinsic metadata with TNA's names, so a P4 programmer finds the fields
// where a Tofino would put them. Only the fields this model acts on exist;
// each is set by the stage that owns it on hardware.
#pragma once

#include <cstdint>

#include "softfino/pipe/drop_reason.h"

namespace softfino::pipe {

using PortId = uint16_t;
inline constexpr PortId kInvalidPort = 0xffff;

// ingress_intrinsic_metadata_t: set by the port (MAC) before the parser.
struct IngressIntrinsicMetadata {
  PortId ingress_port = 0;
  uint64_t ingress_mac_tstamp = 0;  // ns
};

// ingress_intrinsic_metadata_for_tm_t: where the traffic manager sends it.
struct IngressIntrinsicMetadataForTm {
  PortId ucast_egress_port = kInvalidPort;
  uint8_t qid = 0;
};

// ingress_intrinsic_metadata_for_deparser_t. On Tofino drop_ctl is a bit
// mask; here any nonzero value drops. drop_reason is softfino's addition: the
// counter the drop is charged to.
struct IngressIntrinsicMetadataForDeparser {
  uint8_t drop_ctl = 0;
  DropReason drop_reason = DropReason::kNone;
};

// Everything the ingress pipeline reads and writes for one packet.
struct IngressMetadata {
  IngressIntrinsicMetadata ig_intr_md;
  IngressIntrinsicMetadataForTm ig_intr_md_for_tm;
  IngressIntrinsicMetadataForDeparser ig_intr_md_for_dprsr;

  void Drop(DropReason reason) {
    ig_intr_md_for_dprsr.drop_ctl = 1;
    ig_intr_md_for_dprsr.drop_reason = reason;
  }
  bool dropped() const { return ig_intr_md_for_dprsr.drop_ctl != 0; }
};

// egress_intrinsic_metadata_t: filled by the traffic manager. Depths are in
// 80-byte cells and include the packet itself: enq_qdepth right after it
// joined its queue, deq_qdepth right before it left (so deq_qdepth minus its
// own cells is what waits behind it). Times are ns; enq_tstamp wraps at
// 32 bits as on Tofino.
struct EgressIntrinsicMetadata {
  PortId egress_port = 0;
  uint8_t egress_qid = 0;
  uint16_t pkt_length = 0;
  uint32_t enq_qdepth = 0;
  uint32_t enq_tstamp = 0;
  uint32_t deq_qdepth = 0;
  uint32_t deq_timedelta = 0;
};

// egress_intrinsic_metadata_for_deparser_t.
struct EgressIntrinsicMetadataForDeparser {
  uint8_t drop_ctl = 0;
  DropReason drop_reason = DropReason::kNone;
};

}  // namespace softfino::pipe
