// Microbursts with random durations and gaps over light background traffic,
// like the "web" and "cache" traces BurstRadar (APSys'18) was evaluated on
// (microburst data of Facebook's racks, IMC'17). softfino-gen bursts writes
// them.
//
// Burst k lasts d_k and starts g_k after burst k-1 ended, d_k and g_k drawn
// from the given distributions. During a burst every burst sender (each on
// its own switch port, like incast) sends evenly spaced frames at
// burst_gbps / senders; so an egress port slower than burst_gbps queues.
// A burst of duration d holds max(1, round(d / spacing)) frames per sender,
// and its realized duration is that count times the spacing: from its first
// frame's start to one spacing after its last. Background traffic is one more
// sender (the last pcap) with Poisson arrivals at background_gbps over the
// whole run.
//
// Frames are IPv4/UDP from 10.3.0.(sender+1) to 10.4.0.254 port 5001; after
// 24 zero bytes (room for tm_probe's record) each carries its sender, its
// sequence number and its burst's number (0xffffffff for background), all
// 32-bit big endian, as incast frames do (same offsets).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "softfino/gen/distribution.h"

namespace softfino::gen {

inline constexpr uint32_t kBackgroundBurst = 0xffffffff;

struct BurstWorkloadConfig {
  std::string durations = "lognormal:30,1";  // burst durations, us (Distribution::Parse)
  std::string gaps = "exp:1500";             // from one burst's end to the next's start, us
  uint32_t bursts = 200;
  uint32_t senders = 2;
  double burst_gbps = 15;        // all burst senders together, during a burst
  double sender_gbps = 10;       // each sender's line rate: burst_gbps / senders must fit
  double background_gbps = 1;    // 0: none
  uint32_t packet_bytes = 1000;  // frame size
  uint64_t seed = 1;
};

// The presets named on the command line ("web", "cache"); see
// softfino-gen bursts --help and pipelines/burstradar/README.md for where
// their numbers come from.
absl::StatusOr<BurstWorkloadConfig> BurstPreset(const std::string& name);

struct BurstWorkload {
  // Per sender (bursts senders, then background): frames and times (ns).
  std::vector<std::vector<std::vector<uint8_t>>> frames;
  std::vector<std::vector<uint64_t>> timestamps_ns;
  // Per burst: its start and realized duration (ns).
  std::vector<uint64_t> burst_start_ns, burst_duration_ns;
};

absl::StatusOr<BurstWorkload> MakeBurstWorkload(const BurstWorkloadConfig& config);

}  // namespace softfino::gen
