#include "pipelines/tea_nat/tea_nat.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "pipelines/tea_common/flow_headers.h"
#include "softfino/pipe/parser.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

constexpr const char* kConnection[2] = {"nat_out", "nat_in"};
constexpr const char* kTableField[2] = {"out_table", "in_table"};

absl::StatusOr<std::vector<pipe::PortId>> Ports(const nlohmann::json& nat, const char* field,
                                                const pipe::SwitchInfo& info) {
  const auto it = nat.find(field);
  if (it == nat.end() || !it->is_array() || it->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("nat.", field, " must be a non-empty list of port numbers, like [0]"));
  }
  std::vector<pipe::PortId> ports;
  for (const nlohmann::json& p : *it) {
    if (!p.is_number_unsigned() || p.get<uint64_t>() >= info.port_count) {
      return absl::InvalidArgumentError(absl::StrCat("nat.", field, ": ", p.dump(),
                                                     " is no port; the switch has ports 0..",
                                                     info.port_count - 1));
    }
    ports.push_back(static_cast<pipe::PortId>(p.get<uint64_t>()));
  }
  return ports;
}

}  // namespace

std::unique_ptr<pipe::Program> TeaNat::Create() { return std::make_unique<TeaNat>(); }
TeaNat::~TeaNat() = default;

absl::Status TeaNat::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (info.pipe_count != 1) {
    // A READ's response reaches whichever pipe RSS picks, and only the
    // pipe that sent the READ holds its packet.
    return absl::InvalidArgumentError(
        "tea_nat runs in one pipe (--fp-cores 1): a lookup's response must reach the pipe that "
        "holds its packet, which RSS does not promise");
  }
  if (!config.is_object() || !config.contains("nat") || !config["nat"].is_object()) {
    return absl::InvalidArgumentError(
        "tea_nat needs \"nat\": {\"inside_ports\": [...], \"outside_ports\": [...], "
        "\"out_table\": \"REGION:buckets=N[,slots=S]\", \"in_table\": ...} (see its README)");
  }
  const nlohmann::json& nat = config["nat"];
  for (const auto& [key, unused] : nat.items()) {
    if (key != "inside_ports" && key != "outside_ports" && key != "out_table" &&
        key != "in_table") {
      return absl::InvalidArgumentError(
          absl::StrCat("nat: unknown field \"", key,
                       "\"; it has inside_ports, outside_ports, out_table, "
                       "in_table"));
    }
  }
  auto inside = Ports(nat, "inside_ports", info);
  if (!inside.ok()) return inside.status();
  auto outside = Ports(nat, "outside_ports", info);
  if (!outside.ok()) return outside.status();
  auto options = ParseTeaLookupOptions(config.value("tea", nlohmann::json()));
  if (!options.ok()) return options.status();

  std::vector<Role> role(info.port_count, Role::kNone);
  for (pipe::PortId p : *inside) role[p] = Role::kInside;
  for (pipe::PortId p : *outside) {
    if (role[p] != Role::kNone) {
      return absl::InvalidArgumentError(
          absl::StrCat("port ", p, " is both an inside and an outside port"));
    }
    role[p] = Role::kOutside;
  }
  std::vector<std::unique_ptr<PipeState>> pipes;
  for (uint16_t i = 0; i < info.pipe_count; ++i) pipes.push_back(std::make_unique<PipeState>());
  for (int dir = 0; dir < 2; ++dir) {
    const auto spec = nat.find(kTableField[dir]);
    if (spec == nat.end() || !spec->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("nat.", kTableField[dir],
                       " must be the table's spec as the collector got it in --tea-table, like "
                       "\"tea.out:buckets=64K,slots=2\""));
    }
    auto table = tea::ParseTableSpec(spec->get<std::string>());
    if (!table.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("nat.", kTableField[dir], ": ", table.status().message()));
    }
    auto layout = tea::Layout::Create(*table);
    if (!layout.ok()) return layout.status();
    auto conns = rdma::FindConnection(config, kConnection[dir]);
    if (!conns.ok()) return conns.status();
    if (conns->size() != info.pipe_count) {
      return absl::InvalidArgumentError(absl::StrCat("connection '", kConnection[dir], "' has ",
                                                     conns->size(), " queue pair(s) for ",
                                                     info.pipe_count, " pipe(s)"));
    }
    for (const rdma::ConnectedQueuePair& c : *conns) {
      if (c.remote.region != table->name) {
        return absl::InvalidArgumentError(
            absl::StrCat("connection '", kConnection[dir], "' is to region ", c.remote.region,
                         " but nat.", kTableField[dir], " names ", table->name));
      }
      if (role[c.port] == Role::kInside || role[c.port] == Role::kOutside) {
        return absl::InvalidArgumentError(
            absl::StrCat("port ", c.port, " leads to the collector of '", kConnection[dir],
                         "' and cannot also be an inside or outside port"));
      }
      role[c.port] = Role::kCollector;
      auto lookup = TeaLookup::Create(c, *layout, *options);
      if (!lookup.ok()) return lookup.status();
      pipes[c.pipe]->tables[dir] = *std::move(lookup);
    }
  }
  role_ = std::move(role);
  inside_ = *std::move(inside);
  outside_ = *std::move(outside);
  options_ = *options;
  pipes_ = std::move(pipes);
  return absl::OkStatus();
}

