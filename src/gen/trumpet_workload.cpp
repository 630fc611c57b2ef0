#include "softfino/gen/trumpet_workload.h"

#include <netinet/in.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "softfino/gen/frame.h"
#include "softfino/net/address.h"

namespace softfino::gen {
namespace {

constexpr uint32_t kHeaderBytes = 14 + 20;  // Ethernet + IPv4

struct Send {
  uint64_t slot;
  uint32_t flow;
  uint16_t frame_len;
  bool retransmit;
};

std::vector<uint8_t> MakeFrame(const Flow& f, uint16_t frame_len, uint32_t seq) {
  std::vector<uint8_t> frame(frame_len, 0);
  rte_ipv4_hdr* ip = PutEthernetIpv4(frame, {0x02, 0x54, 0x52, 0x4d, 0x50, 0x01},
                                     {0x02, 0x54, 0x52, 0x4d, 0x50, 0x02}, f.src_ip, f.dst_ip,
                                     f.proto);
  uint8_t* l4 = frame.data() + kHeaderBytes;
  if (f.proto == IPPROTO_TCP) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
    tcp->src_port = rte_cpu_to_be_16(f.src_port);
    tcp->dst_port = rte_cpu_to_be_16(f.dst_port);
    tcp->sent_seq = rte_cpu_to_be_32(seq);
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
  } else {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
    udp->src_port = rte_cpu_to_be_16(f.src_port);
    udp->dst_port = rte_cpu_to_be_16(f.dst_port);
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(frame_len - kHeaderBytes));
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
  }
  return frame;
}

uint16_t L4HeaderBytes(const Flow& f) { return f.proto == IPPROTO_TCP ? 20 : 8; }

}  // namespace

