#include "pipelines/tea_nat/tea_nat.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "pipelines/tea_common/flow_headers.h"
#include "pipelines/tea_common/tea_program.h"
#include "softfino/pipe/parser.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

constexpr const char* kConnection[2] = {"nat_out", "nat_in"};
constexpr const char* kTableField[2] = {"out_table", "in_table"};

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
  auto roles = ParsePortRoles(nat, "nat", info);
  if (!roles.ok()) return roles.status();
  auto options = ParseTeaLookupOptions(config.value("tea", nlohmann::json()));
  if (!options.ok()) return options.status();

  std::vector<std::unique_ptr<PipeState>> pipes;
  for (uint16_t i = 0; i < info.pipe_count; ++i) pipes.push_back(std::make_unique<PipeState>());
  for (int dir = 0; dir < 2; ++dir) {
    auto table =
        ConnectTeaTable(config, nat, "nat", kTableField[dir], kConnection[dir], *options, info,
                        static_cast<uint16_t>(dir));
    if (!table.ok()) return table.status();
    for (uint16_t pipe = 0; pipe < info.pipe_count; ++pipe) {
      TeaServers& servers = *table->by_pipe[pipe];
      for (size_t k = 0; k < servers.size(); ++k) {
        if (auto st = roles->AddCollector(servers.server(k).port(), kConnection[dir]); !st.ok()) {
          return st;
        }
      }
      pipes[pipe]->tables[dir] = std::move(table->by_pipe[pipe]);
    }
  }
  role_ = std::move(roles->by_port);
  inside_ = std::move(roles->inside);
  outside_ = std::move(roles->outside);
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
    TeaLookup* t = s.tables[dir]->ByQueuePair(qpn, md.ig_intr_md.ingress_port);
    if (t == nullptr) continue;
    const TeaLookup::Resumed r = t->OnAnswer(m, p, md);
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

void TeaNat::Egress(pipe::EgressBurst& burst) const {
  PipeState& s = *pipes_[0];  // one pipe (Configure)
  TeaEgress(burst, {s.tables[kOut].get(), s.tables[kIn].get()});
}

pipe::ProgramReplication TeaNat::Replication() const {
  pipe::ProgramReplication r;
  if (!pipes_.empty()) {
    AppendTeaMirrorSessions({pipes_[0]->tables[kOut].get(), pipes_[0]->tables[kIn].get()}, r);
  }
  return r;
}

void TeaNat::Background(uint16_t pipe, uint64_t now_ns) const {
  PipeState& s = *pipes_[pipe];
  for (const auto& t : s.tables) t->Expire(now_ns);
}

void TeaNat::DrainEvents(const std::function<void(nlohmann::json)>& emit) {
  for (const auto& s : pipes_) {
    s->tables[kOut]->DrainHealthEvents("out", emit);
    s->tables[kIn]->DrainHealthEvents("in", emit);
  }
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
  nlohmann::json j = TeaOptionsJson(options_);
  j["pipes"] = std::move(pipes);
  return j;
}

std::vector<pipe::ResourceUse> TeaNat::Resources() const {
  // As a Tofino program would place it (p4/tea_nat.p4): per table (out,
  // in) its cache, PSN and in-flight lookups (tea_common/tea_program.h);
  // the ways of one table spread over the stages after the hash.
  std::vector<pipe::ResourceUse> uses;
  uint32_t alu = 0;
  for (const char* table : {"out", "in"}) AppendTeaLookupResources(table, options_, alu, uses);
  return uses;
}

}  // namespace softfino::pipelines
