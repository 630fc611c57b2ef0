// The switch's ports: every DPDK ethdev found at start, numbered as DPDK
// numbers them. Each port gets one RX queue per pipe (up to what the device
// has), spread by RSS with a symmetric key so both directions of a flow land
// in the same pipe, and one TX queue per pipe so no pipe ever shares one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct rte_mempool;

namespace softfino::dataplane {

struct RxQueueRef {
  uint16_t port;
  uint16_t queue;
};

struct PortOptions {
  uint16_t pipes = 1;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  bool promiscuous = true;
};

// The number of ports the switch will have, checking that DPDK numbered them
// 0..n-1. Fails when there are none.
absl::StatusOr<uint16_t> CountPorts();

class Ports {
 public:
  // Configures and starts every port.
  static absl::StatusOr<std::unique_ptr<Ports>> Start(const PortOptions& options);
  ~Ports();  // stops and closes every port
  Ports(const Ports&) = delete;
  Ports& operator=(const Ports&) = delete;

  uint16_t count() const { return count_; }
  // The RX queues pipe `p` polls.
  const std::vector<RxQueueRef>& rx_queues(uint16_t p) const { return rx_queues_[p]; }
  const std::string& name(uint16_t port) const { return names_[port]; }
  rte_mempool* pool() const { return pool_; }

 private:
  Ports() = default;
  absl::Status Setup(const PortOptions& options);

  uint16_t count_ = 0;
  uint16_t started_ = 0;
  rte_mempool* pool_ = nullptr;
  std::vector<std::vector<RxQueueRef>> rx_queues_;
  std::vector<std::string> names_;
};

}  // namespace softfino::dataplane