void TeaNat::Translate(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s, Direction dir,
                       uint64_t value) const {
  FlowHeaders h;
  if (const DropReason r = ParseFlow(m, h); r != DropReason::kNone) {
    md.Drop(r);  // cannot happen for a packet parsed before its lookup
    return;
  }
  // Forward packets go out, answers go in.
  const std::vector<pipe::PortId>& side = dir == kOut ? outside_ : inside_;
  const Role want = dir == kOut ? Role::kOutside : Role::kInside;
  const uint32_t port_field = static_cast<uint32_t>(value & 0xffff);
  pipe::PortId port = side.front();
  if (port_field != 0) {
    port = static_cast<pipe::PortId>(port_field - 1);
    if (port >= role_.size() || role_[port] != want) {
      ++s.no_entry[dir];
      md.Drop(DropReason::kTeaNoEntry);
      return;
    }
  }
  RewriteEndpoint(h, /*source=*/dir == kOut, static_cast<uint32_t>(value >> 32),
                  static_cast<uint16_t>(value >> 16));
  ++s.translated[dir];
  md.ig_intr_md_for_tm.ucast_egress_port = port;
}

void TeaNat::FromHost(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s, Direction dir) const {
  FlowHeaders h;
  if (const DropReason r = ParseFlow(m, h); r != DropReason::kNone) {
    if (r == DropReason::kTeaUnsupported) ++s.unsupported;
    md.Drop(r);
    return;
  }
  uint64_t value = 0;
  switch (s.tables[dir]->Lookup(m, md, FlowKey(h), dir, &value)) {
    case TeaLookup::Step::kHit:
      Translate(m, md, s, dir, value);
      return;
    case TeaLookup::Step::kDeferred:  // `m` carries the READ now
    case TeaLookup::Step::kDropped:
      return;
  }
}

