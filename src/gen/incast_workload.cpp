#include "softfino/gen/incast_workload.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>
#include <random>

#include "softfino/gen/frame.h"

namespace softfino::gen {

absl::StatusOr<IncastWorkload> MakeIncastWorkload(const IncastConfig& c) {
  constexpr uint32_t kHeaders = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
  if (c.senders == 0 || c.senders > 250) return absl::InvalidArgumentError("senders: 1..250");
  if (c.packet_bytes < kHeaders + 30 || c.packet_bytes > 1514) {
    return absl::InvalidArgumentError("packet size: 72..1514 bytes");
  }
  if (!(c.sender_gbps > 0) || !(c.gap_us > 0)) {
    return absl::InvalidArgumentError("sender rate and burst gap must be positive");
  }
  if (c.background_gbps < 0 || c.background_gbps >= c.sender_gbps) {
    return absl::InvalidArgumentError("background rate: 0 .. below the sender rate");
  }
  std::mt19937_64 rng(c.seed);
  IncastWorkload w;
  const uint32_t pcaps = c.senders + (c.background_gbps > 0 ? 1 : 0);
  w.frames.resize(pcaps);
  w.timestamps_ns.resize(pcaps);
  // A frame's time on the wire, Ethernet overhead (FCS, preamble, gap) included.
  const double wire_ns = (c.packet_bytes + 24) * 8 / c.sender_gbps;
  const double duration_ns = c.bursts * c.gap_us * 1000;
  for (uint32_t s = 0; s < pcaps; ++s) {
    uint32_t seq = 0;
    const bool background = s == c.senders;
    const double spacing = background ? (c.packet_bytes + 24) * 8 / c.background_gbps : wire_ns;
    const uint32_t runs = background ? 1 : c.bursts;
    const auto per_run = background ? static_cast<uint32_t>(duration_ns / spacing) : c.burst_packets;
    for (uint32_t b = 0; b < runs; ++b) {
      const double start = background ? 0 : b * c.gap_us * 1000 + static_cast<double>(rng() % 1000);
      for (uint32_t p = 0; p < per_run; ++p) {
        std::vector<uint8_t> f(c.packet_bytes, 0);
        rte_ipv4_hdr* ip = PutEthernetIpv4(
            f, {0x02, 0x49, 0x4e, 0x43, 0x00, static_cast<uint8_t>(s + 1)},
            {0x02, 0x49, 0x4e, 0x43, 0xff, 0xff}, 0x0a030001 + s, 0x0a0400fe, IPPROTO_UDP);
        auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
        udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(10000 + s));
        udp->dst_port = rte_cpu_to_be_16(5001);
        udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(c.packet_bytes - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr)));
        uint8_t* id = f.data() + kHeaders + 24;  // after tm_probe's record
        const uint32_t be_sender = rte_cpu_to_be_32(s), be_seq = rte_cpu_to_be_32(seq++);
        std::memcpy(id, &be_sender, 4);
        std::memcpy(id + 4, &be_seq, 4);
        w.frames[s].push_back(std::move(f));
        w.timestamps_ns[s].push_back(static_cast<uint64_t>(start + p * spacing));
      }
    }
  }
  return w;
}

}  // namespace softfino::gen
