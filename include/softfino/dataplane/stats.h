// Counters of the fast path. Each pipe owns its PipeStats and is its only
// writer; the slow path and the telemetry thread read them (see Counter).
#pragma once

#include <rte_config.h>
#include <rte_memory.h>

#include <array>
#include <cstdint>
#include <vector>

#include "softfino/pipe/counter.h"
#include "softfino/pipe/drop_reason.h"

namespace softfino::dataplane {

struct alignas(RTE_CACHE_LINE_SIZE) PortCounters {
  pipe::Counter rx_packets, rx_bytes;
  pipe::Counter tx_packets, tx_bytes;
};

struct alignas(RTE_CACHE_LINE_SIZE) PipeStats {
  pipe::Counter polls;       // rounds over the pipe's RX queues
  pipe::Counter busy_polls;  // rounds that received at least one packet
  pipe::Counter idle_sleeps;  // sleeps of the idle pipe (idle_backoff.h)
  // Polls that took no new packets because a ring to another pipe was
  // nearly full (back-pressure: they wait in the NIC's queue instead).
  pipe::Counter held_back;
  pipe::Counter copies;      // packets made by multicast and mirroring
  pipe::Counter generated;   // packets made by the packet generator
  pipe::Counter recirculated, resubmitted;  // extra passes through ingress
  std::array<pipe::Counter, pipe::kDropReasonCount> drops;
  std::array<PortCounters, RTE_MAX_ETHPORTS> ports;
};

// A point-in-time sum over all pipes, for reports and telemetry.
struct PortTotals {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  uint64_t rx_missed = 0;  // dropped by the NIC (or a full af_packet ring) before any pipe saw them
};

struct PipeTotals {
  unsigned lcore = 0;
  uint64_t polls = 0, busy_polls = 0, idle_sleeps = 0, held_back = 0;
  uint64_t rx_packets = 0, tx_packets = 0, dropped = 0, copies = 0, generated = 0;
  uint64_t recirculated = 0, resubmitted = 0;
};

struct QueueTotals {
  uint16_t port = 0;
  uint8_t qid = 0;
  uint64_t enqueued_packets = 0, enqueued_bytes = 0, tail_drops = 0;
  uint64_t depth_cells = 0, watermark_cells = 0;
};

struct StatsSnapshot {
  std::vector<PortTotals> ports;
  std::vector<PipeTotals> pipes;
  std::vector<QueueTotals> queues;  // every TM queue, by port then qid
  std::array<uint64_t, pipe::kDropReasonCount> drops{};
  double seconds = 0;  // since the switch started forwarding
  // Core scaling (--fp-cores-max): lcores running pipes now, of how many,
  // and how often autoscaling added or removed one. All 0 when off.
  unsigned cores_active = 0, cores_max = 0;
  uint64_t cores_grown = 0, cores_shrunk = 0;

  uint64_t received() const;
  uint64_t copies() const;     // received + copies + generated = forwarded + dropped
  uint64_t generated() const;
  uint64_t forwarded() const;
  uint64_t dropped() const;
};

}  // namespace softfino::dataplane
