// Plain traffic: many IPv4 TCP/UDP flows whose popularity is uniform or
// Zipf, with a packet-size mix, as the workloads that drive the reporter
// (DTA), the NAT and firewall (TEA) and Trumpet's triggers need.
// softfino-gen flows writes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace softfino::gen {

struct FlowWorkloadConfig {
  uint32_t flows = 1000;
  uint64_t packets = 100000;
  double zipf = 0;             // 0: uniform; else the exponent (0.9, 0.99, ...)
  std::string sizes = "imix";  // "imix" (7:4:1 of 64, 570, 1514 bytes) or one size in bytes
  double rate_pps = 1e6;       // timestamps: evenly spaced at this rate
  uint64_t seed = 1;
};

struct Flow {
  uint32_t src_ip = 0, dst_ip = 0;  // host order
  uint16_t src_port = 0, dst_port = 0;
  uint8_t proto = 17;
};

struct FlowWorkload {
  std::vector<Flow> flows;
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint64_t> timestamps_ns;
  std::vector<uint32_t> flow_of_frame;  // index into flows
};

absl::StatusOr<FlowWorkload> MakeFlowWorkload(const FlowWorkloadConfig& config);

}  // namespace softfino::gen
