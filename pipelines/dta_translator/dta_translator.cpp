#include "pipelines/dta_translator/dta_translator.h"

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

constexpr const char* kStructureNames[] = {"keywrite", "keyincrement", "append", "postcarding"};
constexpr const char* kRefusalNames[] = {"primitive_off", "unknown_list",
                                         "redundancy_above_rows", "hop_beyond_path"};
static_assert(std::size(kRefusalNames) == static_cast<size_t>(TranslatorRefusal::kCount));

// What ingress hands egress in front of every packet it sends there
// (Tofino's bridged metadata): what the packet is, and for a report its
// parsed fields, so egress does not parse it again for each copy. Never
// leaves the switch: host order.
enum class Bridged : uint8_t { kReport = 1, kAnswer = 2, kTick = 3 };
struct [[gnu::packed]] ReportBridge {
  Bridged kind;
  uint8_t opcode;
  uint8_t redundancy;
  uint8_t hop;
  uint32_t key, data, list_id;
  uint32_t src_ip, dst_ip;  // the reporter's and ours, for a NACK
  uint64_t counter;
};
static_assert(sizeof(ReportBridge) == 32);

// Puts a bridged header of `bytes` bytes starting with `kind` in front of
// `m`; false (nothing changed) when there is no headroom.
bool Bridge(rte_mbuf* m, const void* header, uint16_t bytes) {
  char* room = rte_pktmbuf_prepend(m, bytes);
  if (room == nullptr) return false;
  std::memcpy(room, header, bytes);
  return true;
}

void EgressDrop(pipe::EgressIntrinsicMetadataForDeparser& dprsr, DropReason reason) {
  dprsr.drop_ctl = 1;
  dprsr.drop_reason = reason;
}

}  // namespace

std::unique_ptr<pipe::Program> DtaTranslator::Create() {
  return std::make_unique<DtaTranslator>();
}
DtaTranslator::~DtaTranslator() {
  for (auto& c : collectors_) {
    delete c->reconnection.exchange(nullptr);
    delete c->adopted.exchange(nullptr);
  }
}

absl::Status DtaTranslator::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  auto parsed = ParseTranslatorConfig(config);
  if (!parsed.ok()) return parsed.status();
  config_ = *std::move(parsed);
  auto layout = dta::Layout::Create(config_.layout);
  if (!layout.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dta_translator.layout: ", layout.status().message()));
  }
  layout_ = *std::move(layout);
  if (!layout_.key_write && !layout_.key_increment && !layout_.append && !layout_.postcarding) {
    return absl::InvalidArgumentError(
        "dta_translator.layout turns every primitive off: give at least one of keywrite_slots, "
        "keyincrement_slots, append_lists, postcarding_slots");
  }
  // The collector of a key: CRC-16/ARC, a polynomial none of the slot
  // hashes use, so a collector's keys still spread over all its slots.
  auto spread = net::Crc::Create(net::CrcSpec{16, 0x8005, 0, true, true, 0});
  if (!spread.ok()) return spread.status();
  spread_hash_.emplace(*std::move(spread));

  pipe_count_ = info.pipe_count;
  info_ = info;
  collector_of_port_.assign(info.port_count, -1);
  collectors_.clear();
  const bool on[kStructures] = {layout_.key_write.has_value(), layout_.key_increment.has_value(),
                                layout_.append.has_value(), layout_.postcarding.has_value()};
  for (size_t ci = 0; ci < config_.collectors.size(); ++ci) {
    const std::string& name = config_.collectors[ci];
    auto state = std::make_unique<CollectorState>();
    state->index = static_cast<uint16_t>(ci);
    bool have_port = false;
    for (int s = 0; s < kStructures; ++s) {
      if (!on[s]) continue;
      pipe::PortId port = 0;
      auto qp = MakeQueuePair(config, name, s, &port);
      if (!qp.ok()) return qp.status();
      const std::string conn_name = absl::StrCat(name, "/", kStructureNames[s]);
      if (have_port && port != state->port) {
        return absl::InvalidArgumentError(absl::StrCat(
            "connection \"", conn_name, "\" uses port ", port, " but collector ", name,
            "'s other connections use port ", state->port, "; one collector, one port"));
      }
      state->port = port;
      have_port = true;
      state->qps[s] = *std::move(qp);
    }
    if (collector_of_port_[state->port] != -1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "collectors ", config_.collectors[collector_of_port_[state->port]], " and ", name,
          " both use port ", state->port, "; each collector needs its own port"));
    }
    collector_of_port_[state->port] = static_cast<int>(ci);
    if (absl::Status st = MakeBuffers(state->batcher, state->cache); !st.ok()) return st;
    collectors_.push_back(std::move(state));
  }
  ingress_.clear();
  for (uint16_t p = 0; p < info.pipe_count; ++p) {
    auto counters = std::make_unique<IngressCounters>();
    if (config_.nack_reporters) counters->reporters.reset(new ReporterSlot[config_.reporter_slots]);
    ingress_.push_back(std::move(counters));
  }
  nacks_sent_.reset(new std::atomic<uint64_t>[info.pipe_count]());
  if (config_.nack_reporters && config_.nack_session_base + info.port_count > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dta_translator.nack_session_base ", config_.nack_session_base, " + ", info.port_count,
        " ports passes TNA's 1023 mirror sessions; give a smaller base"));
  }
  return absl::OkStatus();
}

