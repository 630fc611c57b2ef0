// Incast microbursts (BurstRadar's workload): N senders, each on its own
// switch port, send bursts into one egress port at the same moments, so
// its queue builds while the bursts overlap. Each sender's packets go to
// their own pcap (one per ingress port), timed at the sender's line rate.
// Every packet is IPv4/UDP from 10.3.0.(sender+1) and carries, after 24
// zero bytes (room for tm_probe's record), its sender and sequence number.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace softfino::gen {

struct IncastConfig {
  uint32_t senders = 4;
  uint32_t bursts = 10;
  uint32_t burst_packets = 50;  // per sender and burst
  uint32_t packet_bytes = 1000;  // frame size
  double gap_us = 500;           // from one burst's start to the next
  double sender_gbps = 10;       // each sender's line rate
  uint64_t seed = 1;             // jitter of each sender's start within a burst (up to 1 us)
  // Light background traffic (0: none): one more sender (the last pcap,
  // 10.3.0.(senders+1)) with evenly spaced packets at this rate, over the
  // whole run, bursts included.
  double background_gbps = 0;
};

struct IncastWorkload {
  // Per sender: frames and their timestamps (ns).
  std::vector<std::vector<std::vector<uint8_t>>> frames;
  std::vector<std::vector<uint64_t>> timestamps_ns;
};

absl::StatusOr<IncastWorkload> MakeIncastWorkload(const IncastConfig& config);

}  // namespace softfino::gen
