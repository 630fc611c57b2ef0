// Internal links between switches of one process: a pair of DPDK ports (the
// ring PMD, rte_eth_from_rings) where what one end transmits the other
// receives, with no copy and no system call, so a whole testbed (reporter ->
// translator -> ...) runs in one process.
//
// Each direction has one ring per pipe of the receiving switch, which it
// receives as that pipe's RX queue; the sending switch's pipe i transmits
// into ring i % (receiving pipes). With the same number of pipes on both
// sides a flow stays in pipe i across the link, both directions alike, as
// symmetric RSS put it there on the first switch (per-pipe state stays
// whole). Rings are multi-producer, so more sending pipes than receiving
// ones share rings safely.
#pragma once

#include <rte_ring.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace softfino::dataplane {

class InternalLink {
 public:
  static constexpr size_t kMaxNameLength = 20;  // DPDK's ring PMD names fit in 32
  // Creates both ends: `a_pipes`/`b_pipes` are the pipe counts of the
  // switches at ends a and b. The ends are DPDK ports (the ring PMD)
  // named "net_ring_<name>_a" and "net_ring_<name>_b", so `name` has at most
  // kMaxNameLength characters. `ring_size` packets (a power of two) can wait
  // in each ring; beyond that the sender counts tx_full.
  static absl::StatusOr<std::unique_ptr<InternalLink>> Create(const std::string& name,
                                                              uint16_t a_pipes, uint16_t b_pipes,
                                                              unsigned ring_size = 4096);
  ~InternalLink();  // frees the rings and what is still in them (after the ports closed)
  InternalLink(const InternalLink&) = delete;
  InternalLink& operator=(const InternalLink&) = delete;

  const std::string& name() const { return name_; }
  uint16_t a_port() const { return a_port_; }  // DPDK's port id of end a
  uint16_t b_port() const { return b_port_; }

 private:
  InternalLink() = default;
  std::string name_;
  uint16_t a_port_ = 0, b_port_ = 0;
  std::vector<rte_ring*> rings_;
};

}  // namespace softfino::dataplane
