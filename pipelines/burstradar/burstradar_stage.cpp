#include "pipelines/burstradar/burstradar_stage.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "softfino/pipe/parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

constexpr uint32_t kCellBytes = 80;

// The courier's payload, network order (README.md).
struct [[gnu::packed]] CourierWire {
  rte_be32_t seq;
  rte_be32_t src_ip, dst_ip;
  rte_be16_t src_port, dst_port;
  uint8_t proto;
  uint8_t reserved;
  rte_be16_t egress_port;
  rte_be32_t enq_tstamp, deq_tstamp;
  rte_be32_t enq_qdepth, deq_qdepth;
  rte_be16_t pkt_length;
  rte_be16_t reserved2;
};
static_assert(sizeof(CourierWire) == 40);

constexpr uint32_t kCourierBytes = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) +
                                   sizeof(rte_udp_hdr) + sizeof(CourierWire);

void EgressDrop(pipe::EgressIntrinsicMetadataForDeparser& dprsr, DropReason reason) {
  dprsr.drop_ctl = 1;
  dprsr.drop_reason = reason;
}

absl::StatusOr<uint64_t> Uint(const nlohmann::json& j, const char* field, uint64_t min,
                              uint64_t max, std::optional<uint64_t> fallback) {
  const auto it = j.find(field);
  if (it == j.end()) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat("burstradar.", field, " is missing"));
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() < min || it->get<uint64_t>() > max) {
    return absl::InvalidArgumentError(absl::StrCat("burstradar.", field, " is ", it->dump(),
                                                   "; it must be an integer ", min, "..", max));
  }
  return it->get<uint64_t>();
}

// A field that is an integer or a non-empty list of them.
absl::StatusOr<std::vector<uint64_t>> UintOrList(const nlohmann::json& j, const char* field,
                                                 uint64_t min, uint64_t max,
                                                 std::optional<uint64_t> fallback) {
  const auto it = j.find(field);
  if (it == j.end() || !it->is_array()) {
    auto v = Uint(j, field, min, max, fallback);
    if (!v.ok()) return v.status();
    return std::vector<uint64_t>{*v};
  }
  if (it->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("burstradar.", field, ": an empty list"));
  }
  std::vector<uint64_t> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& v = (*it)[i];
    if (!v.is_number_unsigned() || v.get<uint64_t>() < min || v.get<uint64_t>() > max) {
      return absl::InvalidArgumentError(absl::StrCat("burstradar.", field, "[", i, "] is ",
                                                     v.dump(), "; it must be an integer ", min,
                                                     "..", max));
    }
    out.push_back(v.get<uint64_t>());
  }
  return out;
}

}  // namespace

BurstRadarStage::BurstRadarStage() = default;
BurstRadarStage::~BurstRadarStage() = default;

