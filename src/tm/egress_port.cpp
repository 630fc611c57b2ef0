#include "softfino/tm/egress_port.h"

#include <rte_common.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace softfino::tm {

absl::StatusOr<std::unique_ptr<EgressPort>> EgressPort::Create(pipe::PortId port,
                                                               const EgressPortConfig& config) {
  // The rate must give a whole number of picoseconds per byte, so that
  // virtual time is exact: 8e12 / rate_bps. True of every Ethernet speed.
  constexpr uint64_t kPsBitsPerSecond = 8'000'000'000'000;
  if (config.rate_bps == 0 || kPsBitsPerSecond % config.rate_bps != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "port ", port, ": rate ", config.rate_bps,
        " b/s does not give a whole number of picoseconds per byte; use an Ethernet speed such "
        "as 1G, 10G, 25G, 40G, 50G, 100G, 200G or 400G"));
  }
  if (config.queues == 0 || config.queues > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("port ", port, ": ", int{config.queues}, " queues; a port has 1 to 32"));
  }
  if (config.queue_limit_cells == 0) {
    return absl::InvalidArgumentError(absl::StrCat("port ", port, ": the queue limit must be > 0"));
  }
  auto p = std::unique_ptr<EgressPort>(new EgressPort());
  p->port_ = port;
  p->ps_per_byte_ = kPsBitsPerSecond / config.rate_bps;
  p->limit_cells_ = config.queue_limit_cells;
  p->queues_ = std::make_unique<Queue[]>(config.queues);
  p->queue_count_ = config.queues;
  const uint32_t slots = rte_align32pow2(std::max<uint32_t>(config.queue_capacity_packets, 2));
  p->slot_mask_ = slots - 1;
  p->slot_storage_ = std::make_unique<Slot[]>(size_t{slots} * config.queues);
  for (size_t i = 0; i < p->queue_count_; ++i) p->queues_[i].slots = &p->slot_storage_[i * slots];
  return p;
}

}  // namespace softfino::tm
