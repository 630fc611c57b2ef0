#include "pipelines/tea_nat/tea_nat.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pipelines/tea_common/flow_headers.h"
#include "pipelines/tea_common/tea_program.h"
#include "softfino/control/tea_requests.h"
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
  if (!config.is_object() || !config.contains("nat") || !config["nat"].is_object()) {
    return absl::InvalidArgumentError(
        "tea_nat needs \"nat\": {\"inside_ports\": [...], \"outside_ports\": [...], "
        "\"out_table\": \"REGION:buckets=N[,slots=S]\", \"in_table\": ...} (see its README)");
  }
  const nlohmann::json& nat = config["nat"];
  for (const auto& [key, unused] : nat.items()) {
    if (key != "inside_ports" && key != "outside_ports" && key != "out_table" &&
        key != "in_table" && key != "learn") {
      return absl::InvalidArgumentError(
          absl::StrCat("nat: unknown field \"", key,
                       "\"; it has inside_ports, outside_ports, out_table, "
                       "in_table, learn"));
    }
  }
  auto roles = ParsePortRoles(nat, "nat", info);
  if (!roles.ok()) return roles.status();
  auto options = ParseTeaLookupOptions(config.value("tea", nlohmann::json()));
  if (!options.ok()) return options.status();

  std::vector<std::unique_ptr<PipeState>> pipes;
  for (uint16_t i = 0; i < info.pipe_count; ++i) pipes.push_back(std::make_unique<PipeState>());
  AnswerSteering steering;
  for (int dir = 0; dir < 2; ++dir) {
    auto table =
        ConnectTeaTable(config, nat, "nat", kTableField[dir], kConnection[dir], *options, info,
                        static_cast<uint16_t>(dir));
    if (!table.ok()) return table.status();
    steering.Add(table->by_pipe);
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
  std::optional<TeaLearner> learner;
  NatPortPool pool;
  if (nat.contains("learn")) {
    auto l = ConfigureLearning(nat["learn"], config, pipes);
    if (!l.ok()) return l.status();
    learner.emplace(std::move(l->learner));
    pool = std::move(l->pool);
  }
  role_ = std::move(roles->by_port);
  inside_ = std::move(roles->inside);
  outside_ = std::move(roles->outside);
  options_ = *options;
  for (int dir = 0; dir < 2; ++dir) {
    table_name_[dir] = tea::ParseTableSpec(nat[kTableField[dir]].get<std::string>())->name;
  }
  pipes_ = std::move(pipes);
  steering_ = std::move(steering);
  // Remote deferral: a pipe's shadow WRITE may leave through a port of
  // another pipe, whose egress turns it into its READ.
  egress_tables_.clear();
  if (options_.deferral == TeaDeferral::kRemote) {
    for (auto& s : pipes_) {
      for (auto& t : s->tables) egress_tables_.push_back(t.get());
    }
  }
  rings_.clear();
  for (auto& s : pipes_) {
    if (s->learn) rings_.push_back(&*s->learn);
  }
  pool_ = std::move(pool);
  learner_ = std::move(learner);
  return absl::OkStatus();
}