absl::Status BurstRadarStage::Configure(const nlohmann::json& b, const pipe::SwitchInfo& info,
                                        std::vector<bool> watched) {
  const uint64_t max_port = info.port_count - 1u;
  auto monitors = UintOrList(b, "monitor_port", 0, max_port, std::nullopt);
  if (!monitors.ok()) return monitors.status();
  // Sessions: one per monitor port, listed, or numbered on from one.
  auto sessions = UintOrList(b, "mirror_session", 1, 1023, 900);
  auto ring = Uint(b, "ring_entries", 1, 1u << 20, 1000);
  if (!sessions.ok()) return sessions.status();
  if (!ring.ok()) return ring.status();
  if (monitors->size() > info.pipe_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "burstradar.monitor_port: ", monitors->size(), " ports for ", info.pipe_count,
        " pipe(s); give at most one per pipe (port P is in pipe P % ", info.pipe_count, ")"));
  }
  const bool listed = b.at("monitor_port").is_array();
  if (b.contains("mirror_session") && b["mirror_session"].is_array() &&
      sessions->size() != monitors->size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "burstradar.mirror_session: ", sessions->size(), " sessions for ", monitors->size(),
        " monitor port(s); give one per monitor port, or one number (then one per port from it)"));
  }
  if (sessions->size() == 1 && (*sessions)[0] + monitors->size() - 1 > 1023) {
    return absl::InvalidArgumentError(absl::StrCat(
        "burstradar.mirror_session: sessions ", (*sessions)[0], "..",
        (*sessions)[0] + monitors->size() - 1, " go beyond 1023; start lower"));
  }
  monitors_.clear();
  session_of_pipe_.assign(info.pipe_count, 0);
  for (size_t i = 0; i < monitors->size(); ++i) {
    const auto port = static_cast<pipe::PortId>((*monitors)[i]);
    const auto session = static_cast<pipe::MirrorSessionId>(
        sessions->size() == 1 ? (*sessions)[0] + i : (*sessions)[i]);
    const uint16_t pipe = info.PipeOf(port);
    if (session_of_pipe_[pipe] != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "burstradar.monitor_port[", i, "]: port ", port, " is in pipe ", pipe,
          " as another monitor port is; give each pipe one (port P is in pipe P % ",
          info.pipe_count, ")"));
    }
    for (const auto& other : monitors_) {
      if (other.session == session) {
        return absl::InvalidArgumentError(absl::StrCat(
            "burstradar.mirror_session: session ", session, " is given twice"));
      }
    }
    // Couriers: the clone's first bytes are all it needs (it is rewritten).
    monitors_.push_back({session, port, 64});
    session_of_pipe_[pipe] = session;
  }
  const std::string monitor_name = listed ? "a monitor port" : "the monitor port";
  ring_entries_ = static_cast<uint32_t>(*ring);
  pipe_count_ = info.pipe_count;

  if (watched.empty()) {  // every port but the monitors
    watched.assign(info.port_count, true);
    for (const auto& m : monitors_) watched[m.port] = false;
  }
  watched.resize(info.port_count, false);
  if (b.contains("watch")) {
    std::fill(watched.begin(), watched.end(), false);
    if (!b["watch"].is_array()) return absl::InvalidArgumentError("burstradar.watch: expected ports");
    for (const auto& p : b["watch"]) {
      if (!p.is_number_unsigned() || p.get<uint64_t>() > max_port) {
        return absl::InvalidArgumentError(
            absl::StrCat("burstradar.watch: ", p.dump(), " is not a port 0..", max_port));
      }
      watched[p.get<uint64_t>()] = true;
    }
  }
  for (const auto& m : monitors_) {
    if (watched[m.port]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "burstradar: port ", m.port, " is ", monitor_name, "; it cannot also be watched"));
    }
  }

  // The threshold, in bytes then cells, per watched port.
  const bool by_bytes = b.contains("threshold_bytes");
  const bool by_rtt = b.contains("threshold_rtt_fraction");
  if (by_bytes == by_rtt) {
    return absl::InvalidArgumentError(
        "burstradar: give the threshold either as threshold_bytes or as threshold_rtt_fraction "
        "(with rtt_us), e.g. 0.05 of a 25 us RTT");
  }
  threshold_cells_.assign(info.port_count, 0);
  for (pipe::PortId port = 0; port < info.port_count; ++port) {
    if (!watched[port]) continue;
    double bytes = 0;
    if (by_bytes) {
      auto t = Uint(b, "threshold_bytes", 1, 1u << 30, std::nullopt);
      if (!t.ok()) return t.status();
      bytes = static_cast<double>(*t);
    } else {
      const nlohmann::json& f = b["threshold_rtt_fraction"];
      auto rtt = Uint(b, "rtt_us", 1, 1'000'000, std::nullopt);
      if (!rtt.ok()) return rtt.status();
      if (!f.is_number() || f.get<double>() <= 0 || f.get<double>() > 100) {
        return absl::InvalidArgumentError("burstradar.threshold_rtt_fraction must be in (0, 100]");
      }
      if (port >= info.port_rate_bps.size()) {
        return absl::InvalidArgumentError("burstradar: the switch does not say its port rates");
      }
      bytes = f.get<double>() * static_cast<double>(*rtt) * 1e-6 *
              static_cast<double>(info.port_rate_bps[port]) / 8;
    }
    // Depth is read in whole cells: a depth above the threshold is one of
    // more cells than the threshold holds.
    threshold_cells_[port] = std::max<uint32_t>(1, static_cast<uint32_t>(bytes / kCellBytes));
  }
  for (pipe::PortId port = 0; port < info.port_count; ++port) {
    if (threshold_cells_[port] != 0 && session_of_pipe_[info.PipeOf(port)] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "burstradar: watched port ", port, " is in pipe ", info.PipeOf(port),
          ", which has no monitor port; a courier reads its ring entry in its own pipe (give "
          "monitor_port a list with a port of each pipe that has watched ports, port P being in "
          "pipe P % ",
          info.pipe_count, ", or watch ports of the monitor's pipe only, or run --fp-cores 1)"));
    }
  }

  courier_src_mac_ = {0x02, 0x42, 0x52, 0x44, 0x52, 0x01};  // "BRDR"
  courier_dst_mac_ = {0x02, 0x42, 0x52, 0x44, 0x52, 0x02};
  courier_src_ip_ = 0xc0a8fe01;  // 192.168.254.1 -> .2
  courier_dst_ip_ = 0xc0a8fe02;
  if (b.contains("courier")) {
    const nlohmann::json& c = b["courier"];
    for (const char* field : {"src_mac", "dst_mac"}) {
      if (!c.contains(field)) continue;
      auto mac = c[field].is_string() ? net::ParseMac(c[field].get<std::string>())
                                      : absl::InvalidArgumentError("expected a MAC address");
      if (!mac.ok()) return absl::InvalidArgumentError(absl::StrCat("burstradar.courier.", field, ": ", mac.status().message()));
      (std::string(field) == "src_mac" ? courier_src_mac_ : courier_dst_mac_) = *mac;
    }
    for (const char* field : {"src_ip", "dst_ip"}) {
      if (!c.contains(field)) continue;
      auto ip = c[field].is_string() ? net::ParseIpv4Prefix(c[field].get<std::string>() + "/32")
                                     : absl::InvalidArgumentError("expected an IPv4 address");
      if (!ip.ok()) return absl::InvalidArgumentError(absl::StrCat("burstradar.courier.", field, ": ", ip.status().message()));
      (std::string(field) == "src_ip" ? courier_src_ip_ : courier_dst_ip_) = ip->addr;
    }
  }
  remaining_cells_.reset(new uint32_t[info.port_count]());
  packets_seen_.reset(new pipe::Counter[info.port_count]);
  rings_.clear();
  for (uint16_t p = 0; p < info.pipe_count; ++p) {
    auto r = std::make_unique<PipeRing>();
    r->entries.reset(new Entry[ring_entries_]);
    rings_.push_back(std::move(r));
  }
  return absl::OkStatus();
}