void TeaNat::FromCollector(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s) const {
  rdma::RocePacket p;
  if (rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk) {
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  const uint32_t qpn = p.bth().qpn();
  for (int dir = 0; dir < 2; ++dir) {
    TeaLookup& t = *s.tables[dir];
    if (t.local_qpn() != qpn || t.port() != md.ig_intr_md.ingress_port) continue;
    const TeaLookup::Resumed r = t.OnAnswer(m, p, md);
    // The tag says which table's entry the packet waited for; it is the
    // table the answer came from, as each has its own queue pair.
    switch (r.kind) {
      case TeaLookup::Resumed::Kind::kFound:
        Translate(m, md, s, static_cast<Direction>(r.tag), r.value);
        return;
      case TeaLookup::Resumed::Kind::kNotFound:
        ++s.no_entry[r.tag];
        md.Drop(DropReason::kTeaNoEntry);
        return;
      case TeaLookup::Resumed::Kind::kNone:
        return;
    }
  }
  ++s.answers_unknown_qp;
  md.Drop(DropReason::kTeaUnknownQp);
}

void TeaNat::Ingress(pipe::PacketBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    pipe::IngressMetadata& md = burst.md[i];
    rte_mbuf* m = burst.pkts[i];
    PipeState& s = *pipes_[md.ig_intr_md.pipe];
    const pipe::PortId in = md.ig_intr_md.ingress_port;
    if (pipe::IsRecirculationPort(in)) {
      // A timer packet of the packet generator: the chance to probe a
      // queue pair that went quiet (rdma/rc_requester.h, resync mode).
      ++s.timer_packets;
      if (!s.tables[kOut]->Probe(m, md) && !s.tables[kIn]->Probe(m, md)) {
        md.Drop(DropReason::kTimerUnused);
      }
      continue;
    }
    switch (in < role_.size() ? role_[in] : Role::kNone) {
      case Role::kInside:
        FromHost(m, md, s, kOut);
        break;
      case Role::kOutside:
        FromHost(m, md, s, kIn);
        break;
      case Role::kCollector:
        FromCollector(m, md, s);
        break;
      case Role::kNone:
        md.Drop(DropReason::kProgramDrop);
        break;
    }
  }
}

void TeaNat::Background(uint16_t pipe, uint64_t now_ns) const {
  PipeState& s = *pipes_[pipe];
  for (const auto& t : s.tables) t->Expire(now_ns);
}

nlohmann::json TeaNat::Counters() const {
  nlohmann::json pipes = nlohmann::json::array();
  for (const auto& s : pipes_) {
    nlohmann::json j;
    for (int dir = 0; dir < 2; ++dir) {
      nlohmann::json t = s->tables[dir]->Counters();
      t["translated"] = s->translated[dir];
      t["no_entry"] = s->no_entry[dir];
      j[dir == kOut ? "out" : "in"] = std::move(t);
    }
    j["unsupported"] = s->unsupported;
    j["timer_packets"] = s->timer_packets;
    j["answers_unknown_qp"] = s->answers_unknown_qp;
    pipes.push_back(std::move(j));
  }
  return {{"deferral", options_.deferral == TeaDeferral::kLocal ? "local" : "remote"},
          {"cache_policy", std::string(tea::CachePolicyName(options_.cache_policy))},
          {"pipes", std::move(pipes)}};
}

std::vector<pipe::ResourceUse> TeaNat::Resources() const {
  // As a Tofino program would place it (p4/tea_nat.p4), per table (out,
  // in): the cache as one register per way and word (key 104 bits in two
  // 64-bit cells, the value in a third), the ways' reference bits and the
  // set's hand, the queue pair's PSN and the in-flight lookups (PSN-indexed:
  // the key's hash and the table, to match the response). Four stateful
  // ALUs a stage: the ways of one table spread over the stages after the
  // hash.
  std::vector<pipe::ResourceUse> uses;
  const uint32_t ways = options_.cache_ways;
  const uint32_t sets = std::max<uint32_t>(1, options_.cache_entries / ways);
  uint32_t alu = 0;  // the next free stateful ALU, 4 a stage from stage 1
  const auto place = [&](std::string name, uint32_t cells, uint32_t bits) {
    uses.push_back({std::move(name), pipe::ResourceKind::kRegister,
                    static_cast<uint8_t>(1 + alu / 4), cells, 0, bits});
    ++alu;
  };
  for (const char* table : {"out", "in"}) {
    for (uint32_t w = 0; w < ways; ++w) {
      for (const char* word : {"key_hi", "key_lo", "value"}) {
        place(absl::StrCat(table, "_way", w, "_", word), sets, 64);
      }
    }
    place(absl::StrCat(table, "_clock"), sets, 16);  // hand and reference bits
    place(absl::StrCat(table, "_psn"), 1, 32);
    place(absl::StrCat(table, "_in_flight"), options_.in_flight, 64);
  }
  return uses;
}

}  // namespace softfino::pipelines
