// The switch's ports: DPDK ethdevs, numbered 0..n-1 in the order the switch
// lists them (by default every ethdev, as DPDK numbers them; a topology of
// several switches gives each its own). Each port gets one RX queue per pipe
// (up to what the device has), spread by RSS with a symmetric key so both
// directions of a flow land in the same pipe, or, with software RSS
// (soft_rss.h), one RX queue its owner pipe reads and spreads. Only the pipe
// that owns a port (pipe::PipeOfPort) transmits on it, on a TX queue of its
// own: one TX queue per port is enough.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct rte_mempool;
struct rte_ring;

namespace softfino::dataplane {

class SoftRss;

// Where a pipe receives a port's packets from: an RX queue of the device,
// or (software RSS) the ring the port's reader fills for this pipe.
struct RxQueueRef {
  uint16_t port;    // the switch's port number
  uint16_t queue;
  uint16_t ethdev;  // DPDK's port id
  rte_ring* ring = nullptr;    // set: receive from this ring, not the device
  SoftRss* spread = nullptr;   // set: this pipe reads the device and spreads
};

struct PortOptions {
  uint16_t pipes = 1;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  bool promiscuous = true;
  // DPDK port ids, switch port i being ethdevs[i]; empty: every ethdev, as
  // DPDK numbers them (which must then be 0..n-1).
  std::vector<uint16_t> ethdevs;
  // Names this switch's DPDK objects (its mbuf pool), unique in the process.
  std::string name = "softfino";
  // Spread each port's packets over the pipes in software (soft_rss.h), for
  // NICs without RSS (--sw-rss).
  bool sw_rss = false;
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
  uint16_t ethdev(uint16_t port) const { return ethdevs_[port]; }
  // The TX queue the pipe that owns `port` sends on.
  uint16_t tx_queue(uint16_t port) const { return tx_queues_[port]; }
  bool sw_rss() const { return !soft_rss_.empty(); }
  rte_mempool* pool() const { return pool_; }

  // Frames the kernel dropped because the port's receive ring was full,
  // for net_af_packet ports (0 for others): DPDK 22.11's af_packet PMD
  // reports none (no imissed, no xstats), so they are read here from its
  // sockets' PACKET_STATISTICS, found by the interface they are bound to.
  // Reading resets the kernel's count; this keeps the running total.
  // Thread-safe.
  uint64_t KernelRingDrops(uint16_t port) const;

 private:
  Ports() = default;
  absl::Status Setup(const PortOptions& options);

  uint16_t count_ = 0;
  uint16_t started_ = 0;
  rte_mempool* pool_ = nullptr;
  std::vector<std::vector<RxQueueRef>> rx_queues_;
  std::vector<std::string> names_;
  std::vector<uint16_t> ethdevs_;
  std::vector<uint16_t> tx_queues_;  // per port
  std::vector<std::unique_ptr<SoftRss>> soft_rss_;  // per port, with sw_rss
  // Per port: the af_packet PMD's sockets and their drops so far.
  struct PacketSockets {
    std::vector<int> fds;
    mutable std::atomic<uint64_t> drops{0};
  };
  std::vector<std::unique_ptr<PacketSockets>> packet_sockets_;
};

}  // namespace softfino::dataplane
