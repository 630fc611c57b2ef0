// The `ports` section of the config file: each port's traffic manager.
//   "ports": [{"port": 2, "speed": "10G", "queues": 4, "queue_limit_cells": 2000}]
// Ports not listed get their link speed and the defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/tm/egress_port.h"

namespace softfino::control {

absl::StatusOr<std::vector<std::optional<tm::EgressPortConfig>>> ParsePortConfig(
    const nlohmann::json& config, uint16_t port_count);

}  // namespace softfino::control
