#include "pipelines/l3fwd/l3fwd.h"

#include <rte_byteorder.h>
#include <rte_prefetch.h>

#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "softfino/net/checksum.h"
#include "softfino/pipe/parser.h"
#include "softfino/pipe/table_config.h"

namespace softfino::pipelines {

using pipe::DropReason;
using pipe::L3Type;
using pipe::PacketBurst;
using pipe::ParsedHeaders;

std::unique_ptr<pipe::Program> L3fwd::Create() { return std::make_unique<L3fwd>(); }

absl::Status L3fwd::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (auto s = pipe::CheckTableNames(config, {"nexthop", "ipv4_lpm", "ipv6_lpm"}); !s.ok()) return s;

  // Build everything aside and install only when the whole config is good.
  std::vector<Nexthop> nexthops;
  absl::flat_hash_map<uint64_t, uint32_t> index_of_id;
  absl::Status s = pipe::ForEachEntry(config, "nexthop", [&](const pipe::TableEntry& e) {
    if (auto shape = e.CheckShape({"nexthop_id"}, {"forward"}, {"port", "src_mac", "dst_mac"});
        !shape.ok()) {
      return shape;
    }
    auto id = e.KeyUint("nexthop_id", 0xffff);
    auto port = e.DataUint("port", 0xffff);
    auto src = e.DataMac("src_mac");
    auto dst = e.DataMac("dst_mac");
    for (const absl::Status& field : {id.status(), port.status(), src.status(), dst.status()}) {
      if (!field.ok()) return field;
    }
    if (*port >= info.port_count) {
      return e.Error("data.port", absl::StrCat("port ", *port, " does not exist; this switch has ",
                                               info.port_count, " port(s), 0..",
                                               info.port_count - 1));
    }
    if (!index_of_id.emplace(*id, nexthops.size()).second) {
      return e.Error("key.nexthop_id", absl::StrCat("nexthop_id ", *id, " is defined twice"));
    }
    if (nexthops.size() == kNexthopTableSize) {
      return e.Error("", absl::StrCat("the nexthop table holds at most ", kNexthopTableSize, " entries"));
    }
    nexthops.push_back({static_cast<pipe::PortId>(*port), *src, *dst});
    return absl::OkStatus();
  });
  if (!s.ok()) return s;

  // Resolves a route entry's nexthop_id to the dense index its table stores.
  const auto route_target = [&](const pipe::TableEntry& e) -> absl::StatusOr<uint32_t> {
    if (auto shape = e.CheckShape({"dst_addr"}, {"set_nexthop"}, {"nexthop_id"}); !shape.ok()) {
      return shape;
    }
    auto id = e.DataUint("nexthop_id", 0xffff);
    if (!id.ok()) return id.status();
    const auto it = index_of_id.find(*id);
    if (it == index_of_id.end()) {
      return e.Error("data.nexthop_id",
                     absl::StrCat("nexthop_id ", *id, " is not in the nexthop table"));
    }
    return it->second;
  };

  // Both route tables load the same way; only the prefix type differs.
  const auto load_routes = [&](absl::string_view table, auto& lpm,
                               auto parse_prefix) -> absl::Status {
    return pipe::ForEachEntry(config, table, [&](const pipe::TableEntry& e) -> absl::Status {
      auto target = route_target(e);
      if (!target.ok()) return target.status();
      auto prefix = parse_prefix(e);
      if (!prefix.ok()) return prefix.status();
      if (auto added = lpm.Add(*prefix, *target); !added.ok()) return e.Error("", added.message());
      return absl::OkStatus();
    });
  };
  auto ipv4 = pipe::Ipv4LpmTable::Create("l3fwd_ipv4", kIpv4LpmSize);
  if (!ipv4.ok()) return ipv4.status();
  s = load_routes("ipv4_lpm", **ipv4,
                  [](const pipe::TableEntry& e) { return e.KeyIpv4Prefix("dst_addr"); });
  if (!s.ok()) return s;
  auto ipv6 = pipe::Ipv6LpmTable::Create("l3fwd_ipv6", kIpv6LpmSize);
  if (!ipv6.ok()) return ipv6.status();
  s = load_routes("ipv6_lpm", **ipv6,
                  [](const pipe::TableEntry& e) { return e.KeyIpv6Prefix("dst_addr"); });
  if (!s.ok()) return s;

  nexthops_ = std::move(nexthops);
  ipv4_lpm_ = *std::move(ipv4);
  ipv6_lpm_ = *std::move(ipv6);
  return absl::OkStatus();
}

