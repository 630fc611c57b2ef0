#include "pipelines/l3fwd/l3fwd.h"

#include <rte_byteorder.h>
#include <rte_prefetch.h>

#include <chrono>
#include <algorithm>
#include <iterator>
#include <cstring>
#include <string>

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
  // "trumpet" and "burstradar" are this program's own sections; the rest
  // is the switch's.
  nlohmann::json rest = config;
  if (rest.is_object()) {
    rest.erase("trumpet");
    rest.erase("burstradar");
  }
  if (auto s = pipe::CheckTableNames(rest, kL3fwdTableNames); !s.ok()) return s;
  if (config.is_object() && config.contains("trumpet")) {
    if (auto s = trumpet_.Configure(config["trumpet"], info.pipe_count); !s.ok()) return s;
  }
  if (config.is_object() && config.contains("burstradar")) {
    const nlohmann::json& b = config["burstradar"];
    if (!b.is_object()) return absl::InvalidArgumentError("burstradar: expected an object");
    for (const auto& [key, value] : b.items()) {
      if (std::find_if(std::begin(BurstRadarStage::kFields), std::end(BurstRadarStage::kFields),
                       [&name = key](const char* f) { return name == f; }) ==
          std::end(BurstRadarStage::kFields)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "burstradar: unknown field \"", key,
            "\" (l3fwd routes, so there is no forward; it has watch, threshold_bytes, "
            "threshold_rtt_fraction, rtt_us, ring_entries, monitor_port, mirror_session, courier)"));
      }
    }
    // Watched by default: every port but the monitor.
    if (auto s = burstradar_.Configure(b, info, {}); !s.ok()) return s;
  }
  port_count_ = info.port_count;
  auto max_len = pipe::Register<uint16_t>::Create("max_ip_len", kPortCells, info.pipe_count);
  if (!max_len.ok()) return max_len.status();
  auto nexthop_counter = pipe::CounterArray::Create(
      "nexthop_counter", kNexthopIdCells, pipe::CounterType::kPacketsAndBytes, info.pipe_count);
  if (!nexthop_counter.ok()) return nexthop_counter.status();
  stateful_ = pipe::StatefulControl();
  max_ip_len_ = *std::move(max_len);
  nexthop_counter_ = *std::move(nexthop_counter);
  if (auto s = stateful_.AddRegister(*max_ip_len_); !s.ok()) return s;
  if (auto s = stateful_.AddCounter(*nexthop_counter_); !s.ok()) return s;
  // The config is one batch of adds, next hops first so routes may name
  // them whatever order the file lists its tables in.
  clocks_ = std::make_unique<pipe::PipeClocks>(info.pipe_count);
  idle_clocks_started_ = false;
  last_sweep_ns_ = 0;
  auto empty = L3fwdTables::Empty(info.pipe_count);
  if (!empty.ok()) return empty.status();
  L3fwdTableBuilder builder(*empty, port_count_);
  for (absl::string_view table : kL3fwdTableNames) {
    // ForEachEntry visits the entries in order and stops at the first error.
    size_t index = 0;
    absl::Status s = pipe::ForEachEntry(config, table, [&](const pipe::TableEntry& e) {
      const nlohmann::json& entry = config["tables"][std::string(table)][index++];
      return builder.Apply(pipe::TableOpKind::kAdd, table, entry, e.path(), /*from_config=*/true);
    });
    if (!s.ok()) return s;
  }
  auto tables = builder.Finish();
  if (!tables.ok()) return tables.status();
  tables_.ResetUnshared(*std::move(tables));
  return absl::OkStatus();
}

std::vector<std::string> L3fwd::TableNames() const {
  return {std::begin(kL3fwdTableNames), std::end(kL3fwdTableNames)};
}

absl::StatusOr<pipe::CommitStats> L3fwd::Commit(absl::Span<const pipe::TableOp> ops,
                                                const pipe::RcuDomain& rcu) {
  const auto start = std::chrono::steady_clock::now();
  L3fwdTableBuilder builder(tables_.current(), port_count_);
  for (const pipe::TableOp& op : ops) {
    if (auto s = builder.Apply(op.kind, op.table, *op.entry, op.path); !s.ok()) return s;
  }
  auto next = builder.Finish();
  if (!next.ok()) return next.status();
  const auto built = std::chrono::steady_clock::now();
  tables_.Publish(*std::move(next), rcu);
  const auto done = std::chrono::steady_clock::now();
  using Us = std::chrono::duration<double, std::micro>;
  return pipe::CommitStats{ops.size(), Us(built - start).count(), Us(done - built).count()};
}

absl::StatusOr<nlohmann::json> L3fwd::Dump(absl::string_view table) const {
  return tables_.current().Dump(table);
}

