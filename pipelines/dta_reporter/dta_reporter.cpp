#include "pipelines/dta_reporter/dta_reporter.h"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "softfino/net/crc32_fold.h"
#include "softfino/pipe/parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

// What ingress hands egress in front of the packet (Tofino's bridged
// metadata), network order.
struct [[gnu::packed]] Bridge {
  rte_be32_t key;
  rte_be32_t written;  // Key-Write value
  rte_be64_t count;    // Key-Increment counter
};
constexpr uint16_t kBridgeBytes = sizeof(Bridge);

constexpr uint8_t Bit(net::DtaOpcode op) { return uint8_t(1u << (uint8_t(op) - 1)); }

}  // namespace

std::unique_ptr<pipe::Program> DtaReporter::Create() { return std::make_unique<DtaReporter>(); }
DtaReporter::~DtaReporter() = default;

absl::Status DtaReporter::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  auto parsed = ParseReporterConfig(config, info);
  if (!parsed.ok()) return parsed.status();
  config_ = *std::move(parsed);
  forward_index_.assign(info.port_count, -1);
  forward_ports_.clear();
  for (pipe::PortId out : config_.forward) {
    if (out == pipe::kInvalidPort || forward_index_[out] >= 0) continue;
    forward_index_[out] = static_cast<int>(forward_ports_.size());
    forward_ports_.push_back(out);
  }
  if (forward_ports_.size() > 64) {
    return absl::InvalidArgumentError("dta_reporter.forward: at most 64 distinct output ports");
  }
  const size_t groups = 16 * forward_ports_.size() * config_.report_ports.size();
  if (config_.multicast_group_base + groups > 0x10000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dta_reporter: ", forward_ports_.size(), " forwarding port(s) x ",
        config_.report_ports.size(), " report port(s) need ", groups,
        " multicast groups from multicast_group_base ", config_.multicast_group_base,
        ", beyond group 0xffff; lower multicast_group_base"));
  }
  report_of_port_.assign(info.port_count, -1);
  for (size_t r = 0; r < config_.report_ports.size(); ++r) {
    report_of_port_[config_.report_ports[r].port] = static_cast<int>(r);
  }
  pipes_.clear();
  for (uint16_t p = 0; p < info.pipe_count; ++p) {
    auto st = std::make_unique<PipeState>();
    st->flows.reset(new FlowSlot[config_.flow_slots]);
    for (size_t r = 0; r < config_.report_ports.size(); ++r) {
      if (info.PipeOf(config_.report_ports[r].port) == p) st->report = r;
    }
    pipes_.push_back(std::move(st));
  }
  report_.clear();
  // What MakeReport copies: each report with a zero key, value and seqnum,
  // from its report port's source address.
  std::optional<net::DtaReport> reports[5];
  if (config_.key_write) reports[1] = net::DtaKeyWrite(config_.key_write->redundancy, 0, 0);
  if (config_.append) reports[2] = net::DtaAppend(config_.append->list, 0);
  if (config_.key_increment) reports[3] = net::DtaKeyIncrement(config_.key_increment->redundancy, 0, 0);
  if (config_.postcarding) reports[4] = net::DtaPostcard(0, config_.hop, config_.switch_id);
  for (size_t r = 0; r < config_.report_ports.size(); ++r) {
    report_.push_back(std::make_unique<ReportState>());
    net::DtaAddresses addresses = config_.report;
    addresses.src_ip = config_.report_ports[r].src_ip;
    for (uint8_t op = 1; op <= 4; ++op) {
      if (!reports[op]) continue;
      ReportTemplate& t = report_.back()->templates[op];
      const size_t n = net::BuildDtaReport(t.bytes, addresses, config_.base_form, *reports[op]);
      if (n == 0) return absl::InternalError("dta_reporter: a report does not fit its template");
      t.length = static_cast<uint16_t>(n);
      t.base = static_cast<uint16_t>(n - net::DtaBaseBytes(config_.base_form) - net::DtaPrimitiveBytes(op));
    }
  }
  return absl::OkStatus();
}

