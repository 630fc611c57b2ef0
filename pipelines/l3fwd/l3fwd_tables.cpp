#include "pipelines/l3fwd/l3fwd_tables.h"

#include "absl/strings/str_cat.h"

namespace softfino::pipelines {

using pipe::TableEntry;
using pipe::TableOpKind;

// What differs between the two route tables.
struct Ipv4Family {
  using Prefix = net::Ipv4Prefix;
  static constexpr absl::string_view kTable = "ipv4_lpm";
  static auto& Routes(L3fwdTables& t) { return t.ipv4_routes; }
  static std::pair<uint32_t, uint8_t> KeyOf(const Prefix& p) { return {p.addr, p.length}; }
  static absl::StatusOr<Prefix> Parse(const TableEntry& e) { return e.KeyIpv4Prefix("dst_addr"); }
  static std::string Format(const Prefix& p) { return net::FormatIpv4Prefix(p); }
  static absl::Status Ensure(L3fwdTableBuilder& b) { return b.EnsureIpv4(); }
  static pipe::Ipv4LpmTable& Lpm(L3fwdTableBuilder& b) { return *b.ipv4_; }
};

struct Ipv6Family {
  using Prefix = net::Ipv6Prefix;
  static constexpr absl::string_view kTable = "ipv6_lpm";
  static auto& Routes(L3fwdTables& t) { return t.ipv6_routes; }
  static std::pair<std::array<uint8_t, 16>, uint8_t> KeyOf(const Prefix& p) {
    return {p.addr, p.length};
  }
  static absl::StatusOr<Prefix> Parse(const TableEntry& e) { return e.KeyIpv6Prefix("dst_addr"); }
  static std::string Format(const Prefix& p) { return net::FormatIpv6Prefix(p); }
  static absl::Status Ensure(L3fwdTableBuilder& b) { return b.EnsureIpv6(); }
  static pipe::Ipv6LpmTable& Lpm(L3fwdTableBuilder& b) { return *b.ipv6_; }
};

namespace {

nlohmann::json RouteEntry(const std::string& prefix, uint16_t nexthop_id) {
  return {{"key", {{"dst_addr", prefix}}},
          {"action", "set_nexthop"},
          {"data", {{"nexthop_id", nexthop_id}}}};
}

}  // namespace

absl::StatusOr<L3fwdTables> L3fwdTables::Empty(uint16_t pipes) {
  auto table = L3fwdNexthopTable::Create({.name = "nexthop",
                                          .size = kNexthopTableSize,
                                          .pipes = pipes,
                                          .direct_counters = true,
                                          .idle_timeout = true});
  if (!table.ok()) return table.status();
  L3fwdTables t;
  t.nexthop = *std::move(table);
  return t;
}

nlohmann::json L3fwdTables::Dump(absl::string_view table) const {
  nlohmann::json out = nlohmann::json::array();
  if (table == "nexthop") {
    for (const auto& [id, routes] : nexthop_ids) {
      const pipe::EntryHandle handle = HandleOf(id);
      const L3fwdNexthop& hop = nexthops[handle];
      nlohmann::json e = {{"key", {{"nexthop_id", id}}},
                          {"action", "forward"},
                          {"data",
                           {{"port", hop.port},
                            {"src_mac", net::FormatMac(hop.src_mac)},
                            {"dst_mac", net::FormatMac(hop.dst_mac)}}}};
      if (const uint32_t ttl = nexthop->ttl_ms(handle); ttl != 0) e["ttl_ms"] = ttl;
      out.push_back(std::move(e));
    }
  } else if (table == "ipv4_lpm") {
    for (const auto& [key, id] : ipv4_routes) {
      out.push_back(RouteEntry(net::FormatIpv4Prefix({key.first, key.second}), id));
    }
  } else if (table == "ipv6_lpm") {
    for (const auto& [key, id] : ipv6_routes) {
      out.push_back(RouteEntry(net::FormatIpv6Prefix({key.first, key.second}), id));
    }
  }
  return out;
}

absl::StatusOr<pipe::EntryHandle> L3fwdTables::FindNexthop(const nlohmann::json& entry,
                                                           absl::string_view path) const {
  if (auto s = pipe::CheckKeyOnly(entry, path, {"nexthop_id"}, "a counter request"); !s.ok()) {
    return s;
  }
  const TableEntry e(entry, std::string(path));
  auto id = e.KeyUint("nexthop_id", 0xffff);
  if (!id.ok()) return id.status();
  if (!nexthop_ids.contains(static_cast<uint16_t>(*id))) {
    return e.Error("key.nexthop_id", absl::StrCat("no nexthop_id ", *id, " in the nexthop table"));
  }
  return HandleOf(static_cast<uint16_t>(*id));
}

L3fwdTableBuilder::L3fwdTableBuilder(const L3fwdTables& base, uint16_t port_count)
    : next_(std::make_unique<L3fwdTables>(base)), port_count_(port_count) {}

absl::Status L3fwdTableBuilder::Apply(TableOpKind kind, absl::string_view table,
                                      const nlohmann::json& entry, const std::string& path,
                                      bool from_config) {
  const TableEntry e(entry, path);
  if (table == "nexthop") return ApplyNexthop(kind, entry, e, from_config);
  if (table == "ipv4_lpm") return ApplyRoute<Ipv4Family>(kind, entry, e, from_config);
  if (table == "ipv6_lpm") return ApplyRoute<Ipv6Family>(kind, entry, e, from_config);
  return absl::InvalidArgumentError(absl::StrCat(path, ": l3fwd has no table '", table, "'"));
}

absl::StatusOr<L3fwdNexthopTable*> L3fwdTableBuilder::MutableNexthop() {
  if (!nexthop_cloned_) {
    auto clone = next_->nexthop->Clone();
    if (!clone.ok()) return clone.status();
    next_->nexthop = *std::move(clone);
    nexthop_cloned_ = true;
  }
  return next_->nexthop.get();
}

absl::Status L3fwdTableBuilder::ApplyNexthop(TableOpKind kind, const nlohmann::json& entry,
                                             const TableEntry& e, bool from_config) {
  auto& ids = next_->nexthop_ids;
  if (kind == TableOpKind::kDelete) {
    if (auto s = pipe::CheckKeyOnly(entry, e.path(), {"nexthop_id"}); !s.ok()) return s;
    auto id = e.KeyUint("nexthop_id", 0xffff);
    if (!id.ok()) return id.status();
    const auto it = ids.find(static_cast<uint16_t>(*id));
    if (it == ids.end()) {
      return e.Error("key.nexthop_id", absl::StrCat("no nexthop_id ", *id, " in the nexthop table"));
    }
    if (it->second != 0) {
      return e.Error("key.nexthop_id",
                     absl::StrCat("nexthop_id ", *id, " is used by ", it->second,
                                  " route(s); delete them or move them to another next hop first"));
    }
    auto table = MutableNexthop();
    if (!table.ok()) return table.status();
    // Its handle (and counter) is freed once no version holds it any more.
    if (auto s = (*table)->Delete(L3fwdNexthopKey(it->first)); !s.ok()) return e.Error("", s.message());
    ids.erase(it);
    return absl::OkStatus();
  }

  if (auto shape = e.CheckShape({"nexthop_id"}, {"forward"}, {"port", "src_mac", "dst_mac"},
                                /*ttl=*/true);
      !shape.ok()) {
    return shape;
  }
  auto id = e.KeyUint("nexthop_id", 0xffff);
  auto port = e.DataUint("port", 0xffff);
  auto src = e.DataMac("src_mac");
  auto dst = e.DataMac("dst_mac");
  auto ttl = e.TtlMs();
  for (const absl::Status& field :
       {id.status(), port.status(), src.status(), dst.status(), ttl.status()}) {
    if (!field.ok()) return field;
  }
  if (*port >= port_count_) {
    return e.Error("data.port", absl::StrCat("port ", *port, " does not exist; this switch has ",
                                             port_count_, " port(s), 0..", port_count_ - 1));
  }
  const L3fwdNexthop hop{static_cast<pipe::PortId>(*port), *src, *dst,
                         static_cast<uint16_t>(*id)};
  const pipe::Key<2> key = L3fwdNexthopKey(hop.id);
  const auto it = ids.find(hop.id);
  if (kind == TableOpKind::kModify) {
    if (it == ids.end()) {
      return e.Error("key.nexthop_id",
                     absl::StrCat("nexthop_id ", *id, " does not exist; use add to create it"));
    }
    auto table = MutableNexthop();
    if (!table.ok()) return table.status();
    // The entry keeps its handle, so its counter and idle time carry on; a
    // modify without ttl_ms keeps the TTL it had.
    if (auto s = (*table)->Modify(key, {kL3fwdForwardAction, hop}); !s.ok()) {
      return e.Error("", s.message());
    }
    if (ttl->has_value()) {
      if (auto s = (*table)->SetTtl(key, **ttl); !s.ok()) return e.Error("ttl_ms", s.message());
    }
    next_->nexthops[next_->HandleOf(hop.id)] = hop;
    return absl::OkStatus();
  }
  if (it != ids.end()) {
    return e.Error("key.nexthop_id",
                   from_config ? absl::StrCat("nexthop_id ", *id, " is defined twice")
                               : absl::StrCat("nexthop_id ", *id,
                                              " already exists; use modify to change it"));
  }
  if (ids.size() == L3fwdTables::kNexthopTableSize) {
    return e.Error("", absl::StrCat("the nexthop table holds at most ",
                                    L3fwdTables::kNexthopTableSize, " entries"));
  }
  auto table = MutableNexthop();
  if (!table.ok()) return table.status();
  auto handle = (*table)->Add(key, {kL3fwdForwardAction, hop}, ttl->value_or(0));
  if (!handle.ok()) return e.Error("", handle.status().message());
  if (*handle >= next_->nexthops.size()) next_->nexthops.resize(*handle + 1);
  next_->nexthops[*handle] = hop;
  ids.emplace(hop.id, 0);
  return absl::OkStatus();
}

template <typename Family>
absl::Status L3fwdTableBuilder::ApplyRoute(TableOpKind kind, const nlohmann::json& entry,
                                           const TableEntry& e, bool from_config) {
  auto& routes = Family::Routes(*next_);
  auto& ids = next_->nexthop_ids;
  if (kind == TableOpKind::kDelete) {
    if (auto s = pipe::CheckKeyOnly(entry, e.path(), {"dst_addr"}); !s.ok()) return s;
    auto prefix = Family::Parse(e);
    if (!prefix.ok()) return prefix.status();
    const auto it = routes.find(Family::KeyOf(*prefix));
    if (it == routes.end()) {
      return e.Error("key.dst_addr", absl::StrCat("no route ", Family::Format(*prefix), " in ",
                                                  Family::kTable));
    }
    if (auto s = Family::Ensure(*this); !s.ok()) return s;
    if (auto s = Family::Lpm(*this).Delete(*prefix); !s.ok()) return e.Error("", s.message());
    --ids[it->second];
    routes.erase(it);
    return absl::OkStatus();
  }

  if (auto shape = e.CheckShape({"dst_addr"}, {"set_nexthop"}, {"nexthop_id"}); !shape.ok()) {
    return shape;
  }
  auto id = e.DataUint("nexthop_id", 0xffff);
  if (!id.ok()) return id.status();
  const auto hop = ids.find(static_cast<uint16_t>(*id));
  if (hop == ids.end()) {
    return e.Error("data.nexthop_id",
                   absl::StrCat("nexthop_id ", *id, " is not in the nexthop table"));
  }
  auto prefix = Family::Parse(e);
  if (!prefix.ok()) return prefix.status();
  const auto it = routes.find(Family::KeyOf(*prefix));
  const std::string text = Family::Format(*prefix);
  if (kind == TableOpKind::kModify && it == routes.end()) {
    return e.Error("key.dst_addr", absl::StrCat("no route ", text, " in ", Family::kTable,
                                                "; use add to create it"));
  }
  if (kind == TableOpKind::kAdd && it != routes.end()) {
    return e.Error("key.dst_addr",
                   from_config ? absl::StrCat("route ", text, " is defined twice")
                               : absl::StrCat("route ", text, " already exists in ", Family::kTable,
                                              "; use modify to change it"));
  }
  if (auto s = Family::Ensure(*this); !s.ok()) return s;
  if (auto s = Family::Lpm(*this).Add(*prefix, next_->HandleOf(hop->first)); !s.ok()) {
    return e.Error("", s.message());
  }
  ++hop->second;
  if (it == routes.end()) {
    routes.emplace(Family::KeyOf(*prefix), static_cast<uint16_t>(*id));
  } else {
    --ids[it->second];
    it->second = static_cast<uint16_t>(*id);
  }
  return absl::OkStatus();
}

absl::Status L3fwdTableBuilder::EnsureIpv4() {
  if (ipv4_) return absl::OkStatus();
  auto lpm = pipe::Ipv4LpmTable::Create("l3fwd_ipv4", L3fwdTables::kIpv4LpmSize);
  if (!lpm.ok()) return lpm.status();
  for (const auto& [key, id] : next_->ipv4_routes) {
    if (auto s = (*lpm)->Add({key.first, key.second}, next_->HandleOf(id)); !s.ok()) {
      return s;
    }
  }
  ipv4_ = *std::move(lpm);
  return absl::OkStatus();
}

absl::Status L3fwdTableBuilder::EnsureIpv6() {
  if (ipv6_) return absl::OkStatus();
  auto lpm = pipe::Ipv6LpmTable::Create("l3fwd_ipv6", L3fwdTables::kIpv6LpmSize);
  if (!lpm.ok()) return lpm.status();
  for (const auto& [key, id] : next_->ipv6_routes) {
    if (auto s = (*lpm)->Add({key.first, key.second}, next_->HandleOf(id)); !s.ok()) {
      return s;
    }
  }
  ipv6_ = *std::move(lpm);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<const L3fwdTables>> L3fwdTableBuilder::Finish() {
  if (next_->ipv4_lpm == nullptr) {
    if (auto s = EnsureIpv4(); !s.ok()) return s;
  }
  if (next_->ipv6_lpm == nullptr) {
    if (auto s = EnsureIpv6(); !s.ok()) return s;
  }
  if (ipv4_) next_->ipv4_lpm = std::move(ipv4_);
  if (ipv6_) next_->ipv6_lpm = std::move(ipv6_);
  return std::unique_ptr<const L3fwdTables>(std::move(next_));
}

}  // namespace softfino::pipelines