absl::StatusOr<TrumpetWorkload> MakeTrumpetWorkload(const TrumpetWorkloadConfig& c) {
  if (c.flows == 0 || c.duration_us < 20000 || c.min_gap_us == 0) {
    return absl::InvalidArgumentError("trumpet workload: give --flows >= 1 and --duration-us >= 20000");
  }
  const uint64_t slots = c.duration_us / c.min_gap_us;
  const uint64_t planted = uint64_t{c.surges} * c.surge_packets + c.loss_flows * 60ull +
                           c.burst_flows * 400ull;
  if (c.packets + planted > slots / 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trumpet workload: ", c.packets + planted, " packets do not fit in ", c.duration_us,
        " us at one per ", c.min_gap_us, " us with room to spare; lengthen --duration-us"));
  }
  std::mt19937_64 rng(c.seed);
  TrumpetWorkload w;
  constexpr uint32_t kHosts = 64;
  for (uint32_t i = 0; i < c.flows; ++i) {
    Flow f;
    f.src_ip = 0x0a010000 + ((i >> 8) << 8) + (i & 0xff);  // 10.1.x.y
    f.dst_ip = 0x0a020000 + static_cast<uint32_t>(rng() % kHosts);  // 10.2.0.0-63
    f.src_port = static_cast<uint16_t>(1024 + rng() % 60000);
    f.dst_port = std::array<uint16_t, 3>{80, 443, 53}[rng() % 3];
    f.proto = rng() % 10 ? IPPROTO_TCP : IPPROTO_UDP;
    w.flows.push_back(f);
  }
  std::vector<Send> sends;
  std::uniform_int_distribution<uint64_t> any_slot(0, slots - 1);
  const uint16_t kSizes[] = {64, 64, 64, 64, 64, 64, 64, 570, 570, 570, 570, 1500};
  for (uint64_t p = 0; p < c.packets; ++p) {
    sends.push_back({any_slot(rng), static_cast<uint32_t>(rng() % c.flows),
                     kSizes[rng() % std::size(kSizes)], false});
  }
  const uint64_t window_slots = 10'000 / c.min_gap_us;  // 10 ms
  std::uniform_int_distribution<uint64_t> window_start(0, slots - 3 * window_slots);
  // Surges: a new flow to a host of its own pours 1500-byte packets in 5 ms.
  for (uint32_t s = 0; s < c.surges; ++s) {
    Flow f;
    f.src_ip = 0x0a030000 + s;  // 10.3.0.s
    f.dst_ip = 0x0a020000 + kHosts + s;
    f.src_port = static_cast<uint16_t>(20000 + s);
    f.dst_port = 80;
    f.proto = IPPROTO_TCP;
    w.flows.push_back(f);
    const uint64_t start = window_start(rng);
    for (uint32_t k = 0; k < c.surge_packets; ++k) {
      sends.push_back({start + k * (window_slots / 2) / c.surge_packets,
                       static_cast<uint32_t>(w.flows.size() - 1), 1500, false});
    }
  }
  // Loss episodes: 40 segments 200 us apart, a third resent 100 us later.
  std::vector<uint32_t> tcp_flows;
  for (uint32_t i = 0; i < c.flows; ++i) {
    if (w.flows[i].proto == IPPROTO_TCP) tcp_flows.push_back(i);
  }
  for (uint32_t l = 0; l < c.loss_flows && !tcp_flows.empty(); ++l) {
    const uint32_t flow = tcp_flows[rng() % tcp_flows.size()];
    const uint64_t start = window_start(rng);
    for (uint32_t k = 0; k < 40; ++k) {
      const uint64_t at = start + k * 200 / c.min_gap_us;
      sends.push_back({at, flow, 570, false});
      if (rng() % 3 == 0) sends.push_back({at + 100 / c.min_gap_us, flow, 570, true});
    }
  }
  // Bursts: trains of 8 back-to-back packets every 400 us for 20 ms.
  for (uint32_t b = 0; b < c.burst_flows; ++b) {
    const uint32_t flow = static_cast<uint32_t>(rng() % c.flows);
    const uint64_t start = window_start(rng);
    for (uint64_t train = 0; train < 50; ++train) {
      for (uint64_t k = 0; k < 8; ++k) {
        sends.push_back({start + train * 400 / c.min_gap_us + k, flow, 64, false});
      }
    }
  }
  // One packet per slot: a send that finds its slot taken takes the next free one.
  std::stable_sort(sends.begin(), sends.end(), [](const Send& a, const Send& b) { return a.slot < b.slot; });
  uint64_t next_free = 0;
  for (Send& s : sends) {
    s.slot = std::max(s.slot, next_free);
    next_free = s.slot + 1;
  }
  std::vector<uint32_t> next_seq(w.flows.size());
  for (auto& seq : next_seq) seq = static_cast<uint32_t>(rng());
  std::vector<std::pair<uint32_t, uint16_t>> last_segment(w.flows.size(), {0, 0});
  for (const Send& s : sends) {
    const Flow& f = w.flows[s.flow];
    uint16_t len = s.frame_len;
    if (len < kHeaderBytes + L4HeaderBytes(f)) len = static_cast<uint16_t>(kHeaderBytes + L4HeaderBytes(f));
    uint32_t seq = next_seq[s.flow];
    if (s.retransmit && last_segment[s.flow].second != 0) {
      // The flow's latest segment again, as a sender resends a lost one.
      seq = last_segment[s.flow].first;
      len = last_segment[s.flow].second;
    } else if (f.proto == IPPROTO_TCP) {
      const uint16_t payload = static_cast<uint16_t>(len - kHeaderBytes - 20);
      next_seq[s.flow] += payload;
      if (payload > 0) last_segment[s.flow] = {seq, len};
    }
    w.frames.push_back(MakeFrame(f, len, seq));
    w.timestamps_ns.push_back((c.start_us + s.slot * c.min_gap_us) * 1000);
    w.flow_of_frame.push_back(s.flow);
  }
  return w;
}

std::vector<std::string> MakeBenchTriggers(uint32_t count, uint32_t per_flow, uint32_t interval_ms) {
  // Layer j partitions every flow to 10.2.0.0/16 by source port into
  // count/per_flow cells, with a destination prefix of its own length
  // (16 - j), so a flow matches one trigger per layer and each layer is
  // one tuple of the tuple-space search.
  std::vector<std::string> out;
  if (per_flow == 0 || per_flow > 16) return out;
  const uint32_t per_layer = count / per_flow;
  uint32_t bits = 0;
  while ((1u << bits) < per_layer && bits < 16) ++bits;
  for (uint32_t j = 0; j < per_flow; ++j) {
    const uint32_t dst_len = 16 - j;
    const uint32_t dst = 0x0a020000 & (dst_len == 0 ? 0 : ~0u << (32 - dst_len));
    for (uint32_t cell = 0; cell < per_layer; ++cell) {
      const uint32_t sport = bits == 0 ? 0 : cell << (16 - bits);
      out.push_back(absl::StrCat("t", j, "_", cell, ": filter dst=",
                                 net::FormatIpv4Prefix({dst, static_cast<uint8_t>(dst_len)}),
                                 " sport=", sport, "/", bits, " group 5tuple every ", interval_ms,
                                 "ms when bytes > 1000000000"));
    }
  }
  return out;
}

}  // namespace softfino::gen