void BurstRadarStage::Egress(pipe::EgressBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    const pipe::EgressIntrinsicMetadata& eg = burst.eg_intr_md[i];
    if (eg.instance_type == pipe::InstanceType::kEgressMirror) {
      Courier(burst.pkts[i], eg, burst.eg_intr_md_for_dprsr[i]);
    } else if (eg.egress_port < threshold_cells_.size() && threshold_cells_[eg.egress_port] != 0) {
      Snapshot(burst.pkts[i], eg, burst.eg_intr_md_for_dprsr[i]);
    }
  }
}

void BurstRadarStage::Snapshot(rte_mbuf* m, const pipe::EgressIntrinsicMetadata& eg,
                          pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  const pipe::PortId port = eg.egress_port;
  packets_seen_[port].Add(1);
  const uint32_t size_cells = (eg.pkt_length + kCellBytes - 1) / kCellBytes;
  uint32_t& remaining = remaining_cells_[port];
  if (eg.deq_qdepth > threshold_cells_[port]) {
    remaining = eg.deq_qdepth - std::min(eg.deq_qdepth, size_cells);
  } else if (remaining > 0) {
    remaining -= std::min(remaining, size_cells);
  } else {
    return;
  }
  const uint16_t pipe = pipe::PipeOfPort(port, pipe_count_);
  PipeRing& ring = *rings_[pipe];
  Entry e;
  e.seq = ring.next_seq++;
  e.egress_port = port;
  e.enq_tstamp = eg.enq_tstamp;
  e.deq_tstamp = eg.enq_tstamp + eg.deq_timedelta;
  e.enq_qdepth = eg.enq_qdepth;
  e.deq_qdepth = eg.deq_qdepth;
  e.pkt_length = eg.pkt_length;
  pipe::ParsedHeaders hdr;
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  if (pipe::ParseL3(frame, m->data_len, m->pkt_len, hdr) == DropReason::kNone &&
      hdr.l3_type == pipe::L3Type::kIpv4) {
    e.src_ip = rte_be_to_cpu_32(hdr.ipv4->src_addr);
    e.dst_ip = rte_be_to_cpu_32(hdr.ipv4->dst_addr);
    e.proto = hdr.ipv4->next_proto_id;
    const uint8_t* l4 = reinterpret_cast<const uint8_t*>(hdr.ipv4) + (hdr.ipv4->version_ihl & 0xf) * 4u;
    if ((e.proto == IPPROTO_TCP || e.proto == IPPROTO_UDP) && l4 + 4 <= frame + m->data_len) {
      e.src_port = static_cast<uint16_t>(l4[0] << 8 | l4[1]);
      e.dst_port = static_cast<uint16_t>(l4[2] << 8 | l4[3]);
    }
  }
  ring.entries[e.seq % ring_entries_] = e;
  ++ring.marked;
  dprsr.mirror_type = 1;
  dprsr.mirror_session = session_of_pipe_[pipe];  // to the monitor port of this pipe
  dprsr.mirror_header_len = 4;
  std::memcpy(dprsr.mirror_header, &e.seq, 4);
}