pipe::ProgramReplication DtaReporter::Replication() const {
  // One group per forwarding port, report port and set of reports (a bit
  // per opcode).
  pipe::ProgramReplication r;
  for (pipe::PortId out : forward_ports_) {
    for (size_t report = 0; report < config_.report_ports.size(); ++report) {
      for (uint8_t mask = 1; mask < 16; ++mask) {
        pipe::ProgramReplication::Group g;
        g.group = Group(out, report, mask);
        g.members.push_back({out, kForwardRid});
        for (uint8_t op = 1; op <= 4; ++op) {
          if (mask & (1u << (op - 1))) g.members.push_back({config_.report_ports[report].port, op});
        }
        r.groups.push_back(std::move(g));
      }
    }
  }
  return r;
}

void DtaReporter::Ingress(pipe::PacketBurst& burst) const {
  PipeState& st = *pipes_[burst.md[0].ig_intr_md.pipe];
  std::array<FlowPacket, pipe::kBurstSize> fp;
  uint16_t reported[pipe::kBurstSize];           // the packets reported on, in order
  const uint8_t* tuples[pipe::kBurstSize] = {};  // (GCC cannot see that only the first n are read)
  uint32_t keys[pipe::kBurstSize];
  uint16_t n = 0;
  for (uint16_t i = 0; i < burst.count; ++i) {
    if (Classify(burst.pkts[i], burst.md[i], st, fp[i])) {
      tuples[n] = reinterpret_cast<const uint8_t*>(fp[i].tuple);
      reported[n++] = i;
    }
  }
  net::Crc32OfShortBlocks(tuples, n, kTupleBytes, keys);
  for (uint16_t k = 0; k < n; ++k) {
    fp[reported[k]].key = keys[k];
    const FlowSlot* slot = &SlotOf(st, keys[k]);
    __builtin_prefetch(slot);
    __builtin_prefetch(reinterpret_cast<const char*>(slot + 1) - 1);  // a slot may span two lines
  }
  for (uint16_t k = 0; k < n; ++k) {
    const uint16_t i = reported[k];
    Report(burst.pkts[i], burst.md[i], st, fp[i]);
  }
}

bool DtaReporter::Classify(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& st,
                           FlowPacket& fp) const {
  const pipe::PortId in = md.ig_intr_md.ingress_port;
  const pipe::PortId out = in < config_.forward.size() ? config_.forward[in] : pipe::kInvalidPort;
  if (out == pipe::kInvalidPort) {
    md.Drop(DropReason::kNoRoute);
    return false;
  }
  md.ig_intr_md_for_tm.ucast_egress_port = out;
  pipe::ParsedHeaders hdr;
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  if (pipe::ParseL3(frame, m->data_len, m->pkt_len, hdr) != DropReason::kNone ||
      hdr.l3_type != pipe::L3Type::kIpv4 ||
      (hdr.ipv4->next_proto_id != IPPROTO_TCP && hdr.ipv4->next_proto_id != IPPROTO_UDP) ||
      (hdr.ipv4->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
    ++st.not_monitored;  // forwarded, not reported on
    return false;
  }
  const uint32_t ihl = (hdr.ipv4->version_ihl & 0xf) * 4u;
  const uint8_t* l4 = reinterpret_cast<const uint8_t*>(hdr.ipv4) + ihl;
  if (l4 + 4 > frame + m->data_len) {
    ++st.not_monitored;
    return false;
  }
  // The 13 tuple bytes written as two 8-byte words: the CRC reads them back
  // in one 16-byte load, and a load across narrower stores still in flight
  // waits for them (a store-forwarding stall; see tea's FlowKey).
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "words in memory order");
  uint32_t src, dst, ports;
  std::memcpy(&src, &hdr.ipv4->src_addr, 4);
  std::memcpy(&dst, &hdr.ipv4->dst_addr, 4);
  std::memcpy(&ports, l4, 4);  // source and destination ports
  fp.tuple[0] = uint64_t{src} | uint64_t{dst} << 32;
  fp.tuple[1] = uint64_t{hdr.ipv4->next_proto_id} | uint64_t{ports} << 8;
  fp.ip_total_length = rte_be_to_cpu_16(hdr.ipv4->total_length);
  return true;
}