absl::Status DtaTranslator::MakeBuffers(std::optional<dta::AppendBatcher>& batcher,
                                        std::optional<dta::PostcardCache>& cache) const {
  if (layout_.append) {
    auto b = dta::AppendBatcher::Create(*layout_.append);
    if (!b.ok()) return b.status();
    batcher.emplace(*std::move(b));
  }
  if (layout_.postcarding) {
    auto c = dta::PostcardCache::Create(*layout_.postcarding, config_.postcard_cache_rows,
                                        config_.postcarding_path_length);
    if (!c.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("dta_translator: ", c.status().message()));
    }
    cache.emplace(*std::move(c));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DtaTranslator::QueuePair>> DtaTranslator::MakeQueuePair(
    const nlohmann::json& config, const std::string& name, int s, pipe::PortId* port) const {
  const uint64_t bytes[kStructures] = {
      layout_.key_write ? layout_.key_write->bytes() : 0,
      layout_.key_increment ? layout_.key_increment->bytes() : 0,
      layout_.append ? layout_.append->bytes() : 0,
      layout_.postcarding ? layout_.postcarding->bytes() : 0};
  const std::string conn_name = absl::StrCat(name, "/", kStructureNames[s]);
  auto conns = rdma::FindConnection(config, conn_name);
  if (!conns.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        conns.status().message(), " (the translator reaches collector ", name, "'s ",
        kStructureNames[s], " structure through connection \"", conn_name, "\")"));
  }
  if (conns->empty()) return absl::InvalidArgumentError(conn_name + ": no queue pair");
  *port = (*conns)[0].port;
  // Only the pipe owning the port runs its egress, so only its queue
  // pair is used.
  const uint16_t owner = info_.PipeOf(*port);
  const auto it = std::find_if(conns->begin(), conns->end(),
                               [&](const rdma::ConnectedQueuePair& c) { return c.pipe == owner; });
  if (it == conns->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(conn_name, ": no queue pair for pipe ", owner, ", which owns port ", *port));
  }
  if (it->remote.length < bytes[s]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "collector ", name, "'s region \"", it->remote.region, "\" is ", it->remote.length,
        " bytes but the layout's ", kStructureNames[s], " needs ", bytes[s],
        ": give the collector the same DTA layout as the translator"));
  }
  auto builder = rdma::RoceBuilder::Create(it->RequestEndpoint(), it->remote.qpn);
  if (!builder.ok()) return builder.status();
  rdma::RcRequesterConfig rc;
  rc.start_psn = it->remote.psn;
  rc.mtu = it->remote.mtu;
  rc.retransmit = false;  // resync: DTA's decision for telemetry
  rc.timeout_ns = uint64_t{config_.probe_timeout_us} * 1000;
  return std::make_unique<QueuePair>(*it, *builder, rc);
}

pipe::ProgramReplication DtaTranslator::Replication() const {
  pipe::ProgramReplication r;
  for (size_t c = 0; c < collectors_.size(); ++c) {
    for (uint16_t copies = 2; copies <= net::kDtaMaxRedundancy; ++copies) {
      pipe::ProgramReplication::Group g;
      g.group = static_cast<uint16_t>(config_.multicast_group_base + 4 * c + copies - 1);
      for (uint16_t rid = 0; rid < copies; ++rid) g.members.push_back({collectors_[c]->port, rid});
      r.groups.push_back(std::move(g));
    }
    if (layout_.append) {
      r.mirror_sessions.push_back(
          {static_cast<pipe::MirrorSessionId>(config_.mirror_session_base + c),
           collectors_[c]->port, 0});
    }
  }
  if (config_.nack_reporters) {
    for (pipe::PortId port = 0; port < collector_of_port_.size(); ++port) {
      if (collector_of_port_[port] >= 0) continue;
      r.mirror_sessions.push_back(
          {static_cast<pipe::MirrorSessionId>(config_.nack_session_base + port), port, 0});
    }
  }
  if (collectors_.size() > 1) {
    pipe::ProgramReplication::Group ticks;
    ticks.group = TickGroup();
    for (const auto& c : collectors_) ticks.members.push_back({c->port, 0});
    r.groups.push_back(std::move(ticks));
  }
  return r;
}