absl::StatusOr<TeaNat::Learning> TeaNat::ConfigureLearning(
    const nlohmann::json& learn, const nlohmann::json& config,
    std::vector<std::unique_ptr<PipeState>>& pipes) {
  const char* usage =
      "nat.learn is {\"addresses\": [\"203.0.113.7\", ...], \"ports\": [FIRST, LAST]"
      "[, \"learn_ring\": N][, \"learn_per_tick\": N]}";
  if (!learn.is_object() || !learn.contains("addresses") || !learn.contains("ports")) {
    return absl::InvalidArgumentError(usage);
  }
  for (const auto& [key, unused] : learn.items()) {
    if (key != "addresses" && key != "ports" && key != "learn_ring" && key != "learn_per_tick") {
      return absl::InvalidArgumentError(absl::StrCat("nat.learn: unknown field \"", key, "\"; ",
                                                     usage));
    }
  }
  std::vector<uint32_t> addresses;
  if (!learn["addresses"].is_array() || learn["addresses"].empty()) {
    return absl::InvalidArgumentError(absl::StrCat("nat.learn.addresses: ", usage));
  }
  for (const nlohmann::json& a : learn["addresses"]) {
    in_addr addr{};
    if (!a.is_string() || inet_pton(AF_INET, a.get<std::string>().c_str(), &addr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("nat.learn.addresses: ", a.dump(), " is not an IPv4 address"));
    }
    addresses.push_back(ntohl(addr.s_addr));
  }
  const nlohmann::json& ports = learn["ports"];
  if (!ports.is_array() || ports.size() != 2 || !ports[0].is_number_unsigned() ||
      !ports[1].is_number_unsigned() || ports[0].get<uint64_t>() < 1 ||
      ports[1].get<uint64_t>() > 65535 || ports[0].get<uint64_t>() > ports[1].get<uint64_t>()) {
    return absl::InvalidArgumentError(
        absl::StrCat("nat.learn.ports must be [FIRST, LAST] within 1..65535, not ", ports.dump()));
  }
  // Two inserts a flow, and a batch holds kMaxTeaBatch requests.
  auto options = ParseTeaLearnOptions(learn, "nat.learn", control::kMaxTeaBatch / 2);
  if (!options.ok()) return options.status();
  // Both entries of a flow go in one batch to one collector.
  std::string collector[2];
  const nlohmann::json& conns = config["rdma"]["connections"];
  for (int dir = 0; dir < 2; ++dir) {
    size_t found = 0;
    for (const nlohmann::json& c : conns) {
      const std::string name = c.value("name", "");
      if (name == kConnection[dir]) {
        collector[dir] = c.value("collector", "");
        ++found;
      } else if (absl::StartsWith(name, absl::StrCat(kConnection[dir], "/"))) {
        ++found;
      }
    }
    if (found != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nat.learn needs each table on one memory server (connection '", kConnection[dir],
          "'): the slow path inserts learned flows into one collector"));
    }
  }
  if (collector[0] != collector[1]) {
    return absl::InvalidArgumentError(
        absl::StrCat("nat.learn needs tea.out and tea.in on the same collector (connections "
                     "nat_out: ",
                     collector[0], ", nat_in: ", collector[1],
                     "): both entries of a flow are inserted in one batch"));
  }
  auto learner = TeaLearner::Create(collector[0], options->per_tick, "nat");
  if (!learner.ok()) return learner.status();
  for (size_t p = 0; p < pipes.size(); ++p) {
    auto ring = TeaLearnRing::Create(options->ring_size, absl::StrCat("nat_learn_", p));
    if (!ring.ok()) return ring.status();
    pipes[p]->learn.emplace(*std::move(ring));
  }
  return Learning{*std::move(learner),
                  NatPortPool(std::move(addresses), static_cast<uint16_t>(ports[0].get<uint64_t>()),
                              static_cast<uint16_t>(ports[1].get<uint64_t>()))};
}

void TeaNat::NoEntry(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s, Direction dir) const {
  ++s.no_entry[dir];
  md.Drop(DropReason::kTeaNoEntry);
  if (dir != kOut || !s.learn) return;
  FlowHeaders h;
  if (ParseFlow(m, h) != DropReason::kNone) return;  // parsed before its lookup
  // The slow path dedups: a flow's packets until its entries are in all
  // arrive here.
  if (s.learn->Offer(LearnedKey{FlowKey(h), 0})) {
    ++s.learned;
  } else {
    ++s.learn_overflow;  // the slow path is behind: the flow's next packet tries again
  }
}

void TeaNat::TranslateResumed(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s,
                              Direction dir, uint64_t value) const {
  FlowHeaders h;
  if (const DropReason r = ParseFlow(m, h); r != DropReason::kNone) {
    md.Drop(r);  // cannot happen for a packet parsed before its lookup
    return;
  }
  Translate(md, s, dir, h, value);
}

