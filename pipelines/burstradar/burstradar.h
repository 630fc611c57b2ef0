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

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "nlohmann/json.hpp"
#include "softfino/net/address.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

class BurstRadar final : public pipe::Program {
 public:
  static constexpr uint16_t kCourierUdpPort = 9393;

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

  static std::unique_ptr<pipe::Program> Create();
  ~BurstRadar() override;

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  void Egress(pipe::EgressBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;
  pipe::ProgramReplication Replication() const override;
  nlohmann::json Counters() const override;

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

  std::vector<pipe::PortId> forward_;       // by ingress port
  std::vector<uint32_t> threshold_cells_;   // by egress port; 0: not watched
  std::unique_ptr<uint32_t[]> remaining_cells_;  // by egress port (its owner pipe's)
  uint16_t pipe_count_ = 1;
  pipe::PortId monitor_port_ = 0;
  pipe::MirrorSessionId session_ = 0;
  uint32_t ring_entries_ = 1000;
  net::MacAddress courier_src_mac_{}, courier_dst_mac_{};
  uint32_t courier_src_ip_ = 0, courier_dst_ip_ = 0;
  // Per pipe; mutable from egress as registers are, each pipe its own.
  std::vector<std::unique_ptr<PipeRing>> rings_;
  std::unique_ptr<std::atomic<uint64_t>[]> packets_seen_;  // per egress port
};

}  // namespace softfino::pipelines