int DtaTranslator::CollectorOfKey(uint32_t key) const {
  if (collectors_.size() == 1) return 0;
  const net::Crc& h = *spread_hash_;
  const auto hash =
      static_cast<uint32_t>(h.Finish(h.UpdateTail(h.Start(), __builtin_bswap32(key), 4)));
  return static_cast<int>((uint64_t{hash} * collectors_.size()) >> 16);
}

// ---- ingress ----

void DtaTranslator::Ingress(pipe::PacketBurst& burst) const {
  IngressCounters& counters = *ingress_[burst.md[0].ig_intr_md.pipe];
  for (uint16_t i = 0; i < burst.count; ++i) IngressOne(burst.pkts[i], burst.md[i], counters);
}

void DtaTranslator::IngressOne(rte_mbuf* m, pipe::IngressMetadata& md,
                               IngressCounters& counters) const {
  const pipe::PortId in = md.ig_intr_md.ingress_port;
  if (in < collector_of_port_.size() && collector_of_port_[in] >= 0) {
    Answer(m, md, counters, collector_of_port_[in]);
    return;
  }
  if (pipe::IsRecirculationPort(in)) {
    // A timer packet of the packet generator: to every collector's egress.
    ++counters.timer_packets;
    const Bridged kind = Bridged::kTick;
    if (!Bridge(m, &kind, 1)) {
      md.Drop(DropReason::kTimerUnused);
      return;
    }
    if (collectors_.size() == 1) {
      md.ig_intr_md_for_tm.ucast_egress_port = collectors_[0]->port;
    } else {
      md.ig_intr_md_for_tm.mcast_grp_a = TickGroup();
    }
    return;
  }
  net::DtaReport r;
  const net::DtaParseError e = net::ParseDtaReport(m, config_.base_form, &r);
  counters.parse.Count(e);
  if (e != net::DtaParseError::kOk) {
    md.Drop(DropReason::kDtaBadReport);
    return;
  }
  // Bridged before anything may mirror it: a NACK's clone carries it too.
  const ReportBridge bridge{Bridged::kReport, static_cast<uint8_t>(r.opcode), r.redundancy, r.hop,
                            r.key, r.data, r.list_id, r.src_ip, r.dst_ip, r.counter};
  if (!Bridge(m, &bridge, sizeof(bridge))) {
    md.Drop(DropReason::kDtaBadReport);
    return;
  }
  if (config_.nack_reporters) TrackSequence(r.src_ip, r.seqnum, md, counters);
  auto refuse = [&](TranslatorRefusal why) {
    counters.refused.Count(why);
    md.Drop(DropReason::kDtaBadReport);
  };
  uint8_t copies = 1;
  uint32_t spread_key = r.key;
  int collector = -1;
  switch (r.opcode) {
    case net::DtaOpcode::kKeyWrite:
      if (!layout_.key_write) return refuse(TranslatorRefusal::kPrimitiveOff);
      copies = r.redundancy;
      break;
    case net::DtaOpcode::kKeyIncrement:
      if (!layout_.key_increment) return refuse(TranslatorRefusal::kPrimitiveOff);
      if (r.redundancy > layout_.key_increment->rows()) {
        return refuse(TranslatorRefusal::kRedundancyAboveRows);
      }
      copies = r.redundancy;
      break;
    case net::DtaOpcode::kAppend:
      if (!layout_.append) return refuse(TranslatorRefusal::kPrimitiveOff);
      if (r.list_id >= layout_.append->lists()) return refuse(TranslatorRefusal::kUnknownList);
      // A list lives on one collector, whole: its ring and head.
      collector = static_cast<int>(r.list_id % collectors_.size());
      break;
    case net::DtaOpcode::kPostcarding:
      if (!layout_.postcarding) return refuse(TranslatorRefusal::kPrimitiveOff);
      if (r.hop > config_.postcarding_path_length) return refuse(TranslatorRefusal::kHopBeyondPath);
      copies = layout_.postcarding->copies();
      break;
  }
  ++counters.reports[static_cast<uint8_t>(r.opcode)];
  if (collector < 0) collector = CollectorOfKey(spread_key);
  auto& for_tm = md.ig_intr_md_for_tm;
  if (copies <= 1) {
    for_tm.ucast_egress_port = collectors_[collector]->port;
  } else {
    for_tm.mcast_grp_a =
        static_cast<uint16_t>(config_.multicast_group_base + 4 * collector + copies - 1);
  }
}

