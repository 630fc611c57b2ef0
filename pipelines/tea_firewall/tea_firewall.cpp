#include "pipelines/tea_firewall/tea_firewall.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "pipelines/tea_common/flow_headers.h"
#include "pipelines/tea_common/tea_program.h"
#include "softfino/pipe/parser.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

constexpr const char* kConnection = "firewall";

}  // namespace

std::unique_ptr<pipe::Program> TeaFirewall::Create() { return std::make_unique<TeaFirewall>(); }
TeaFirewall::~TeaFirewall() = default;

absl::Status TeaFirewall::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (!config.is_object() || !config.contains("firewall") || !config["firewall"].is_object()) {
    return absl::InvalidArgumentError(
        "tea_firewall needs \"firewall\": {\"inside_ports\": [...], \"outside_ports\": [...], "
        "\"table\": \"REGION:buckets=N[,slots=S]\"} (see its README)");
  }
  const nlohmann::json& fw = config["firewall"];
  for (const auto& [key, unused] : fw.items()) {
    if (key != "inside_ports" && key != "outside_ports" && key != "table" &&
        key != "learn_ring" && key != "learn_per_tick") {
      return absl::InvalidArgumentError(
          absl::StrCat("firewall: unknown field \"", key,
                       "\"; it has inside_ports, outside_ports, table, learn_ring, "
                       "learn_per_tick"));
    }
  }
  auto learn = ParseTeaLearnOptions(fw, "firewall", 65536);
  if (!learn.ok()) return learn.status();
  auto roles = ParsePortRoles(fw, "firewall", info);
  if (!roles.ok()) return roles.status();
  auto options = ParseTeaLookupOptions(config.value("tea", nlohmann::json()));
  if (!options.ok()) return options.status();

  auto table = ConnectTeaTable(config, fw, "firewall", "table", kConnection, *options, info, 0);
  if (!table.ok()) return table.status();
  if (table->collectors.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tea_firewall keeps its table on one memory server (connection '", kConnection,
        "'): its slow path inserts learned connections into one collector; several servers "
        "with failover are tea_nat's so far"));
  }
  // The slow path inserts learned connections through the collector's
  // handshake port, the one the queue pair was set up through.
  auto learner = TeaLearner::Create(table->collectors[0], learn->per_tick, "firewall");
  if (!learner.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("connection '", kConnection, "': ", learner.status().message()));
  }
  AnswerSteering steering;
  steering.Add(table->by_pipe);
  std::vector<std::unique_ptr<PipeState>> pipes;
  for (uint16_t pipe = 0; pipe < info.pipe_count; ++pipe) {
    auto s = std::make_unique<PipeState>();
    s->table = std::move(table->by_pipe[pipe]);
    if (auto st = roles->AddCollector(s->table->server(0).port(), kConnection); !st.ok()) {
      return st;
    }
    auto ring = TeaLearnRing::Create(learn->ring_size, absl::StrCat("fw_learn_", pipe));
    if (!ring.ok()) return ring.status();
    s->learn.emplace(*std::move(ring));
    pipes.push_back(std::move(s));
  }
  role_ = std::move(roles->by_port);
  inside_ = std::move(roles->inside);
  outside_ = std::move(roles->outside);
  options_ = *options;
  table_name_ = tea::ParseTableSpec(fw["table"].get<std::string>())->name;
  pipes_ = std::move(pipes);
  steering_ = std::move(steering);
  egress_tables_.clear();  // remote deferral: as tea_nat's
  if (options_.deferral == TeaDeferral::kRemote) {
    for (auto& s : pipes_) egress_tables_.push_back(s->table.get());
  }
  rings_.clear();
  for (auto& s : pipes_) rings_.push_back(&*s->learn);
  learner_.emplace(*std::move(learner));
  return absl::OkStatus();
}

void TeaFirewall::FromInside(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s) const {
  FlowHeaders h;
  if (const DropReason r = ParseFlow(m, h); r != DropReason::kNone) {
    if (r == DropReason::kTeaUnsupported) ++s.unsupported;
    md.Drop(r);
    return;
  }
  // Inside traffic is allowed; what remains is to remember the connection
  // so that its replies pass. A cached reply key is a connection this pipe
  // handed over already (or one whose replies were seen): nothing to do.
  md.ig_intr_md_for_tm.ucast_egress_port = outside_.front();
  ++s.forwarded_out;
  const tea::Key reply = ReplyFlowKey(h);
  if (s.table->Cached(reply).has_value()) return;
  const LearnedKey l{reply, static_cast<uint64_t>(md.ig_intr_md.ingress_port) + 1};
  if (!s.learn->Offer(l)) {
    // The slow path is behind: the next packet of the connection tries
    // again (it is not cached).
    ++s.learn_overflow;
    return;
  }
  ++s.learned;
  // Cached at once, so that replies pass before the table has the entry.
  s.table->Remember(reply, l.value);
}

void TeaFirewall::Pass(pipe::IngressMetadata& md, PipeState& s, uint64_t value) const {
  pipe::PortId port = inside_.front();
  if (value != 0) {
    port = static_cast<pipe::PortId>(value - 1);
    if (value - 1 >= role_.size() || role_[port] != Role::kInside) {
      ++s.denied;  // an entry the firewall did not write
      md.Drop(DropReason::kFirewallDenied);
      return;
    }
  }
  ++s.passed_in;
  md.ig_intr_md_for_tm.ucast_egress_port = port;
}