namespace {

nlohmann::json CounterJson(uint16_t id, const pipe::CounterValue& v) {
  return {{"key", {{"nexthop_id", id}}},
          {"counter", {{"packets", v.packets}, {"bytes", v.bytes}}}};
}

absl::Status NoDirectCounter(absl::string_view table) {
  return absl::InvalidArgumentError(absl::StrCat(
      "table: '", table, "' has no direct counter (in l3fwd only 'nexthop' has one)"));
}

}  // namespace

absl::StatusOr<nlohmann::json> L3fwd::ReadCounters(absl::string_view table,
                                                   const nlohmann::json* entry,
                                                   absl::string_view path) const {
  if (table != "nexthop") return NoDirectCounter(table);
  const L3fwdTables& t = tables_.current();
  nlohmann::json out = nlohmann::json::array();
  if (entry != nullptr) {
    auto handle = t.FindNexthop(*entry, path);
    if (!handle.ok()) return handle.status();
    out.push_back(CounterJson(t.nexthops[*handle].id, t.nexthop->ReadCounter(*handle)));
    return out;
  }
  for (const auto& [id, routes] : t.nexthop_ids) {
    out.push_back(CounterJson(id, t.nexthop->ReadCounter(t.HandleOf(id))));
  }
  return out;
}

absl::StatusOr<size_t> L3fwd::ClearCounters(absl::string_view table, const nlohmann::json* entry,
                                            absl::string_view path) {
  if (table != "nexthop") return NoDirectCounter(table);
  const L3fwdTables& t = tables_.current();
  // The counters live beside the versions (all share them), so clearing
  // through the published version needs no commit.
  if (entry != nullptr) {
    auto handle = t.FindNexthop(*entry, path);
    if (!handle.ok()) return handle.status();
    t.nexthop->ClearCounter(*handle);
    return 1;
  }
  for (const auto& [id, routes] : t.nexthop_ids) t.nexthop->ClearCounter(t.HandleOf(id));
  return t.nexthop_ids.size();
}