void DtaTranslator::TrackSequence(uint32_t src_ip, uint8_t seqnum, pipe::IngressMetadata& md,
                                  IngressCounters& counters) const {
  // Fibonacci hashing of the source address picks the slot.
  const uint32_t index =
      static_cast<uint32_t>((uint64_t{src_ip} * 0x9e3779b97f4a7c15ull) >> 40) &
      (config_.reporter_slots - 1);
  ReporterSlot& s = counters.reporters[index];
  const uint8_t next = static_cast<uint8_t>(seqnum + 1);
  if (!s.used || s.ip != src_ip) {
    s = {src_ip, next, true};
    return;
  }
  if (seqnum != s.expected) {
    ++counters.sequence_gaps;
    counters.missing_reports += static_cast<uint8_t>(seqnum - s.expected);
    // The copy goes back where the report came from, carrying the first
    // missing sequence number in its mirror header.
    auto& dprsr = md.ig_intr_md_for_dprsr;
    dprsr.mirror_type = 1;
    dprsr.mirror_session =
        static_cast<pipe::MirrorSessionId>(config_.nack_session_base + md.ig_intr_md.ingress_port);
    dprsr.mirror_header_len = 2;
    dprsr.mirror_header[0] = kNackMirrorMagic;
    dprsr.mirror_header[1] = s.expected;
  }
  s.expected = next;
}

void DtaTranslator::MakeNack(rte_mbuf* m, pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  // The clone: the mirror header (magic, missing number), the report's
  // bridged header, then the report as it arrived.
  constexpr uint16_t kSkip = 2 + sizeof(ReportBridge);
  const uint8_t* header = rte_pktmbuf_mtod(m, const uint8_t*);
  if (m->data_len < kSkip + sizeof(rte_ether_hdr) || header[0] != kNackMirrorMagic ||
      static_cast<Bridged>(header[2]) != Bridged::kReport) {
    EgressDrop(dprsr, DropReason::kDtaBadReport);
    return;
  }
  const uint8_t missing = header[1];
  ReportBridge b;
  std::memcpy(&b, header + 2, sizeof(b));
  rte_pktmbuf_adj(m, kSkip);
  // Back to the reporter: addresses swapped.
  const auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  net::DtaAddresses a;
  std::memcpy(a.src_mac.data(), &eth->dst_addr, 6);
  std::memcpy(a.dst_mac.data(), &eth->src_addr, 6);
  a.src_ip = b.dst_ip;
  a.dst_ip = b.src_ip;
  a.src_port = net::kDtaNackPort;
  net::DtaNack nack;
  nack.seqnum = missing;
  nack.nack = true;
  const size_t n = net::BuildDtaNack(
      std::span<uint8_t>(rte_pktmbuf_mtod(m, uint8_t*), m->data_len + rte_pktmbuf_tailroom(m)), a,
      nack);
  if (n == 0) {
    EgressDrop(dprsr, DropReason::kDtaBadReport);
    return;
  }
  m->data_len = static_cast<uint16_t>(n);
  m->pkt_len = static_cast<uint32_t>(n);
}

