// A queue pair the switch's slow path set up with a collector
// (control/rdma_connections.h), as a program reads it from its config:
// both ends' parameters, and what follows from them for the packets the
// program sends.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/rdma/qp_params.h"
#include "softfino/rdma/roce_builder.h"

namespace softfino::rdma {

struct ConnectedQueuePair {
  uint16_t pipe = 0;
  uint16_t port = 0;  // the switch port towards the collector
  QpParams local;     // the switch's end: its QPN, first PSN, MAC, GID
  QpParams remote;    // the collector's: its QPN, rkey, iova, length, MTU

  // The addresses of the requests the switch sends on it.
  Endpoint RequestEndpoint() const;
};

// The queue pairs of connection `name` in `config` (one per pipe, in pipe
// order), or an error naming what is missing: a connection the config does
// not declare, or one the slow path has not connected.
absl::StatusOr<std::vector<ConnectedQueuePair>> FindConnection(const nlohmann::json& config,
                                                               absl::string_view name);

}  // namespace softfino::rdma
