#include "softfino/gen/flow_workload.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "softfino/gen/frame.h"

namespace softfino::gen {

namespace {

// One frame of `size` bytes (Ethernet header to the end of the payload).
std::vector<uint8_t> MakeFrame(const Flow& f, uint32_t size) {
  const uint32_t l4 = f.proto == IPPROTO_TCP ? sizeof(rte_tcp_hdr) : sizeof(rte_udp_hdr);
  const uint32_t min = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + l4;
  size = std::max(size, min);
  std::vector<uint8_t> frame(size, 0);
  rte_ipv4_hdr* ip = PutEthernetIpv4(frame, {0x02, 0x46, 0x4c, 0x4f, 0x57, 0x01},
                                     {0x02, 0x46, 0x4c, 0x4f, 0x57, 0x02}, f.src_ip, f.dst_ip,
                                     f.proto);
  uint8_t* l4p = reinterpret_cast<uint8_t*>(ip + 1);
  if (f.proto == IPPROTO_TCP) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4p);
    tcp->src_port = rte_cpu_to_be_16(f.src_port);
    tcp->dst_port = rte_cpu_to_be_16(f.dst_port);
    tcp->data_off = 0x50;
    tcp->tcp_flags = RTE_TCP_ACK_FLAG;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
  } else {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l4p);
    udp->src_port = rte_cpu_to_be_16(f.src_port);
    udp->dst_port = rte_cpu_to_be_16(f.dst_port);
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(size - min + sizeof(rte_udp_hdr)));
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
  }
  return frame;
}

}  // namespace

absl::StatusOr<FlowWorkload> MakeFlowWorkload(const FlowWorkloadConfig& c) {
  if (c.flows == 0 || c.flows > (1u << 24)) {
    return absl::InvalidArgumentError("flows: give 1..16777216");
  }
  if (c.zipf < 0 || c.zipf > 5) return absl::InvalidArgumentError("zipf: give 0 (uniform) .. 5");
  if (!(c.rate_pps > 0)) return absl::InvalidArgumentError("rate: must be positive");
  std::vector<uint32_t> sizes;
  if (c.sizes == "imix") {
    sizes = {64, 64, 64, 64, 64, 64, 64, 570, 570, 570, 570, 1514};
  } else {
    uint32_t size = 0;
    if (!absl::SimpleAtoi(c.sizes, &size) || size < 60 || size > 1514) {
      return absl::InvalidArgumentError(
          absl::StrCat("sizes \"", c.sizes, "\": give imix or a frame size 60..1514"));
    }
    sizes = {size};
  }
  std::mt19937_64 rng(c.seed);
  FlowWorkload w;
  w.flows.resize(c.flows);
  for (uint32_t i = 0; i < c.flows; ++i) {
    Flow& f = w.flows[i];
    f.src_ip = 0x0a010000 + (i & 0xffff) + ((i >> 16) << 24);  // 10.1.x.y, distinct
    f.dst_ip = 0x0a020000 + static_cast<uint32_t>(rng() % 65536);
    f.src_port = static_cast<uint16_t>(1024 + rng() % 64000);
    f.dst_port = std::array<uint16_t, 4>{53, 80, 443, 8080}[rng() % 4];
    f.proto = rng() % 2 ? IPPROTO_TCP : IPPROTO_UDP;
  }
  // Popularity: rank r (0-based) has weight 1 / (r + 1)^s; ranks are given
  // to flows at random so that popular flows are not the first addresses.
  std::vector<double> weight(c.flows);
  for (uint32_t r = 0; r < c.flows; ++r) weight[r] = 1.0 / std::pow(r + 1.0, c.zipf);
  std::discrete_distribution<uint32_t> rank(weight.begin(), weight.end());
  std::vector<uint32_t> flow_of_rank(c.flows);
  for (uint32_t i = 0; i < c.flows; ++i) flow_of_rank[i] = i;
  std::shuffle(flow_of_rank.begin(), flow_of_rank.end(), rng);
  const double gap_ns = 1e9 / c.rate_pps;
  w.frames.reserve(c.packets);
  for (uint64_t n = 0; n < c.packets; ++n) {
    const uint32_t flow = c.zipf == 0 ? static_cast<uint32_t>(rng() % c.flows)
                                      : flow_of_rank[rank(rng)];
    w.frames.push_back(MakeFrame(w.flows[flow], sizes[rng() % sizes.size()]));
    w.timestamps_ns.push_back(static_cast<uint64_t>(gap_ns * static_cast<double>(n)));
    w.flow_of_frame.push_back(flow);
  }
  return w;
}

}  // namespace softfino::gen
