#include "pipelines/tea_firewall/tea_firewall.h"

#include <rte_common.h>

#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pipelines/tea_common/flow_headers.h"
#include "pipelines/tea_common/tea_program.h"
#include "softfino/pipe/parser.h"
#include "softfino/rdma/handshake.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

constexpr const char* kConnection = "firewall";
// An insert is one TCP exchange with the collector on the slow path; a
// collector that does not answer within this holds the slow path no longer.
constexpr auto kInsertTimeout = std::chrono::milliseconds(200);
constexpr auto kRetryAfter = std::chrono::seconds(1);
// The slow path's own queue of connections not inserted yet (while the
// collector is away): beyond it they are dropped, counted.
constexpr size_t kMaxBacklog = 1u << 20;

}  // namespace

void TeaFirewall::RingDeleter::operator()(rte_ring* r) const { std::free(r); }

std::unique_ptr<pipe::Program> TeaFirewall::Create() { return std::make_unique<TeaFirewall>(); }
TeaFirewall::~TeaFirewall() = default;

absl::Status TeaFirewall::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (info.pipe_count != 1) {
    // As tea_nat: a READ's response must reach the pipe that holds its
    // packet, which RSS does not promise.
    return absl::InvalidArgumentError(
        "tea_firewall runs in one pipe (--fp-cores 1): a lookup's response must reach the pipe "
        "that holds its packet, which RSS does not promise");
  }
  if (!config.is_object() || !config.contains("firewall") || !config["firewall"].is_object()) {
    return absl::InvalidArgumentError(
        "tea_firewall needs \"firewall\": {\"inside_ports\": [...], \"outside_ports\": [...], "
        "\"table\": \"REGION:buckets=N[,slots=S]\"} (see its README)");
  }
  const nlohmann::json& fw = config["firewall"];
  uint32_t ring_size = 4096;
  uint32_t per_tick = 64;
  for (const auto& [key, v] : fw.items()) {
    if (key == "learn_ring") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() < 2 || v.get<uint64_t>() > (1u << 24) ||
          !rte_is_power_of_2(static_cast<uint32_t>(v.get<uint64_t>()))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "firewall.learn_ring must be a power of two 2..16M, not ", v.dump()));
      }
      ring_size = static_cast<uint32_t>(v.get<uint64_t>());
    } else if (key == "learn_per_tick") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() < 1 || v.get<uint64_t>() > 65536) {
        return absl::InvalidArgumentError(
            absl::StrCat("firewall.learn_per_tick must be an integer 1..65536, not ", v.dump()));
      }
      per_tick = static_cast<uint32_t>(v.get<uint64_t>());
    } else if (key != "inside_ports" && key != "outside_ports" && key != "table") {
      return absl::InvalidArgumentError(
          absl::StrCat("firewall: unknown field \"", key,
                       "\"; it has inside_ports, outside_ports, table, learn_ring, "
                       "learn_per_tick"));
    }
  }
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
  const std::string& collector = table->collectors[0];
  const std::vector<std::string> hp = absl::StrSplit(collector, ':');
  int handshake_port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &handshake_port) || handshake_port <= 0 ||
      handshake_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("connection '", kConnection, "': collector '", collector,
                     "' is not HOST:PORT; the firewall inserts connections through it"));
  }
  std::vector<std::unique_ptr<PipeState>> pipes;
  for (uint16_t pipe = 0; pipe < info.pipe_count; ++pipe) {
    auto s = std::make_unique<PipeState>();
    s->table = std::move(table->by_pipe[pipe]);
    if (auto st = roles->AddCollector(s->table->server(0).port(), kConnection); !st.ok()) {
      return st;
    }
    // The ring lives in plain memory (rte_ring_init, no memzone): a
    // program may be configured without the EAL's memory, as in unit tests.
    const ssize_t bytes = rte_ring_get_memsize_elem(sizeof(Learned), ring_size);
    if (bytes < 0) return absl::InvalidArgumentError("firewall.learn_ring: bad size");
    void* mem = std::aligned_alloc(RTE_CACHE_LINE_SIZE,
                                   RTE_ALIGN_CEIL(static_cast<size_t>(bytes), RTE_CACHE_LINE_SIZE));
    if (mem == nullptr) return absl::ResourceExhaustedError("firewall: no memory for learn_ring");
    s->learn.reset(static_cast<rte_ring*>(mem));
    const std::string name = absl::StrCat("fw_learn_", pipe);
    if (rte_ring_init(s->learn.get(), name.c_str(), ring_size,
                      RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ) != 0) {
      return absl::InternalError("firewall: cannot set up the learn ring");
    }
    pipes.push_back(std::move(s));
  }
  role_ = std::move(roles->by_port);
  inside_ = std::move(roles->inside);
  outside_ = std::move(roles->outside);
  options_ = *options;
  collector_host_ = hp[0];
  collector_port_ = static_cast<uint16_t>(handshake_port);
  table_name_ = tea::ParseTableSpec(fw["table"].get<std::string>())->name;
  learn_per_tick_ = per_tick;
  pipes_ = std::move(pipes);
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
  Learned l{reply, static_cast<uint64_t>(md.ig_intr_md.ingress_port) + 1};
  if (rte_ring_sp_enqueue_elem(s.learn.get(), &l, sizeof(Learned)) != 0) {
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

void TeaFirewall::FromCollector(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s) const {
  rdma::RocePacket p;
  if (rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk) {
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  TeaLookup& t = s.table->server(0);
  if (t.local_qpn() != p.bth().qpn() || t.port() != md.ig_intr_md.ingress_port) {
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
      // A timer packet: the chance to probe a queue pair gone quiet.
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
      case Role::kCollector:
        FromCollector(m, md, s);
        break;
      case Role::kNone:
        md.Drop(DropReason::kProgramDrop);
        break;
    }
  }
}

void TeaFirewall::Egress(pipe::EgressBurst& burst) const {
  TeaEgress(burst, {pipes_[0]->table.get()});  // one pipe (Configure)
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
  for (auto& s : pipes_) {
    Learned l;
    while (rte_ring_sc_dequeue_elem(s->learn.get(), &l, sizeof(Learned)) == 0) {
      if (backlog_.size() >= kMaxBacklog) {
        ++backlog_overflow_;
        continue;
      }
      backlog_.push_back(l);
    }
  }
  if (backlog_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) return;
  // A bounded share per tick, in one batch request (one TCP exchange;
  // control/tea_requests.h): the slow path also serves the control socket.
  std::vector<tea::Key> keys;
  nlohmann::json batch = nlohmann::json::array();
  absl::flat_hash_set<tea::Key> in_batch;
  while (keys.size() < learn_per_tick_ && !backlog_.empty()) {
    const Learned l = backlog_.front();
    backlog_.pop_front();
    if (inserted_.contains(l.key) || !in_batch.insert(l.key).second) {
      // Learned again after the pipe's cache evicted it: the table has it.
      ++already_inserted_;
      continue;
    }
    keys.push_back(l.key);
    batch.push_back({{"op", "insert"},
                     {"table", table_name_},
                     {"key", tea::KeyToHex(l.key)},
                     {"value", l.value},
                     {"replace", true}});
  }
  if (keys.empty()) return;
  absl::StatusOr<nlohmann::json> reply =
      rdma::CollectorRequest(collector_host_, collector_port_, {{"tea", batch}}, kInsertTimeout);
  if (!reply.ok() || !reply->is_array() || reply->size() != keys.size()) {
    // The collector is away: the connections wait in the backlog, in order.
    ++insert_retries_;
    retry_at_ = now + kRetryAfter;
    for (size_t i = batch.size(); i-- > 0;) {
      backlog_.push_front({keys[i], batch[i]["value"].get<uint64_t>()});
    }
    emit({{"event", "firewall_insert_deferred"},
          {"backlog", backlog_.size()},
          {"error", reply.ok() ? std::string("an answer that is not one per insert")
                               : std::string(reply.status().message())}});
    return;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const nlohmann::json& answer = (*reply)[i];
    if (answer.contains("error")) {
      // Refused (e.g. the key's probe window is full): its replies pass
      // only while the pipe's cache holds it.
      ++insert_failures_;
      emit({{"event", "firewall_insert_failed"},
            {"key", tea::KeyToHex(keys[i])},
            {"error", answer["error"]}});
    } else {
      ++inserts_;
      inserted_.insert(keys[i]);
    }
  }
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
    pipes.push_back(std::move(j));
  }
  nlohmann::json j = TeaOptionsJson(options_);
  j["pipes"] = std::move(pipes);
  j["slow_path"] = {{"inserts", inserts_},
                    {"insert_failures", insert_failures_},
                    {"insert_retries", insert_retries_},
                    {"already_inserted", already_inserted_},
                    {"backlog", backlog_.size()},
                    {"backlog_overflow", backlog_overflow_}};
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
