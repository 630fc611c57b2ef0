// Traffic for Trumpet's triggers: background TCP/UDP flows, plus the events
// triggers are written to catch, planted at known times: volume surges to a
// host, TCP loss episodes (retransmitted segments), and trains of bursts.
// softfino-gen trumpet writes it. Timestamps are whole microseconds (what a
// pcap replay delivers) at least min_gap_us apart, so a 10G port never
// delays one behind another and arrival times equal the pcap's.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "softfino/gen/flow_workload.h"

namespace softfino::gen {

struct TrumpetWorkloadConfig {
  uint32_t flows = 200;          // background flows (90% TCP)
  uint64_t packets = 20000;      // background packets
  uint64_t duration_us = 200000;
  uint32_t surges = 3;           // hosts that get a surge of 1500-byte packets
  uint32_t surge_packets = 300;  // per surge, within 5 ms
  uint32_t loss_flows = 8;       // TCP flows with a loss episode
  uint32_t burst_flows = 16;     // flows that send trains of back-to-back packets
  uint32_t min_gap_us = 2;
  uint64_t start_us = 1'000'000;  // time of the first slot
  uint64_t seed = 1;
};

struct TrumpetWorkload {
  std::vector<Flow> flows;
  std::vector<std::vector<uint8_t>> frames;  // in time order
  std::vector<uint64_t> timestamps_ns;
  std::vector<uint32_t> flow_of_frame;
};

absl::StatusOr<TrumpetWorkload> MakeTrumpetWorkload(const TrumpetWorkloadConfig& config);

// Many triggers for benchmarks: `count` triggers over `flows`' destination
// hosts such that each flow matches `per_flow` of them (distinct filters,
// one tuple per prefix length used), in the text form.
std::vector<std::string> MakeBenchTriggers(uint32_t count, uint32_t per_flow, uint32_t interval_ms);

}  // namespace softfino::gen
