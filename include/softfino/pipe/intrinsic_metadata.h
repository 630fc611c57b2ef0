// Intrinsic metadata with TNA's names, so a P4 programmer finds the fields
// where a Tofino would put them. Only the fields this model acts on exist;
// each is set by the stage that owns it on hardware.
#pragma once

#include <cstdint>

#include "softfino/pipe/drop_reason.h"

namespace softfino::pipe {

using PortId = uint16_t;
inline constexpr PortId kInvalidPort = 0xffff;

// Each pipe's recirculation port, numbered as on Tofino-1 (68 in pipe 0,
// 196 in pipe 1, ...): a packet sent there (from any pipe's ingress) goes
// through the TM and egress of that port and comes back into that port's
// pipe's ingress with it as ingress_port.
constexpr PortId RecirculationPort(uint16_t pipe) { return static_cast<PortId>(68 + 128 * pipe); }
constexpr bool IsRecirculationPort(PortId port) { return port >= 68 && port % 128 == 68; }
// The pipe whose recirculation port `port` is (IsRecirculationPort).
constexpr uint16_t PipeOfRecirculationPort(PortId port) {
  return static_cast<uint16_t>((port - 68) / 128);
}

// ingress_intrinsic_metadata_t: set by the port (MAC) before the parser.
struct IngressIntrinsicMetadata {
  PortId ingress_port = 0;
  uint8_t resubmit_flag = 0;  // 1 on a resubmitted packet's second pass
  uint64_t ingress_mac_tstamp = 0;  // ns
  uint16_t pipe = 0;  // softfino's: the pipe running it (Tofino programs know from the port)
};

// ingress_intrinsic_metadata_for_tm_t: where the traffic manager sends it.
// A packet may go to a unicast port, to a multicast group (one copy per
// member port, each with the member's rid), or both; neither drops it.
struct IngressIntrinsicMetadataForTm {
  PortId ucast_egress_port = kInvalidPort;
  uint8_t qid = 0;
  uint16_t mcast_grp_a = 0;  // 0: no multicast
};

using MirrorSessionId = uint16_t;
inline constexpr uint8_t kMirrorHeaderMaxBytes = 8;

// ingress_intrinsic_metadata_for_deparser_t. On Tofino drop_ctl is a bit
// mask; here any nonzero value drops. drop_reason is softfino's addition: the
// counter the drop is charged to. mirror_type != 0 sends a copy of the packet
// (as ingress left it) to mirror session `mirror_session`, which a Tofino
// program names in Mirror.emit(); the copy is made even if the packet drops.
//
// resubmit_type != 0 sends the packet, as it arrived (ingress's changes
// undone), through ingress once more with resubmit_flag set; a program that
// does so must say so (Program::UsesResubmit) so the pipe keeps the original
// headers. A second resubmit of the same packet is dropped (resubmit_loop).
struct IngressIntrinsicMetadataForDeparser {
  uint8_t drop_ctl = 0;
  DropReason drop_reason = DropReason::kNone;
  uint8_t mirror_type = 0;
  MirrorSessionId mirror_session = 0;
  uint8_t resubmit_type = 0;
  // TNA's Mirror.emit(session, hdr): a header of up to 8 bytes put in front
  // of the mirror copy (not the original), so its egress learns what
  // ingress knew (e.g. which sequence number is missing).
  uint8_t mirror_header_len = 0;
  uint8_t mirror_header[kMirrorHeaderMaxBytes] = {};
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
//
// instance_type and mirror_session are softfino's: what a Tofino program
// learns from its own bridged or mirror header, given here directly.
enum class InstanceType : uint8_t { kNormal, kIngressMirror, kEgressMirror };

struct EgressIntrinsicMetadata {
  PortId egress_port = 0;
  uint8_t egress_qid = 0;
  uint16_t pkt_length = 0;
  uint16_t egress_rid = 0;  // the multicast member's replication id
  uint32_t enq_qdepth = 0;
  uint32_t enq_tstamp = 0;
  uint32_t deq_qdepth = 0;
  uint32_t deq_timedelta = 0;
  InstanceType instance_type = InstanceType::kNormal;
  MirrorSessionId mirror_session = 0;  // for mirror copies
};

// How much of EgressIntrinsicMetadata a program's egress reads; the traffic
// manager fills in only that, as a P4 compiler allocates no PHV to metadata
// nothing reads (Program::EgressMetadataRead).
enum class EgressMetadataUse : uint8_t {
  kNone,      // none: only the packets and the deparser metadata
  kIdentity,  // what the packet is: egress_port, egress_qid, pkt_length,
              // egress_rid, instance_type, mirror_session
  kAll,       // that and its queueing: enq_qdepth, enq_tstamp, deq_qdepth,
              // deq_timedelta
};

// egress_intrinsic_metadata_for_deparser_t. mirror_type != 0: an
// egress-to-egress copy (as egress left it) goes to `mirror_session`.
struct EgressIntrinsicMetadataForDeparser {
  uint8_t drop_ctl = 0;
  DropReason drop_reason = DropReason::kNone;
  uint8_t mirror_type = 0;
  MirrorSessionId mirror_session = 0;
  // As the ingress one: put in front of the egress-to-egress copy only.
  uint8_t mirror_header_len = 0;
  uint8_t mirror_header[kMirrorHeaderMaxBytes] = {};
};

}  // namespace softfino::pipe
