// The `pktgen` section of the config file: the packet generator's timer
// applications, the same in every pipe (as one bfrt app entry per pipe).
//   "pktgen": [{"app": 0, "period_us": 100, "batches": 1, "packets_per_batch": 1,
//               "packet_len": 64}]
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/pipe/pktgen.h"

namespace softfino::control {

absl::StatusOr<std::vector<pipe::PktgenApp>> ParsePktgenConfig(const nlohmann::json& config);

}  // namespace softfino::control
