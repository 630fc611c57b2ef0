// BurstRadar's egress stage, as any program can host it (the burstradar
// program forwards by port around it; l3fwd hosts it behind its routes).
//
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
// entry in the pipe that wrote it, so a watched port's couriers go to a
// monitor port of its own pipe: with several pipes, "monitor_port" lists one
// per pipe that has watched ports (one pipe: one port, always).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "softfino/net/address.h"
#include "softfino/pipe/counter.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

class BurstRadarStage {
 public:
  static constexpr uint16_t kCourierUdpPort = 9393;
  // The fields of the "burstradar" config section the stage reads.
  static constexpr const char* kFields[] = {"watch",        "threshold_bytes",
                                            "threshold_rtt_fraction", "rtt_us",
                                            "ring_entries", "monitor_port",
                                            "mirror_session", "courier"};

  // A ring entry, and the courier's payload (network order on the wire).
  struct Entry {
    uint32_t seq = 0;  // marks so far in this pipe; the entry's slot is seq % ring size
    uint32_t src_ip = 0, dst_ip = 0;
    uint16_t src_port = 0, dst_port = 0;
    uint8_t proto = 0;
    uint16_t egress_port = 0;
    uint32_t enq_tstamp = 0, deq_tstamp = 0;  // ns, wrap at 32 bits
    uint32_t enq_qdepth = 0, deq_qdepth = 0;  // cells
    uint16_t pkt_length = 0;
  };

  BurstRadarStage();
  ~BurstRadarStage();

  // Reads the section's stage fields (the host checks for others). Ports
  // watched by default, when the section has no "watch": `default_watched`,
  // or every port but the monitor when that is empty.
  absl::Status Configure(const nlohmann::json& section, const pipe::SwitchInfo& info,
                         std::vector<bool> default_watched);
  bool enabled() const { return !rings_.empty(); }

  // Snapshots watched ports' packets and turns mirror copies into couriers.
  void Egress(pipe::EgressBurst& burst) const;
  // The courier mirror sessions (one per monitor port), for the host's
  // Replication().
  const std::vector<pipe::ProgramReplication::MirrorSession>& MirrorSessions() const {
    return monitors_;
  }
  nlohmann::json Counters() const;
  // Its tables and registers, from `first_stage` on.
  std::vector<pipe::ResourceUse> Resources(uint8_t first_stage) const;

 private:
  struct alignas(64) PipeRing {
    std::unique_ptr<Entry[]> entries;
    uint32_t next_seq = 0;
    uint64_t marked = 0, couriers = 0, overwritten = 0;
  };

  void Snapshot(rte_mbuf* m, const pipe::EgressIntrinsicMetadata& eg,
                pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  void Courier(rte_mbuf* m, const pipe::EgressIntrinsicMetadata& eg,
               pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;

  std::vector<uint32_t> threshold_cells_;   // by egress port; 0: not watched
  std::unique_ptr<uint32_t[]> remaining_cells_;  // by egress port (its owner pipe's)
  uint16_t pipe_count_ = 1;
  // "monitor_port": one port, or one per pipe with watched ports; a pipe's
  // couriers go through the mirror session of its own monitor port.
  std::vector<pipe::ProgramReplication::MirrorSession> monitors_;  // port, session, truncation
  std::vector<pipe::MirrorSessionId> session_of_pipe_;  // 0: the pipe has none
  uint32_t ring_entries_ = 1000;
  net::MacAddress courier_src_mac_{}, courier_dst_mac_{};
  uint32_t courier_src_ip_ = 0, courier_dst_ip_ = 0;
  // Per pipe; mutable from egress as registers are, each pipe its own.
  std::vector<std::unique_ptr<PipeRing>> rings_;
  // Per egress port, written only by the pipe that owns the port (its
  // egress): a Counter, not an atomic add, which took 11% of BurstRadar's
  // cycles (a locked instruction per packet).
  std::unique_ptr<pipe::Counter[]> packets_seen_;
};

}  // namespace softfino::pipelines