void TeaFirewall::FromOutside(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s) const {
  FlowHeaders h;
  if (const DropReason r = ParseFlow(m, h); r != DropReason::kNone) {
    if (r == DropReason::kTeaUnsupported) ++s.unsupported;
    md.Drop(r);
    return;
  }
  uint64_t value = 0;
  switch (s.table->Lookup(m, md, FlowKey(h), 0, &value)) {
    case TeaLookup::Step::kHit:
      Pass(md, s, value);
      return;
    case TeaLookup::Step::kDeferred:  // `m` carries the READ now
    case TeaLookup::Step::kDropped:
      return;
  }
}

void TeaFirewall::FromCollector(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s,
                                const rdma::RocePacket& p, pipe::PortId from) const {
  TeaLookup& t = s.table->server(0);
  if (t.local_qpn() != p.bth().qpn() || t.port() != from) {
    if (steering_.SteerToOwner(p.bth().qpn(), from, md)) {
      ++s.answers_steered;
      return;
    }
    ++s.answers_unknown_qp;
    md.Drop(DropReason::kTeaUnknownQp);
    return;
  }
  const TeaLookup::Resumed r = t.OnAnswer(m, p, md);
  switch (r.kind) {
    case TeaLookup::Resumed::Kind::kFound:
      Pass(md, s, r.value);
      return;
    case TeaLookup::Resumed::Kind::kNotFound:
      ++s.denied;
      md.Drop(DropReason::kFirewallDenied);
      return;
    case TeaLookup::Resumed::Kind::kNone:
      return;
  }
}

void TeaFirewall::Ingress(pipe::PacketBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    pipe::IngressMetadata& md = burst.md[i];
    rte_mbuf* m = burst.pkts[i];
    PipeState& s = *pipes_[md.ig_intr_md.pipe];
    const pipe::PortId in = md.ig_intr_md.ingress_port;
    if (pipe::IsRecirculationPort(in)) {
      rdma::RocePacket p;
      if (pipe::PortId from; steering_.SteeredHere(m, md.ig_intr_md.pipe, &p, &from)) {
        FromCollector(m, md, s, p, from);
        continue;
      }
      // A timer packet (no RoCE packet): the chance to probe a queue pair
      // gone quiet.
      ++s.timer_packets;
      if (!s.table->Probe(m, md)) md.Drop(DropReason::kTimerUnused);
      continue;
    }
    switch (in < role_.size() ? role_[in] : Role::kNone) {
      case Role::kInside:
        FromInside(m, md, s);
        break;
      case Role::kOutside:
        FromOutside(m, md, s);
        break;
      case Role::kCollector: {
        rdma::RocePacket p;
        if (rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk) {
          md.Drop(DropReason::kRdmaBadPacket);
          break;
        }
        FromCollector(m, md, s, p, in);
        break;
      }
      case Role::kNone:
        md.Drop(DropReason::kProgramDrop);
        break;
    }
  }
}

void TeaFirewall::Egress(pipe::EgressBurst& burst) const {
  if (!egress_tables_.empty()) TeaEgress(burst, egress_tables_);
}

pipe::ProgramReplication TeaFirewall::Replication() const {
  pipe::ProgramReplication r;
  if (!pipes_.empty()) AppendTeaMirrorSessions({pipes_[0]->table.get()}, r);
  return r;
}

void TeaFirewall::Background(uint16_t pipe, uint64_t now_ns) const {
  pipes_[pipe]->table->Expire(now_ns);
}

void TeaFirewall::DrainEvents(const std::function<void(nlohmann::json)>& emit) {
  if (!learner_) return;
  learner_->Drain(
      rings_,
      [this](const LearnedKey& l) {
        return std::vector<nlohmann::json>{{{"table", table_name_},
                                            {"key", tea::KeyToHex(l.key)},
                                            {"value", l.value},
                                            {"replace", true}}};
      },
      emit);
}

nlohmann::json TeaFirewall::Counters() const {
  nlohmann::json pipes = nlohmann::json::array();
  for (const auto& s : pipes_) {
    nlohmann::json j = s->table->Counters();
    j["forwarded_out"] = s->forwarded_out;
    j["passed_in"] = s->passed_in;
    j["denied"] = s->denied;
    j["learned"] = s->learned;
    j["learn_overflow"] = s->learn_overflow;
    j["unsupported"] = s->unsupported;
    j["timer_packets"] = s->timer_packets;
    j["answers_unknown_qp"] = s->answers_unknown_qp;
    j["answers_steered"] = s->answers_steered;
    pipes.push_back(std::move(j));
  }
  nlohmann::json j = TeaOptionsJson(options_);
  j["pipes"] = std::move(pipes);
  if (learner_) j["slow_path"] = learner_->Counters();
  return j;
}

std::vector<pipe::ResourceUse> TeaFirewall::Resources() const {
  // As p4/tea_firewall.p4 would place it: the connection table's cache,
  // PSN and in-flight lookups (tea_common/tea_program.h); learning is a
  // digest (no table, no ALU).
  std::vector<pipe::ResourceUse> uses;
  uint32_t alu = 0;
  AppendTeaLookupResources("conn", options_, alu, uses);
  return uses;
}

}  // namespace softfino::pipelines
