// The switch's RDMA connections, set up by the slow path before the program
// is configured (as a Tofino's switch CPU sets up DTA's and TEA's queue
// pairs): for each connection in the config's "rdma" section and each pipe,
// a queue pair is requested from the collector over the TCP/JSON handshake,
// and both ends' parameters are written back into the config, where the
// program finds them like any other table entry.
//
//   "rdma": {"connections": [
//     {"name": "collector", "collector": "10.0.0.2:18515", "region": "dta.keywrite",
//      "port": 1, "ip": "10.0.0.1"}            optional: "mac", "mtu", "timeout_ms"
//   ]}
// becomes, per connection, with one entry per pipe (each pipe has its own
// queue pair, as each Tofino pipe has its own registers):
//     "queue_pairs": [{"pipe": 0, "local": {hello}, "remote": {reply}}, ...]
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "softfino/net/address.h"

namespace softfino::control {

// The MAC of a switch port (from DPDK), for connections that give none.
using PortMacLookup = std::function<absl::StatusOr<net::MacAddress>(uint16_t port)>;

// Connects every connection of config["rdma"] (nothing when absent). Fails,
// naming the connection and what to fix, when an entry is malformed or a
// collector cannot be reached or refuses; nothing is half set up then, since
// the switch does not start.
absl::Status ConnectRdmaQueuePairs(nlohmann::json& config, uint16_t port_count,
                                   uint16_t pipe_count, const PortMacLookup& port_mac);

// One connection, config["rdma"]["connections"][index]: (re)requests its
// queue pairs, one per pipe, and (re)writes its "queue_pairs".
absl::Status ConnectRdmaConnection(nlohmann::json& connection, size_t index, uint16_t port_count,
                                   uint16_t pipe_count, const PortMacLookup& port_mac);

}  // namespace softfino::control