void BurstRadarStage::Courier(rte_mbuf* m, const pipe::EgressIntrinsicMetadata& eg,
                         pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  PipeRing& ring = *rings_[pipe::PipeOfPort(eg.egress_port, pipe_count_)];
  uint32_t seq;
  if (m->data_len < 4) {
    EgressDrop(dprsr, DropReason::kEgressDrop);
    return;
  }
  std::memcpy(&seq, rte_pktmbuf_mtod(m, const void*), 4);
  const Entry& e = ring.entries[seq % ring_entries_];
  if (e.seq != seq) {  // the ring wrapped before this courier got here
    ++ring.overwritten;
    EgressDrop(dprsr, DropReason::kBurstRadarOverwritten);
    return;
  }
  if (rte_pktmbuf_tailroom(m) + m->data_len < kCourierBytes) {
    EgressDrop(dprsr, DropReason::kEgressDrop);
    return;
  }
  uint8_t* base = rte_pktmbuf_mtod(m, uint8_t*);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(base);
  std::memcpy(&eth->src_addr, courier_src_mac_.data(), 6);
  std::memcpy(&eth->dst_addr, courier_dst_mac_.data(), 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  *ip = {};
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(kCourierBytes - sizeof(rte_ether_hdr));
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(courier_src_ip_);
  ip->dst_addr = rte_cpu_to_be_32(courier_dst_ip_);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = udp->dst_port = rte_cpu_to_be_16(kCourierUdpPort);
  udp->dgram_len = rte_cpu_to_be_16(sizeof(rte_udp_hdr) + sizeof(CourierWire));
  udp->dgram_cksum = 0;
  CourierWire w{};
  w.seq = rte_cpu_to_be_32(e.seq);
  w.src_ip = rte_cpu_to_be_32(e.src_ip);
  w.dst_ip = rte_cpu_to_be_32(e.dst_ip);
  w.src_port = rte_cpu_to_be_16(e.src_port);
  w.dst_port = rte_cpu_to_be_16(e.dst_port);
  w.proto = e.proto;
  w.egress_port = rte_cpu_to_be_16(e.egress_port);
  w.enq_tstamp = rte_cpu_to_be_32(e.enq_tstamp);
  w.deq_tstamp = rte_cpu_to_be_32(e.deq_tstamp);
  w.enq_qdepth = rte_cpu_to_be_32(e.enq_qdepth);
  w.deq_qdepth = rte_cpu_to_be_32(e.deq_qdepth);
  w.pkt_length = rte_cpu_to_be_16(e.pkt_length);
  std::memcpy(udp + 1, &w, sizeof(w));
  m->data_len = kCourierBytes;
  m->pkt_len = kCourierBytes;
  ++ring.couriers;
}

nlohmann::json BurstRadarStage::Counters() const {
  uint64_t marked = 0, couriers = 0, overwritten = 0, seen = 0;
  for (const auto& r : rings_) {
    marked += r->marked;
    couriers += r->couriers;
    overwritten += r->overwritten;
  }
  nlohmann::json thresholds = nlohmann::json::object();
  for (size_t p = 0; p < threshold_cells_.size(); ++p) {
    if (threshold_cells_[p] == 0) continue;
    thresholds[std::to_string(p)] = threshold_cells_[p];
    seen += packets_seen_[p].value();
  }
  return {{"watched_packets", seen},     {"marked", marked},
          {"couriers", couriers},        {"overwritten", overwritten},
          {"threshold_cells", thresholds}, {"ring_entries", ring_entries_}};
}

std::vector<pipe::ResourceUse> BurstRadarStage::Resources(uint8_t first) const {
  // Per pipe: the remaining-bytes register per port, the ring index and
  // the ring (29 bytes of telemetry per entry on Tofino: several registers
  // in consecutive stages, one stateful ALU each).
  return {
      {"bytes_remaining", pipe::ResourceKind::kRegister, first, 512, 32, 32},
      {"ring_index", pipe::ResourceKind::kRegister, static_cast<uint8_t>(first + 1), 1, 32, 32},
      {"ring_5tuple", pipe::ResourceKind::kRegister, static_cast<uint8_t>(first + 2), ring_entries_, 64, 64},
      {"ring_addresses", pipe::ResourceKind::kRegister, static_cast<uint8_t>(first + 3), ring_entries_, 64, 64},
      {"ring_timestamps", pipe::ResourceKind::kRegister, static_cast<uint8_t>(first + 4), ring_entries_, 64, 64},
      {"ring_depths", pipe::ResourceKind::kRegister, static_cast<uint8_t>(first + 5), ring_entries_, 64, 64},
  };
}

}  // namespace softfino::pipelines