// Translate and FromHost are inlined into Ingress, where every packet of a
// known flow passes through both, as are TeaLookup::Lookup's hit path and
// RewriteEndpoint (what that saved: see TeaLookup::Lookup).
[[gnu::always_inline]] inline void TeaNat::Translate(pipe::IngressMetadata& md, PipeState& s,
                                                     Direction dir, const FlowHeaders& h,
                                                     uint64_t value) const {
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

[[gnu::always_inline]] inline void TeaNat::FromHost(rte_mbuf* m, pipe::IngressMetadata& md,
                                                    PipeState& s, Direction dir,
                                                    const HostPacket& hp) const {
  if (hp.parsed != DropReason::kNone) {
    if (hp.parsed == DropReason::kTeaUnsupported) ++s.unsupported;
    md.Drop(hp.parsed);
    return;
  }
  uint64_t value = 0;
  switch (s.tables[dir]->Lookup(m, md, hp.key, hp.hash, dir, &value)) {
    case TeaLookup::Step::kHit:
      Translate(md, s, dir, hp.h, value);
      return;
    case TeaLookup::Step::kDeferred:  // `m` carries the READ now
    case TeaLookup::Step::kDropped:
      return;
  }
}

void TeaNat::FromCollector(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s,
                           const rdma::RocePacket& p, pipe::PortId from) const {
  const uint32_t qpn = p.bth().qpn();
  for (int dir = 0; dir < 2; ++dir) {
    TeaLookup* t = s.tables[dir]->ByQueuePair(qpn, from);
    if (t == nullptr) continue;
    const TeaLookup::Resumed r = t->OnAnswer(m, p, md);
    // The tag says which table's entry the packet waited for; it is the
    // table the answer came from, as each has its own queue pair.
    switch (r.kind) {
      case TeaLookup::Resumed::Kind::kFound:
        TranslateResumed(m, md, s, static_cast<Direction>(r.tag), r.value);
        return;
      case TeaLookup::Resumed::Kind::kNotFound:
        NoEntry(m, md, s, static_cast<Direction>(r.tag));
        return;
      case TeaLookup::Resumed::Kind::kNone:
        return;
    }
  }
  if (steering_.SteerToOwner(qpn, from, md)) {
    ++s.answers_steered;
    return;
  }
  ++s.answers_unknown_qp;
  md.Drop(DropReason::kTeaUnknownQp);
}

void TeaNat::Ingress(pipe::PacketBurst& burst) const {
  // Packets from the hosts in two passes: each is parsed, its key hashed
  // and its cache set prefetched first; then every packet is looked up and
  // translated in order. A key's set is a random place in the cache,
  // rarely in this core's L1/L2 (4,096 entries are 128 KiB): the burst's
  // loads overlap instead of stalling once per packet (tea_nat_bench.py).
  // The keys are hashed together, in one loop (tea::KeyHash::Many, the
  // hash of every table): one call per key made each wait for the last.
  std::array<HostPacket, pipe::kBurstSize> host;
  uint16_t hosts = 0;
  uint16_t host_index[pipe::kBurstSize];
  // Each host packet's key bytes (cleared: GCC cannot see that only the first
  // `hosts` are read).
  const uint8_t* keys[pipe::kBurstSize] = {};
  const TeaServers* tables[pipe::kBurstSize];
  for (uint16_t i = 0; i < burst.count; ++i) {
    const pipe::PortId in = burst.md[i].ig_intr_md.ingress_port;
    if (pipe::IsRecirculationPort(in) || in >= role_.size()) continue;
    if (role_[in] != Role::kInside && role_[in] != Role::kOutside) continue;
    HostPacket& hp = host[i];
    hp.parsed = ParseFlow(burst.pkts[i], hp.h);
    if (hp.parsed != DropReason::kNone) continue;
    hp.key = FlowKey(hp.h);
    host_index[hosts] = i;
    keys[hosts] = hp.key.data();
    tables[hosts++] =
        pipes_[burst.md[i].ig_intr_md.pipe]->tables[role_[in] == Role::kInside ? kOut : kIn].get();
  }
  uint32_t hashes[pipe::kBurstSize];
  tea::KeyHash::Many(keys, hosts, hashes);
  for (uint16_t k = 0; k < hosts; ++k) {
    host[host_index[k]].hash = hashes[k];
    tables[k]->Prefetch(hashes[k]);
  }
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
      // A timer packet of the packet generator (no RoCE packet): the
      // chance to probe a queue pair that went quiet (rdma/rc_requester.h,
      // resync mode).
      ++s.timer_packets;
      if (!s.tables[kOut]->Probe(m, md) && !s.tables[kIn]->Probe(m, md)) {
        md.Drop(DropReason::kTimerUnused);
      }
      continue;
    }
    switch (in < role_.size() ? role_[in] : Role::kNone) {
      case Role::kInside:
        FromHost(m, md, s, kOut, host[i]);
        break;
      case Role::kOutside:
        FromHost(m, md, s, kIn, host[i]);
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

void TeaNat::Egress(pipe::EgressBurst& burst) const {
  if (!egress_tables_.empty()) TeaEgress(burst, egress_tables_);
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
  if (!learner_) return;
  learner_->Drain(rings_, [this](const LearnedKey& l) { return LearnedInserts(l.key); }, emit);
}

std::vector<nlohmann::json> TeaNat::LearnedInserts(const tea::Key& flow) {
  const std::optional<NatPortPool::Endpoint> e = pool_.For(flow);
  if (!e) {
    ++pool_exhausted_;
    return {};
  }
  // The key's bytes (tea/key.h, FlowKey): source, destination, source
  // port, destination port (network order), protocol.
  uint32_t inside_addr;
  uint16_t inside_port;
  std::memcpy(&inside_addr, flow.data(), 4);
  std::memcpy(&inside_port, flow.data() + 8, 2);
  // The replies' key: from the server (the flow's destination and its
  // port) to the public endpoint.
  tea::Key reply{};
  std::memcpy(reply.data(), flow.data() + 4, 4);
  const uint32_t public_addr = htonl(e->address);
  const uint16_t public_port = htons(e->port);
  std::memcpy(reply.data() + 4, &public_addr, 4);
  std::memcpy(reply.data() + 8, flow.data() + 10, 2);
  std::memcpy(reply.data() + 10, &public_port, 2);
  reply[12] = flow[12];
  // Values: address, port, 0 (the other side's first port). Replace: an
  // insert retried after a lost answer finds its entry there.
  const uint64_t out_value = uint64_t{e->address} << 32 | uint64_t{e->port} << 16;
  const uint64_t in_value = uint64_t{ntohl(inside_addr)} << 32 | uint64_t{ntohs(inside_port)} << 16;
  return {{{"table", table_name_[kOut]}, {"key", tea::KeyToHex(flow)}, {"value", out_value},
           {"replace", true}},
          {{"table", table_name_[kIn]}, {"key", tea::KeyToHex(reply)}, {"value", in_value},
           {"replace", true}}};
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
    if (s->learn) {
      j["learned"] = s->learned;
      j["learn_overflow"] = s->learn_overflow;
    }
    j["unsupported"] = s->unsupported;
    j["timer_packets"] = s->timer_packets;
    j["answers_unknown_qp"] = s->answers_unknown_qp;
    j["answers_steered"] = s->answers_steered;
    pipes.push_back(std::move(j));
  }
  nlohmann::json j = TeaOptionsJson(options_);
  j["pipes"] = std::move(pipes);
  if (learner_) {
    j["slow_path"] = learner_->Counters();
    j["slow_path"]["allocated"] = pool_.allocated();
    j["slow_path"]["pool_size"] = pool_.size();
    j["slow_path"]["pool_exhausted"] = pool_exhausted_;
  }
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