void DtaReporter::Report(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& st,
                         const FlowPacket& fp) const {
  const uint32_t key = fp.key;
  const pipe::PortId in = md.ig_intr_md.ingress_port;
  const pipe::PortId out = md.ig_intr_md_for_tm.ucast_egress_port;
  FlowSlot& f = SlotOf(st, key);
  uint8_t mask = 0;
  if (!f.used || f.key != key) {
    f = FlowSlot{key, true, 0, 0, 0};
    ++st.flow_starts;
    if (config_.append) mask |= Bit(net::DtaOpcode::kAppend);
    if (config_.postcarding) mask |= Bit(net::DtaOpcode::kPostcarding);
    if (config_.key_write) f.last_written = ~0u;  // nothing reported yet: any value is news
  }
  Bridge b{};
  b.key = rte_cpu_to_be_32(key);
  if (config_.key_write) {
    const uint32_t value = uint32_t{config_.switch_id} << 16 | in;
    if (value != f.last_written) {
      f.last_written = value;
      mask |= Bit(net::DtaOpcode::kKeyWrite);
      b.written = rte_cpu_to_be_32(value);
    }
  }
  if (config_.key_increment) {
    f.count += config_.key_increment->bytes ? fp.ip_total_length : 1;
    if (++f.packets == config_.key_increment->every) {
      mask |= Bit(net::DtaOpcode::kKeyIncrement);
      b.count = rte_cpu_to_be_64(f.count);
      f.packets = 0;
      f.count = 0;
    }
  }
  if (mask == 0) return;
  auto* room = reinterpret_cast<Bridge*>(rte_pktmbuf_prepend(m, kBridgeBytes));
  if (room == nullptr) {  // no headroom: forwarded without its reports
    ++st.not_monitored;
    return;
  }
  std::memcpy(room, &b, sizeof(b));
  for (uint8_t bits = mask; bits != 0; bits &= bits - 1) ++st.reports[__builtin_ctz(bits) + 1];
  md.ig_intr_md_for_tm.ucast_egress_port = pipe::kInvalidPort;
  md.ig_intr_md_for_tm.mcast_grp_a = Group(out, st.report, mask);
}

void DtaReporter::Egress(pipe::EgressBurst& burst) const {
  if (burst.count == 0) return;
  // A burst leaves one port: a report port or not, for all of it.
  const pipe::PortId port = burst.eg_intr_md[0].egress_port;
  const int report = port < report_of_port_.size() ? report_of_port_[port] : -1;
  for (uint16_t i = 0; i < burst.count; ++i) {
    const uint16_t rid = burst.eg_intr_md[i].egress_rid;
    if (rid == kForwardRid) {
      rte_pktmbuf_adj(burst.pkts[i], kBridgeBytes);  // the bridged header goes
    } else if (rid >= 1 && rid <= 4 && report >= 0) {
      MakeReport(burst.pkts[i], rid, *report_[report], burst.eg_intr_md_for_dprsr[i]);
    }
  }
}