void L3fwd::SweepIdle(const std::function<void(nlohmann::json)>& emit) {
  const uint64_t now = clocks_->Now();
  if (now == 0) return;  // some pipe has no time yet
  const L3fwdTables& t = tables_.current();
  const auto report = [&](const pipe::Key<2>& key, pipe::EntryHandle handle) {
    const uint16_t id = static_cast<uint16_t>(key.bytes[0] << 8 | key.bytes[1]);
    emit({{"event", "idle_timeout"},
          {"table", "nexthop"},
          {"key", {{"nexthop_id", id}}},
          {"ttl_ms", t.nexthop->ttl_ms(handle)},
          {"last_hit_ns", t.nexthop->LastHit(handle)},
          {"now_ns", now}});
  };
  if (!idle_clocks_started_) {
    // The entries the switch started with have been idle since its time
    // began, however late this first sweep runs (in virtual time the pipes
    // may be far ahead by now). Entries added later start at the first
    // sweep that sees them.
    t.nexthop->SweepIdle(clocks_->Start(), report);
    idle_clocks_started_ = true;
  }
  if (now == last_sweep_ns_) return;
  last_sweep_ns_ = now;
  t.nexthop->SweepIdle(now, report);
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
  const uint16_t pipe_id = n ? burst.md[0].ig_intr_md.pipe : 0;  // one burst, one pipe
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(burst.pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = burst.pkts[i];
    const DropReason reason = pipe::ParseL3(rte_pktmbuf_mtod(m, uint8_t*), m->data_len, m->pkt_len, hdr[i]);
    if (reason != DropReason::kNone) {
      burst.md[i].Drop(reason);
      continue;
    }
    // l3_length fits 16 bits: IPv4's total length, or 40 + an IPv6 payload
    // length that the parser checked against the frame (mbufs are < 64 KiB).
    const uint16_t ip_len = static_cast<uint16_t>(hdr[i].l3_length);
    max_ip_len_->Execute(pipe_id, burst.md[i].ig_intr_md.ingress_port, [ip_len](uint16_t& longest) {
      if (ip_len > longest) longest = ip_len;
    });
    if (hdr[i].l3_type == L3Type::kIpv4) {
      v4_addr[n4] = rte_be_to_cpu_32(hdr[i].ipv4->dst_addr);
      v4_pkt[n4++] = i;
    } else {
      std::memcpy(v6_addr[n6], hdr[i].ipv6->dst_addr, 16);
      v6_pkt[n6++] = i;
    }
  }

  // Trumpet (when configured) sees every packet that parsed, routed or not.
  trumpet_.Observe(burst, hdr);

  // Stage 2: route lookups, one bulk call per family so misses overlap.
  // One version of the tables serves the whole burst: a commit never shows
  // a pipe half of a batch.
  const L3fwdTables& tables = *tables_.Acquire();
  // The nexthop table's direct counter and idle cells of this pipe.
  const pipe::DirectCells nexthop_cells = tables.nexthop->cells(pipe_id);
  uint32_t v4_nh[pipe::kBurstSize];
  uint32_t v6_nh[pipe::kBurstSize];
  if (n4) tables.ipv4_lpm->LookupBulk(v4_addr, v4_nh, n4);
  if (n6) tables.ipv6_lpm->LookupBulk(v6_addr, v6_nh, n6);

  // Stage 3: next hop and TTL. No route is decided before TTL, as a router
  // that found no route never looks at the TTL. A route's value is its next
  // hop's entry handle: a hit of the nexthop table, counted (direct counter)
  // and stamped (idle timeout) before the TTL check, as in p4/l3fwd.p4.
  const auto hit = [&](uint16_t i, uint32_t nh) {
    nexthop_cells.Hit(nh, burst.pkts[i]->pkt_len, burst.md[i].ig_intr_md.ingress_mac_tstamp);
  };
  const auto forward = [&](uint16_t i, uint32_t nh) {
    const L3fwdNexthop& hop = tables.nexthops[nh];
    burst.md[i].ig_intr_md_for_tm.ucast_egress_port = hop.port;
    nexthop_counter_->Count(pipe_id, hop.id, burst.pkts[i]->pkt_len);
    std::memcpy(&hdr[i].eth->dst_addr, hop.dst_mac.data(), 6);
    std::memcpy(&hdr[i].eth->src_addr, hop.src_mac.data(), 6);
  };
  for (uint16_t k = 0; k < n4; ++k) {
    const uint16_t i = v4_pkt[k];
    rte_ipv4_hdr* ip = hdr[i].ipv4;
    if (v4_nh[k] == pipe::Ipv4LpmTable::kMiss) {
      burst.md[i].Drop(DropReason::kNoRoute);
      continue;
    }
    hit(i, v4_nh[k]);
    if (ip->time_to_live <= 1) {
      burst.md[i].Drop(DropReason::kTtlExpired);
    } else {
      // TTL > 1 here, which the checksum shortcut relies on.
      --ip->time_to_live;
      ip->hdr_checksum = net::ChecksumAfterTtlDecrement(ip->hdr_checksum);
      forward(i, v4_nh[k]);
    }
  }
  for (uint16_t k = 0; k < n6; ++k) {
    const uint16_t i = v6_pkt[k];
    rte_ipv6_hdr* ip = hdr[i].ipv6;
    if (v6_nh[k] == pipe::Ipv6LpmTable::kMiss) {
      burst.md[i].Drop(DropReason::kNoRoute);
      continue;
    }
    hit(i, v6_nh[k]);
    if (ip->hop_limits <= 1) {
      burst.md[i].Drop(DropReason::kTtlExpired);
    } else {
      --ip->hop_limits;
      forward(i, v6_nh[k]);
    }
  }
}

nlohmann::json L3fwd::Counters() const {
  nlohmann::json out = nlohmann::json::object();
  if (nlohmann::json trumpet = trumpet_.Counters(); !trumpet.is_null()) out["trumpet"] = trumpet;
  if (burstradar_.enabled()) out["burstradar"] = burstradar_.Counters();
  if (out.empty()) return nullptr;
  return out;
}

pipe::ProgramReplication L3fwd::Replication() const {
  pipe::ProgramReplication r;
  if (burstradar_.enabled()) r.mirror_sessions = burstradar_.MirrorSessions();
  return r;
}

std::vector<pipe::ResourceUse> L3fwd::Resources() const {
  using pipe::ResourceKind;
  return {
      {"ipv4_lpm", ResourceKind::kLpmTable, 0, kIpv4LpmSize.max_rules, 32, 16},
      {"ipv6_lpm", ResourceKind::kLpmTable, 0, kIpv6LpmSize.max_rules, 128, 16},
      {"nexthop", ResourceKind::kExactTable, 1, kNexthopTableSize, 16, 9 + 48 + 48},
      // Its direct counter (packets and bytes per entry), in its stage.
      {"nexthop_hits", ResourceKind::kCounter, 1, kNexthopTableSize, 0, 64},
      {"drop_counter", ResourceKind::kCounter, 2, 16, 0, 64},
      {"max_ip_len", ResourceKind::kRegister, 0, kPortCells, 0, 16},
      {"nexthop_counter", ResourceKind::kCounter, 1, kNexthopIdCells, 0, 64},
  };
}

}  // namespace softfino::pipelines