void L3fwd::Ingress(PacketBurst& burst) const {
  const uint16_t n = burst.count;
  ParsedHeaders hdr[pipe::kBurstSize];

  // Stage 1: parse. Prefetch a few packets ahead so their first line is in
  // cache when the parser reaches it.
  constexpr uint16_t kPrefetchAhead = 4;
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(burst.pkts[i], void*));
  }
  uint32_t v4_addr[pipe::kBurstSize];
  uint16_t v4_pkt[pipe::kBurstSize];
  uint8_t v6_addr[pipe::kBurstSize][16];
  uint16_t v6_pkt[pipe::kBurstSize];
  uint16_t n4 = 0, n6 = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(burst.pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = burst.pkts[i];
    const DropReason reason = pipe::ParseL3(rte_pktmbuf_mtod(m, uint8_t*), m->data_len, m->pkt_len, hdr[i]);
    if (reason != DropReason::kNone) {
      burst.md[i].Drop(reason);
    } else if (hdr[i].l3_type == L3Type::kIpv4) {
      v4_addr[n4] = rte_be_to_cpu_32(hdr[i].ipv4->dst_addr);
      v4_pkt[n4++] = i;
    } else {
      std::memcpy(v6_addr[n6], hdr[i].ipv6->dst_addr, 16);
      v6_pkt[n6++] = i;
    }
  }

  // Stage 2: route lookups, one bulk call per family so misses overlap.
  uint32_t v4_nh[pipe::kBurstSize];
  uint32_t v6_nh[pipe::kBurstSize];
  if (n4) ipv4_lpm_->LookupBulk(v4_addr, v4_nh, n4);
  if (n6) ipv6_lpm_->LookupBulk(v6_addr, v6_nh, n6);

  // Stage 3: next hop and TTL. No route is decided before TTL, as a router
  // that found no route never looks at the TTL.
  const auto forward = [&](uint16_t i, uint32_t nh) {
    const Nexthop& hop = nexthops_[nh];
    burst.md[i].ig_intr_md_for_tm.ucast_egress_port = hop.port;
    std::memcpy(&hdr[i].eth->dst_addr, hop.dst_mac.data(), 6);
    std::memcpy(&hdr[i].eth->src_addr, hop.src_mac.data(), 6);
  };
  for (uint16_t k = 0; k < n4; ++k) {
    const uint16_t i = v4_pkt[k];
    rte_ipv4_hdr* ip = hdr[i].ipv4;
    if (v4_nh[k] == pipe::Ipv4LpmTable::kMiss) {
      burst.md[i].Drop(DropReason::kNoRoute);
    } else if (ip->time_to_live <= 1) {
      burst.md[i].Drop(DropReason::kTtlExpired);
    } else {
      // TTL and protocol share one 16-bit word of the checksum.
      uint16_t old_word;
      std::memcpy(&old_word, &ip->time_to_live, 2);
      --ip->time_to_live;
      uint16_t new_word;
      std::memcpy(&new_word, &ip->time_to_live, 2);
      ip->hdr_checksum = net::ChecksumUpdate16(ip->hdr_checksum, old_word, new_word);
      forward(i, v4_nh[k]);
    }
  }
  for (uint16_t k = 0; k < n6; ++k) {
    const uint16_t i = v6_pkt[k];
    rte_ipv6_hdr* ip = hdr[i].ipv6;
    if (v6_nh[k] == pipe::Ipv6LpmTable::kMiss) {
      burst.md[i].Drop(DropReason::kNoRoute);
    } else if (ip->hop_limits <= 1) {
      burst.md[i].Drop(DropReason::kTtlExpired);
    } else {
      --ip->hop_limits;
      forward(i, v6_nh[k]);
    }
  }
}

std::vector<pipe::ResourceUse> L3fwd::Resources() const {
  using pipe::ResourceKind;
  return {
      {"ipv4_lpm", ResourceKind::kLpmTable, 0, kIpv4LpmSize.max_rules, 32, 16},
      {"ipv6_lpm", ResourceKind::kLpmTable, 0, kIpv6LpmSize.max_rules, 128, 16},
      {"nexthop", ResourceKind::kExactTable, 1, kNexthopTableSize, 16, 9 + 48 + 48},
      {"drop_counter", ResourceKind::kCounter, 2, 16, 0, 64},
  };
}

}  // namespace softfino::pipelines