// Inlined into Egress: it runs for every report.
[[gnu::always_inline]] inline void DtaReporter::MakeReport(
    rte_mbuf* m, uint16_t rid, ReportState& report,
    pipe::EgressIntrinsicMetadataForDeparser& dprsr) const {
  Bridge b;
  std::memcpy(&b, rte_pktmbuf_mtod(m, const void*), sizeof(b));
  const uint32_t key = rte_be_to_cpu_32(b.key);
  const uint8_t seqnum = report.seqnum++;
  // The report replaces the copy: a report is far smaller than the packet
  // it reports on, and fits any first segment.
  if (m->nb_segs > 1) {
    rte_pktmbuf_free(m->next);
    m->next = nullptr;
    m->nb_segs = 1;
  }
  const ReportTemplate& t = report.templates[rid];
  if (rte_pktmbuf_tailroom(m) + m->data_len < t.length) {
    ++report.too_long;
    dprsr.drop_ctl = 1;
    dprsr.drop_reason = DropReason::kDtaBadReport;
    return;
  }
  uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
  // The whole template where it fits (nearly always): a copy of constant
  // size is two vector moves, not a call to memcpy. What lies past the
  // report is outside the frame.
  if (rte_pktmbuf_tailroom(m) + m->data_len >= sizeof(t.bytes)) {
    std::memcpy(p, t.bytes, sizeof(t.bytes));
  } else {
    std::memcpy(p, t.bytes, t.length);
  }
  if (config_.base_form == net::DtaBaseForm::kThreeByte) {
    reinterpret_cast<net::DtaBaseHeader3*>(p + t.base)->seqnum = seqnum;
  }
  uint8_t* prim = p + t.base + net::DtaBaseBytes(config_.base_form);
  switch (static_cast<net::DtaOpcode>(rid)) {
    case net::DtaOpcode::kKeyWrite: {
      auto* h = reinterpret_cast<net::DtaKeyWriteHeader*>(prim);
      h->set_key(key);
      h->set_data(rte_be_to_cpu_32(b.written));
      break;
    }
    case net::DtaOpcode::kAppend:
      reinterpret_cast<net::DtaAppendHeader*>(prim)->set_data(key);
      break;
    case net::DtaOpcode::kKeyIncrement: {
      auto* h = reinterpret_cast<net::DtaKeyIncrementHeader*>(prim);
      h->set_key(key);
      h->set_counter(rte_be_to_cpu_64(b.count));
      break;
    }
    case net::DtaOpcode::kPostcarding:
      reinterpret_cast<net::DtaPostcardHeader*>(prim)->set_key(key);
      break;
  }
  m->data_len = t.length;
  m->pkt_len = t.length;
  ++report.built;
}

nlohmann::json DtaReporter::Counters() const {
  uint64_t starts = 0, skipped = 0, reports[5] = {};
  for (const auto& p : pipes_) {
    starts += p->flow_starts;
    skipped += p->not_monitored;
    for (int op = 1; op <= 4; ++op) reports[op] += p->reports[op];
  }
  nlohmann::json by = nlohmann::json::object();
  for (uint8_t op = 1; op <= 4; ++op) {
    by[net::DtaOpcodeName(static_cast<net::DtaOpcode>(op))] = reports[op];
  }
  uint64_t built = 0, too_long = 0;
  for (const auto& r : report_) {
    built += r->built;
    too_long += r->too_long;
  }
  return {{"flow_starts", starts},
          {"not_monitored", skipped},
          {"reports", std::move(by)},
          {"reports_built", built},
          {"reports_too_long", too_long}};
}

std::vector<pipe::ResourceUse> DtaReporter::Resources() const {
  // The flow table as registers (key, last value, packet and byte counts),
  // one stateful ALU each, in consecutive stages after the flow hash.
  const uint32_t slots = config_.flow_slots;
  return {
      {"forward", pipe::ResourceKind::kExactTable, 0, 64, 9, 9},
      {"flow_key", pipe::ResourceKind::kRegister, 1, slots, 32, 32},
      {"last_written", pipe::ResourceKind::kRegister, 2, slots, 32, 32},
      {"packets", pipe::ResourceKind::kRegister, 2, slots, 32, 32},
      {"count", pipe::ResourceKind::kRegister, 3, slots, 64, 64},
      {"seqnum", pipe::ResourceKind::kRegister, 4, 1, 8, 8},
  };
}

}  // namespace softfino::pipelines