void DtaTranslator::Answer(rte_mbuf* m, pipe::IngressMetadata& md, IngressCounters& counters,
                           int collector) const {
  rdma::RocePacket p;
  if (rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk) {
    ++counters.answers_bad;
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  const net::Aeth* aeth = p.aeth();
  const bool nak = p.opcode() == net::RcOpcode::kAcknowledge && aeth != nullptr &&
                   net::AethKindOf(aeth->syndrome) == net::AethKind::kNak;
  ++(nak ? counters.naks : counters.acks);
  const Bridged kind = Bridged::kAnswer;
  if (!Bridge(m, &kind, 1)) {
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  // The queue pair lives in the egress of the collector's port.
  md.ig_intr_md_for_tm.ucast_egress_port = collectors_[collector]->port;
}

// ---- egress ----

void DtaTranslator::Egress(pipe::EgressBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    EgressOne(burst.pkts[i], burst.eg_intr_md[i], burst.eg_intr_md_for_dprsr[i]);
  }
  // The requests' ICRCs, now that their bytes have reached the cache (see
  // RoceBuilder::IcrcWhen): Key-Write N=1 +2.4% (median of 3 pairs of runs
  // of both binaries at once, one per CPU, then swapped; the gain is small
  // because the fold's stall was only part of its cost).
  for (uint16_t i = 0; i < burst.count; ++i) {
    const pipe::PortId port = burst.eg_intr_md[i].egress_port;
    const int ci = port < collector_of_port_.size() ? collector_of_port_[port] : -1;
    if (ci < 0) continue;
    CollectorState& c = *collectors_[ci];
    for (uint16_t k = 0; k < c.icrc_later_count; ++k) {
      rdma::RoceBuilder::FinishIcrc(c.icrc_later[k]);
    }
    c.icrc_later_count = 0;
  }
}

void DtaTranslator::EgressOne(rte_mbuf* m, const pipe::EgressIntrinsicMetadata& eg,
                              pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  if (eg.instance_type == pipe::InstanceType::kIngressMirror) {
    MakeNack(m, dprsr);
    if (!dprsr.drop_ctl) nacks_sent_[pipe::PipeOfPort(eg.egress_port, pipe_count_)]++;
    return;
  }
  const int ci = eg.egress_port < collector_of_port_.size() ? collector_of_port_[eg.egress_port] : -1;
  if (ci < 0) {
    EgressDrop(dprsr, DropReason::kBadEgressPort);
    return;
  }
  CollectorState& c = *collectors_[ci];
  if (c.reconnection.load(std::memory_order_relaxed) != nullptr) Adopt(c);
  // The egress clock, for the queue pairs' probe timeouts.
  const uint32_t tstamp = eg.enq_tstamp + eg.deq_timedelta;
  c.clock_ns += static_cast<uint32_t>(tstamp - c.last_tstamp);
  c.last_tstamp = tstamp;
  if (eg.instance_type == pipe::InstanceType::kEgressMirror) {
    PublishHead(m, c, dprsr);
    return;
  }
  const auto kind = static_cast<Bridged>(*rte_pktmbuf_mtod(m, const uint8_t*));
  if (kind == Bridged::kReport) {
    ReportBridge b;
    std::memcpy(&b, rte_pktmbuf_mtod(m, const void*), sizeof(b));
    net::DtaReport r;
    r.opcode = static_cast<net::DtaOpcode>(b.opcode);
    r.redundancy = b.redundancy;
    r.hop = b.hop;
    r.key = b.key;
    r.data = b.data;
    r.list_id = b.list_id;
    r.counter = b.counter;
    Translate(m, r, eg.egress_rid, c, dprsr);
    return;
  }
  rte_pktmbuf_adj(m, 1);
  if (kind == Bridged::kTick) {
    Tick(m, c, dprsr);
    return;
  }
  // An answer that ingress sent here (already checked there, ICRC included,
  // but the requester reads it through the parser's view): to its queue pair.
  rdma::RocePacket p;
  if (kind == Bridged::kAnswer && rdma::ParseRoce(m, &p) == rdma::RoceParseError::kOk) {
    for (auto& qp : c.qps) {
      if (qp && p.bth().qpn() == qp->conn.local.qpn) {
        ++c.answers;
        qp->requester.OnAnswer(p, c.clock_ns, [](const rdma::Completion&) {});
        break;
      }
    }
    EgressDrop(dprsr, DropReason::kRdmaAnswerConsumed);
    return;
  }
  EgressDrop(dprsr, DropReason::kRdmaBadPacket);
}

void DtaTranslator::Tick(rte_mbuf* m, CollectorState& c,
                         pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  for (int i = 0; i < kStructures && !c.down.load(std::memory_order_relaxed); ++i) {
    QueuePair* qp = c.qps[(c.next_probe_qp + i) % kStructures].get();
    if (qp == nullptr) continue;
    if (const rdma::PacketFields* probe = qp->requester.NextProbe(c.clock_ns)) {
      c.next_probe_qp = static_cast<uint8_t>((c.next_probe_qp + i + 1) % kStructures);
      rdma::PacketFields f = *probe;
      f.vaddr = qp->conn.remote.iova;  // a zero-length WRITE touches nothing
      f.rkey = qp->conn.remote.rkey;
      ++c.probes;
      Build(m, c, *qp, f, dprsr);
      return;
    }
  }
  EgressDrop(dprsr, DropReason::kTimerUnused);
}

void DtaTranslator::Send(rte_mbuf* m, CollectorState& c, QueuePair& qp, rdma::PacketFields& f,
                         pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  f.rkey = qp.conn.remote.rkey;
  f.vaddr += qp.conn.remote.iova;
  ++c.requests;
  // Resync mode keeps nothing; it refuses only while recovering.
  if (!qp.requester.Post(f, 0, c.clock_ns)) {
    EgressDrop(dprsr, DropReason::kRdmaRecovering);
    return;
  }
  Build(m, c, qp, f, dprsr);
}

void DtaTranslator::Build(rte_mbuf* m, CollectorState& c, QueuePair& qp,
                          const rdma::PacketFields& f,
                          pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  if (config_.drop_every != 0 && ++c.sent % config_.drop_every == 0) {
    ++c.injected_losses;
    EgressDrop(dprsr, DropReason::kInjectedLoss);
    return;
  }
  // One request per packet of the burst, so the list never fills; the
  // check keeps it so if that changes.
  const bool later = c.icrc_later_count < c.icrc_later.size();
  if (qp.builder.Build(m, f, later ? rdma::RoceBuilder::IcrcWhen::kLater
                                   : rdma::RoceBuilder::IcrcWhen::kNow) != rdma::BuildStatus::kOk) {
    ++c.build_failures;
    EgressDrop(dprsr, DropReason::kRdmaBadPacket);
    return;
  }
  if (later) c.icrc_later[c.icrc_later_count++] = m;
}

void DtaTranslator::Translate(rte_mbuf* m, const net::DtaReport& r, uint16_t rid,
                              CollectorState& c,
                              pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  if (c.down.load(std::memory_order_acquire)) {
    // Its collector stopped answering: nothing would execute this copy,
    // and its batch or path state would be lost with the memory anyway.
    ++c.lost_while_down;
    EgressDrop(dprsr, DropReason::kDtaCollectorDown);
    return;
  }
  rdma::PacketFields f;
  switch (r.opcode) {
    case net::DtaOpcode::kKeyWrite: {
      const auto slot = layout_.key_write->SlotBytes(r.key, r.data);
      f.opcode = net::RcOpcode::kWriteOnly;
      f.vaddr = layout_.key_write->SlotOffset(r.key, static_cast<uint8_t>(rid));
      f.dma_length = dta::kKeyWriteSlotBytes;
      f.payload = slot;
      Send(m, c, *c.qps[kKeyWrite], f, dprsr);
      return;
    }
    case net::DtaOpcode::kKeyIncrement:
      f.opcode = net::RcOpcode::kFetchAdd;
      f.vaddr = layout_.key_increment->SlotOffset(r.key, static_cast<uint8_t>(rid));
      f.swap_add = r.counter;
      Send(m, c, *c.qps[kKeyIncrement], f, dprsr);
      return;
    case net::DtaOpcode::kAppend: {
      dta::AppendBatch batch;
      if (!c.batcher->Add(r.list_id, r.data, &batch)) {
        EgressDrop(dprsr, DropReason::kDtaBatched);
        return;
      }
      uint8_t entries[dta::kMaxAppendBatch * dta::kAppendEntryBytes];
      dta::AppendLayout::PutEntries(batch.values, entries);
      const dta::AppendLayout& a = *layout_.append;
      f.opcode = net::RcOpcode::kWriteOnly;
      f.vaddr = a.EntryOffset(batch.list, batch.position);
      f.dma_length = static_cast<uint32_t>(a.BatchBytes());
      f.payload = std::span<const uint8_t>(entries, a.BatchBytes());
      Send(m, c, *c.qps[kAppend], f, dprsr);
      if (!dprsr.drop_ctl && a.PublishesHead(batch.position + a.batch())) {
        dprsr.mirror_type = 1;
        dprsr.mirror_session =
            static_cast<pipe::MirrorSessionId>(config_.mirror_session_base + c.index);
      }
      return;
    }
    case net::DtaOpcode::kPostcarding: {
      if (rid == 0) {
        dta::PostcardPath path;
        const auto outcome = c.cache->Add(r.key, r.hop, r.data, &path);
        if (outcome == dta::PostcardCache::Outcome::kCached) {
          EgressDrop(dprsr, DropReason::kDtaCached);
          return;
        }
        ++(outcome == dta::PostcardCache::Outcome::kComplete ? c.paths_complete : c.paths_evicted);
        const uint8_t copies = layout_.postcarding->copies();
        if (copies > 1) {
          PendingPath& p = c.pending[c.next_pending++ % kPendingPaths];
          p = {r.key, r.data, r.hop, static_cast<uint8_t>(((1u << copies) - 1) & ~1u), path};
        }
        SendPath(m, c, path, 0, dprsr);
        return;
      }
      // A later copy of a postcard: write copy `rid` of the path its first
      // copy emitted, if it emitted one.
      for (PendingPath& p : c.pending) {
        if ((p.copies_left & (1u << rid)) && p.report_key == r.key && p.report_hop == r.hop &&
            p.report_data == r.data) {
          p.copies_left = static_cast<uint8_t>(p.copies_left & ~(1u << rid));
          SendPath(m, c, p.path, static_cast<uint8_t>(rid), dprsr);
          return;
        }
      }
      ++c.copies_unused;
      EgressDrop(dprsr, DropReason::kDtaCopyUnused);
      return;
    }
  }
  EgressDrop(dprsr, DropReason::kDtaBadReport);
}

void DtaTranslator::SendPath(rte_mbuf* m, CollectorState& c, const dta::PostcardPath& path,
                             uint8_t copy, pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  uint8_t bytes[dta::kPostcardPathBytes];
  dta::PostcardingLayout::PutEncodedPath(path.encoded, bytes);
  rdma::PacketFields f;
  f.opcode = net::RcOpcode::kWriteOnly;
  f.vaddr = layout_.postcarding->SlotOffset(path.key, copy);
  f.dma_length = dta::kPostcardPathBytes;
  f.payload = bytes;
  Send(m, c, *c.qps[kPostcarding], f, dprsr);
}

void DtaTranslator::PublishHead(rte_mbuf* m, CollectorState& c,
                                pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  // The clone is of the batch's WRITE: its address names the list.
  rdma::RocePacket p;
  QueuePair& qp = *c.qps[kAppend];
  const dta::AppendLayout& a = *layout_.append;
  if (rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk || p.reth() == nullptr) {
    EgressDrop(dprsr, DropReason::kRdmaBadPacket);
    return;
  }
  const uint64_t offset = rte_be_to_cpu_64(p.reth()->vaddr) - qp.conn.remote.iova;
  const auto list = static_cast<uint32_t>((offset - a.heads_bytes()) / a.ring_bytes());
  // The list's position now: batches sent since the clone was made went
  // before this WRITE on the queue pair, so they are in memory when the
  // collector sees the head.
  uint8_t head[dta::kAppendHeadBytes];
  dta::AppendLayout::PutHead(c.batcher->Position(list), head);
  rdma::PacketFields f;
  f.opcode = net::RcOpcode::kWriteOnly;
  f.vaddr = a.HeadOffset(list);
  f.dma_length = dta::kAppendHeadBytes;
  f.payload = head;
  ++c.head_writes;
  Send(m, c, qp, f, dprsr);
}

void DtaTranslator::Adopt(CollectorState& c) const {
  Reconnection* r = c.reconnection.exchange(nullptr, std::memory_order_acquire);
  if (r == nullptr) return;
  for (int s = 0; s < kStructures; ++s) {
    if (!c.qps[s] || !r->conns[s]) continue;
    QueuePair& qp = *c.qps[s];
    // Sent to the old collector and never acknowledged: lost with it.
    c.unacknowledged_at_reconnect += qp.requester.unacknowledged();
    std::swap(qp.conn, *r->conns[s]);
    std::swap(qp.builder, *r->builders[s]);
    qp.requester.Reset(qp.conn.remote.psn);
  }
  // Swaps, not assignments: the old buffers leave with `r`, freed by the
  // supervisor, so this egress never frees.
  c.batcher.swap(r->batcher);
  c.cache.swap(r->cache);
  for (PendingPath& p : c.pending) p.copies_left = 0;
  ++c.reconnects;
  c.down.store(false, std::memory_order_release);
  delete c.adopted.exchange(r, std::memory_order_acq_rel);  // null unless never collected
}

bool DtaTranslator::HasConnection(size_t ci, const std::vector<std::string>& names) const {
  for (int s = 0; s < kStructures; ++s) {
    if (!collectors_[ci]->qps[s]) continue;
    const std::string conn = absl::StrCat(config_.collectors[ci], "/", kStructureNames[s]);
    if (std::find(names.begin(), names.end(), conn) != names.end()) return true;
  }
  return false;
}

void DtaTranslator::SetRdmaConnectionsDown(const std::vector<std::string>& names, bool down) {
  for (size_t ci = 0; ci < collectors_.size(); ++ci) {
    if (!HasConnection(ci, names)) continue;
    CollectorState& c = *collectors_[ci];
    // Queue pairs not adopted yet are void now: they were for a collector
    // that stopped answering.
    if (down) delete c.reconnection.exchange(nullptr, std::memory_order_acq_rel);
    c.down.store(down, std::memory_order_release);
  }
}

absl::Status DtaTranslator::RdmaConnectionsUp(const std::vector<std::string>& names,
                                              const nlohmann::json& config) {
  for (size_t ci = 0; ci < collectors_.size(); ++ci) {
    if (!HasConnection(ci, names)) continue;
    CollectorState& c = *collectors_[ci];
    auto r = std::make_unique<Reconnection>();
    for (int s = 0; s < kStructures; ++s) {
      if (!c.qps[s]) continue;
      pipe::PortId port = 0;
      auto qp = MakeQueuePair(config, config_.collectors[ci], s, &port);
      if (!qp.ok()) return qp.status();
      if (port != c.port) {
        return absl::InvalidArgumentError(absl::StrCat(
            "collector ", config_.collectors[ci], " moved from port ", c.port, " to ", port,
            "; a reconnection keeps the port"));
      }
      r->conns[s].emplace(std::move((*qp)->conn));
      r->builders[s].emplace(std::move((*qp)->builder));
    }
    if (absl::Status s = MakeBuffers(r->batcher, r->cache); !s.ok()) return s;
    delete c.adopted.exchange(nullptr, std::memory_order_acq_rel);
    delete c.reconnection.exchange(r.release(), std::memory_order_acq_rel);
  }
  return absl::OkStatus();
}

// ---- control path ----

nlohmann::json DtaTranslator::Counters() const {
  nlohmann::json ingress = {{"reports", nlohmann::json::object()},
                            {"parse", nlohmann::json::object()},
                            {"refused", nlohmann::json::object()}};
  uint64_t acks = 0, naks = 0, bad = 0, timers = 0;
  for (size_t op = 1; op <= 4; ++op) {
    uint64_t n = 0;
    for (const auto& p : ingress_) n += p->reports[op];
    ingress["reports"][net::DtaOpcodeName(static_cast<net::DtaOpcode>(op))] = n;
  }
  for (size_t e = 1; e < net::kDtaParseErrorCount; ++e) {
    uint64_t n = 0;
    for (const auto& p : ingress_) n += p->parse.by_reason[e];
    if (n != 0) ingress["parse"][net::DtaParseErrorName(static_cast<net::DtaParseError>(e))] = n;
  }
  for (size_t e = 0; e < std::size(kRefusalNames); ++e) {
    uint64_t n = 0;
    for (const auto& p : ingress_) n += p->refused.by_reason[e];
    if (n != 0) ingress["refused"][kRefusalNames[e]] = n;
  }
  for (const auto& p : ingress_) {
    acks += p->acks;
    naks += p->naks;
    bad += p->answers_bad;
    timers += p->timer_packets;
  }
  ingress["timer_packets"] = timers;
  uint64_t gaps = 0, missing = 0, nacks = 0;
  for (const auto& p : ingress_) {
    gaps += p->sequence_gaps;
    missing += p->missing_reports;
  }
  for (size_t p = 0; p < ingress_.size(); ++p) nacks += nacks_sent_[p].load(std::memory_order_relaxed);
  ingress["sequence_gaps"] = gaps;
  ingress["missing_reports"] = missing;
  ingress["nacks_sent"] = nacks;
  ingress["acks"] = acks;
  ingress["naks"] = naks;
  ingress["bad_answers"] = bad;
  nlohmann::json collectors = nlohmann::json::array();
  for (size_t i = 0; i < collectors_.size(); ++i) {
    const CollectorState& c = *collectors_[i];
    nlohmann::json j = {{"name", config_.collectors[i]},
                        {"port", c.port},
                        {"requests", c.requests},
                        {"injected_losses", c.injected_losses},
                        {"build_failures", c.build_failures},
                        {"answers", c.answers},
                        {"probes", c.probes},
                        {"head_writes", c.head_writes},
                        {"paths_complete", c.paths_complete},
                        {"paths_evicted", c.paths_evicted},
                        {"copies_unused", c.copies_unused},
                        {"down", c.down.load(std::memory_order_relaxed)},
                        {"lost_while_down", c.lost_while_down},
                        {"reconnects", c.reconnects},
                        {"unacknowledged_at_reconnect", c.unacknowledged_at_reconnect}};
    if (c.cache) j["paths_cached"] = c.cache->occupied();
    for (int s = 0; s < kStructures; ++s) {
      if (!c.qps[s]) continue;
      const rdma::RcRequester& rq = c.qps[s]->requester;
      nlohmann::json q = {{"qpn", c.qps[s]->conn.local.qpn}, {"next_psn", rq.next_psn()}};
      for (auto e : {rdma::RequesterEvent::kPosted, rdma::RequesterEvent::kSequenceNaks,
                     rdma::RequesterEvent::kFatalNaks, rdma::RequesterEvent::kResyncs,
                     rdma::RequesterEvent::kLost, rdma::RequesterEvent::kProbes,
                     rdma::RequesterEvent::kRecoveries, rdma::RequesterEvent::kHeldForRecovery}) {
        q[rdma::kRequesterEventNames[static_cast<size_t>(e)]] = rq.count(e);
      }
      j[kStructureNames[s]] = std::move(q);
    }
    collectors.push_back(std::move(j));
  }
  return {{"ingress", std::move(ingress)}, {"collectors", std::move(collectors)}};
}

std::vector<pipe::ResourceUse> DtaTranslator::Resources() const {
  // As DTA's Tofino translator places them: ingress parses and picks the
  // collector (a hash); egress keeps per-QP PSN registers, the Append batch
  // registers (16 entries per list) and the Postcarding cache (key, hop
  // bitmap and 5 values per row).
  return {
      {"psn", pipe::ResourceKind::kRegister, 1, 16, 32, 32},
      {"append_position", pipe::ResourceKind::kRegister, 1, 1024, 32, 32},
      {"append_batch", pipe::ResourceKind::kRegister, 2, 1024 * 16, 32, 32},
      {"postcard_cache", pipe::ResourceKind::kRegister, 3, 65536 * 7, 32, 32},
  };
}

}  // namespace softfino::pipelines
