#include "softfino/gen/burst_workload.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "softfino/gen/frame.h"

namespace softfino::gen {

namespace {

constexpr uint32_t kHeaders = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
// Ethernet's per-frame overhead on the wire: FCS, preamble, inter-frame gap.
constexpr uint32_t kWireOverhead = 24;

std::vector<uint8_t> MakeFrame(uint32_t sender, uint32_t seq, uint32_t burst, uint32_t bytes) {
  std::vector<uint8_t> f(bytes, 0);
  rte_ipv4_hdr* ip = PutEthernetIpv4(
      f, {0x02, 0x42, 0x55, 0x52, 0x00, static_cast<uint8_t>(sender + 1)},
      {0x02, 0x42, 0x55, 0x52, 0xff, 0xff}, 0x0a030001 + sender, 0x0a0400fe, IPPROTO_UDP);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(10000 + sender));
  udp->dst_port = rte_cpu_to_be_16(5001);
  udp->dgram_len =
      rte_cpu_to_be_16(static_cast<uint16_t>(bytes - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr)));
  const uint32_t id[3] = {rte_cpu_to_be_32(sender), rte_cpu_to_be_32(seq), rte_cpu_to_be_32(burst)};
  std::memcpy(f.data() + kHeaders + 24, id, sizeof(id));  // after tm_probe's record
  return f;
}

}  // namespace

absl::StatusOr<BurstWorkloadConfig> BurstPreset(const std::string& name) {
  // Our reading of the IMC'17 microburst study BurstRadar used: bursts last
  // tens of microseconds (90% under 200 us), links are lightly loaded
  // between them, and cache racks burst longer and more often than web
  // racks. The exact trace parameters are not in our sources; these are
  // chosen to match those statements (README.md says so).
  BurstWorkloadConfig c;
  if (name == "web") {
    c.durations = "lognormal:30,1";  // median 30 us, 90th percentile 108 us
    c.gaps = "exp:1500";
    c.background_gbps = 1;
  } else if (name == "cache") {
    c.durations = "lognormal:50,1";  // median 50 us, 90th percentile 180 us
    c.gaps = "exp:800";
    c.background_gbps = 2;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown preset '", name, "'; the presets are web and cache"));
  }
  return c;
}

absl::StatusOr<BurstWorkload> MakeBurstWorkload(const BurstWorkloadConfig& c) {
  if (c.senders == 0 || c.senders > 250) return absl::InvalidArgumentError("senders: 1..250");
  if (c.bursts == 0) return absl::InvalidArgumentError("bursts: at least 1");
  if (c.packet_bytes < kHeaders + 36 || c.packet_bytes > 1514) {
    return absl::InvalidArgumentError("packet size: 78..1514 bytes");
  }
  if (!(c.sender_gbps > 0) || !(c.burst_gbps > 0) ||
      c.burst_gbps / c.senders > c.sender_gbps * (1 + 1e-9)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "burst rate ", c.burst_gbps, " Gb/s over ", c.senders, " senders of ", c.sender_gbps,
        " Gb/s does not fit: give a burst rate above 0 and at most senders x sender rate"));
  }
  if (c.background_gbps < 0 || c.background_gbps >= c.sender_gbps) {
    return absl::InvalidArgumentError("background rate: 0 .. below the sender rate");
  }
  auto durations = Distribution::Parse(c.durations);
  if (!durations.ok()) return durations.status();
  auto gaps = Distribution::Parse(c.gaps);
  if (!gaps.ok()) return gaps.status();

  std::mt19937_64 rng(c.seed);
  BurstWorkload w;
  const bool background = c.background_gbps > 0;
  w.frames.resize(c.senders + (background ? 1 : 0));
  w.timestamps_ns.resize(w.frames.size());
  std::vector<uint32_t> seq(w.frames.size(), 0);
  const double frame_bits = (c.packet_bytes + kWireOverhead) * 8.0;
  const double spacing_ns = frame_bits * c.senders / c.burst_gbps;
  // Senders start a little apart within a burst, as real ones do, so that
  // their frames do not all carry the same timestamp.
  const double stagger_ns = spacing_ns / c.senders;
  double t = gaps->Sample(rng) * 1000;  // the first burst comes after a gap too
  for (uint32_t b = 0; b < c.bursts; ++b) {
    const double want_ns = durations->Sample(rng) * 1000;
    const auto n = static_cast<uint32_t>(std::max(1.0, std::round(want_ns / spacing_ns)));
    for (uint32_t s = 0; s < c.senders; ++s) {
      for (uint32_t p = 0; p < n; ++p) {
        w.frames[s].push_back(MakeFrame(s, seq[s]++, b, c.packet_bytes));
        w.timestamps_ns[s].push_back(static_cast<uint64_t>(t + s * stagger_ns + p * spacing_ns));
      }
    }
    w.burst_start_ns.push_back(static_cast<uint64_t>(t));
    w.burst_duration_ns.push_back(static_cast<uint64_t>(n * spacing_ns));
    t += n * spacing_ns + gaps->Sample(rng) * 1000;
  }
  if (background) {
    // Poisson arrivals, never closer than the sender's line rate allows.
    const uint32_t s = c.senders;
    const double mean_ns = frame_bits / c.background_gbps, min_ns = frame_bits / c.sender_gbps;
    std::exponential_distribution<double> next(1 / mean_ns);
    for (double bt = next(rng); bt < t; bt += std::max(min_ns, next(rng))) {
      w.frames[s].push_back(MakeFrame(s, seq[s]++, kBackgroundBurst, c.packet_bytes));
      w.timestamps_ns[s].push_back(static_cast<uint64_t>(bt));
    }
  }
  return w;
}

}  // namespace softfino::gen
