#include "pipelines/packet_fates/packet_fates.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "softfino/pipe/table_config.h"

namespace softfino::pipelines {

using pipe::DropReason;

std::unique_ptr<pipe::Program> PacketFates::Create() { return std::make_unique<PacketFates>(); }

absl::Status PacketFates::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (auto s = pipe::CheckTableNames(config, {"fate", "egress_mirror"}); !s.ok()) return s;
  absl::flat_hash_map<uint16_t, Fate> fates;
  absl::Status s = pipe::ForEachEntry(config, "fate", [&](const pipe::TableEntry& e) -> absl::Status {
    auto action = e.Action();
    if (!action.ok()) return action.status();
    Fate f{};
    std::vector<absl::string_view> fields;
    if (*action == "unicast") {
      f.action = Action::kUnicast, fields = {"port"};
    } else if (*action == "multicast") {
      f.action = Action::kMulticast, fields = {"group"};
    } else if (*action == "mirror_and_forward") {
      f.action = Action::kMirrorAndForward, fields = {"port", "session"};
    } else if (*action == "mirror_and_drop") {
      f.action = Action::kMirrorAndDrop, fields = {"session"};
    } else if (*action == "recirculate_then") {
      f.action = Action::kRecirculateThen, fields = {"port"};
    } else if (*action == "resubmit_then") {
      f.action = Action::kResubmitThen, fields = {"port"};
    } else if (*action == "drop") {
      f.action = Action::kDrop, fields = {};
    } else {
      return e.Error("action", absl::StrCat("unknown action '", *action,
                                            "' (expected 'unicast', 'multicast', "
                                            "'mirror_and_forward', 'mirror_and_drop', "
                                            "'recirculate_then', 'resubmit_then', 'drop')"));
    }
    const absl::string_view action_name = *action;
    if (auto shape = e.CheckShape({"udp_dst_port"}, {action_name}, fields); !shape.ok()) {
      return shape;
    }
    auto key = e.KeyUint("udp_dst_port", 0xffff);
    if (!key.ok()) return key.status();
    for (absl::string_view field : fields) {
      auto v = e.DataUint(field, field == "port" ? info.port_count - 1u : 0xffffu);
      if (!v.ok()) return v.status();
      if (field == "port") f.port = static_cast<pipe::PortId>(*v);
      if (field == "group") f.group = static_cast<uint16_t>(*v);
      if (field == "session") f.session = static_cast<pipe::MirrorSessionId>(*v);
    }
    if (!fates.emplace(static_cast<uint16_t>(*key), f).second) {
      return e.Error("key.udp_dst_port", absl::StrCat("udp_dst_port ", *key, " is listed twice"));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  absl::flat_hash_map<pipe::PortId, pipe::MirrorSessionId> egress_mirror;
  s = pipe::ForEachEntry(config, "egress_mirror", [&](const pipe::TableEntry& e) -> absl::Status {
    if (auto shape = e.CheckShape({"egress_port"}, {"mirror"}, {"session"}); !shape.ok()) return shape;
    auto port = e.KeyUint("egress_port", info.port_count - 1u);
    auto session = e.DataUint("session", 0xffff);
    if (!port.ok()) return port.status();
    if (!session.ok()) return session.status();
    egress_mirror[static_cast<pipe::PortId>(*port)] = static_cast<pipe::MirrorSessionId>(*session);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  fate_ = std::move(fates);
  egress_mirror_ = std::move(egress_mirror);
  return absl::OkStatus();
}

namespace {

// The UDP header of an Ethernet/IPv4/UDP frame, or null. Lengths are not
// checked against the frame: mirror copies may be truncated, and a Tofino
// parser would read their headers all the same.
rte_udp_hdr* FindUdp(rte_mbuf* m, uint32_t need_after_udp) {
  auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
  if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return nullptr;
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return nullptr;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame + sizeof(rte_ether_hdr));
  const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
  const uint32_t udp_at = sizeof(rte_ether_hdr) + ihl;
  if (ip->next_proto_id != IPPROTO_UDP || ihl < 20 ||
      m->data_len < udp_at + sizeof(rte_udp_hdr) + need_after_udp) {
    return nullptr;
  }
  return reinterpret_cast<rte_udp_hdr*>(frame + udp_at);
}

}  // namespace

void PacketFates::Ingress(pipe::PacketBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    pipe::IngressMetadata& md = burst.md[i];
    rte_udp_hdr* udp = FindUdp(burst.pkts[i], 0);
    // The record's last byte counts passes through ingress after the first.
    uint8_t* passes = FindUdp(burst.pkts[i], kRecordBytes) != nullptr
                          ? reinterpret_cast<uint8_t*>(udp + 1) + 7
                          : nullptr;
    const bool again = md.ig_intr_md.resubmit_flag ||
                       md.ig_intr_md.ingress_port == pipe::RecirculationPort(md.ig_intr_md.pipe);
    if (again && passes) ++*passes;
    const auto it = udp ? fate_.find(rte_be_to_cpu_16(udp->dst_port)) : fate_.end();
    if (it == fate_.end()) {
      md.Drop(DropReason::kNoRoute);
      continue;
    }
    const Fate& f = it->second;
    auto& tm = md.ig_intr_md_for_tm;
    auto& dprsr = md.ig_intr_md_for_dprsr;
    switch (f.action) {
      case Action::kUnicast:
        tm.ucast_egress_port = f.port;
        break;
      case Action::kMulticast:
        tm.mcast_grp_a = f.group;
        break;
      case Action::kMirrorAndForward:
        tm.ucast_egress_port = f.port;
        dprsr.mirror_type = 1;
        dprsr.mirror_session = f.session;
        break;
      case Action::kMirrorAndDrop:
        dprsr.mirror_type = 1;
        dprsr.mirror_session = f.session;
        md.Drop(DropReason::kProgramDrop);
        break;
      case Action::kRecirculateThen:
        tm.ucast_egress_port = md.ig_intr_md.ingress_port == pipe::RecirculationPort(md.ig_intr_md.pipe)
                                   ? f.port
                                   : pipe::RecirculationPort(md.ig_intr_md.pipe);
        break;
      case Action::kResubmitThen:
        if (md.ig_intr_md.resubmit_flag) {
          tm.ucast_egress_port = f.port;
        } else {
          // Scribbled on the first pass; resubmit must undo it.
          if (passes) *passes = 0xee;
          dprsr.resubmit_type = 1;
        }
        break;
      case Action::kDrop:
        md.Drop(DropReason::kProgramDrop);
        break;
    }
  }
}

void PacketFates::Egress(pipe::EgressBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    const pipe::EgressIntrinsicMetadata& md = burst.eg_intr_md[i];
    if (md.instance_type == pipe::InstanceType::kNormal) {
      const auto it = egress_mirror_.find(md.egress_port);
      if (it != egress_mirror_.end()) {
        burst.eg_intr_md_for_dprsr[i].mirror_type = 1;
        burst.eg_intr_md_for_dprsr[i].mirror_session = it->second;
      }
    }
    rte_udp_hdr* udp = FindUdp(burst.pkts[i], kRecordBytes);
    if (udp == nullptr) continue;
    udp->dgram_cksum = 0;
    uint8_t* r = reinterpret_cast<uint8_t*>(udp + 1);
    const uint16_t rid = rte_cpu_to_be_16(md.egress_rid);
    const uint16_t port = rte_cpu_to_be_16(md.egress_port);
    const uint16_t session = rte_cpu_to_be_16(md.mirror_session);
    r[0] = static_cast<uint8_t>(md.instance_type);
    std::memcpy(r + 1, &rid, 2);
    std::memcpy(r + 3, &port, 2);
    std::memcpy(r + 5, &session, 2);  // r[7] is ingress's pass count
  }
}

std::vector<pipe::ResourceUse> PacketFates::Resources() const {
  // Ingress and egress share the MAU stages on Tofino.
  return {{"fate", pipe::ResourceKind::kExactTable, 0, 1024, 16, 16 + 16},
          {"egress_mirror", pipe::ResourceKind::kExactTable, 0, 512, 9, 10}};
}

}  // namespace softfino::pipelines
