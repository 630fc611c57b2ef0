// One Tofino pipe on one lcore: polls its RX queues, runs the program's
// ingress over each burst, then sends every packet to its egress port's TX
// queue owned by this pipe, or frees it and counts the drop by reason.
#pragma once

#include <cstdint>
#include <vector>

#include "softfino/dataplane/ports.h"
#include "softfino/dataplane/stats.h"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/program.h"

namespace softfino::dataplane {

class alignas(RTE_CACHE_LINE_SIZE) PipeWorker {
 public:
  PipeWorker(uint16_t id, const pipe::Program& program, std::vector<RxQueueRef> rx_queues,
             uint16_t port_count);

  // One round over the pipe's RX queues. Returns the packets received.
  uint32_t PollOnce();

  uint16_t id() const { return id_; }
  const PipeStats& stats() const { return stats_; }

 private:
  void Deliver(pipe::PacketBurst& burst);

  const uint16_t id_;  // also the TX queue this pipe owns on every port
  const pipe::Program& program_;
  const std::vector<RxQueueRef> rx_queues_;
  const uint16_t port_count_;
  const double ns_per_tsc_;
  pipe::PacketBurst burst_;
  // Per egress port, the packets of the current burst going there.
  rte_mbuf* tx_[RTE_MAX_ETHPORTS][pipe::kBurstSize];
  uint16_t tx_count_[RTE_MAX_ETHPORTS] = {};
  PipeStats stats_;
};

}  // namespace softfino::dataplane
