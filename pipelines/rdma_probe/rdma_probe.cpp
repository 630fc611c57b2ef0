#include "pipelines/rdma_probe/rdma_probe.h"

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "softfino/pipe/parser.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

using pipe::DropReason;

namespace {

// The command, at the start of the UDP payload, network order.
struct [[gnu::packed]] CommandWire {
  uint8_t op;
  uint8_t reserved[3];
  rte_be32_t cookie;
  rte_be64_t offset;  // into the remote region
  rte_be64_t value;   // WRITE: the 8 bytes written; FETCH_ADD: the addend
  rte_be32_t length;  // READ: bytes to read
};
static_assert(sizeof(CommandWire) == 28);

// The result, at the start of the UDP payload, network order; READ data
// follows it.
struct [[gnu::packed]] ResultWire {
  uint8_t kind;
  uint8_t syndrome;  // kError: the NAK's AETH syndrome, 0 when flushed
  uint8_t reserved[2];
  rte_be32_t cookie;
  rte_be32_t offset;  // kReadData: where in the READ these bytes go
  rte_be32_t length;  // kReadData: how many follow
  rte_be64_t value;   // kAtomic: what memory held before
};
static_assert(sizeof(ResultWire) == 24);

constexpr uint32_t kResultHeaders =
    sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);

// Rewrites `m` into a result packet carrying `r` and `data` (which may lie
// inside `m` itself: it is moved before the headers are written).
void WriteResult(rte_mbuf* m, const ResultWire& r, const uint8_t* data, uint32_t len) {
  uint8_t* base = rte_pktmbuf_mtod(m, uint8_t*);
  if (len != 0) std::memmove(base + kResultHeaders + sizeof(ResultWire), data, len);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(base);
  std::memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
  const uint8_t src[RTE_ETHER_ADDR_LEN] = {0x02, 0x50, 0x52, 0x4f, 0x42, 0x45};  // "PROBE"
  std::memcpy(&eth->src_addr, src, RTE_ETHER_ADDR_LEN);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  const uint16_t ip_len = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) +
                                                sizeof(ResultWire) + len);
  *ip = {};
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(ip_len);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(0xc0a8ff01);  // 192.168.255.1 -> .2
  ip->dst_addr = rte_cpu_to_be_32(0xc0a8ff02);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = udp->dst_port = rte_cpu_to_be_16(RdmaProbe::kResultUdpPort);
  udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len - sizeof(rte_ipv4_hdr)));
  udp->dgram_cksum = 0;
  std::memcpy(udp + 1, &r, sizeof(r));
  m->data_len = static_cast<uint16_t>(sizeof(rte_ether_hdr) + ip_len);
  m->pkt_len = m->data_len;
}

}  // namespace

std::unique_ptr<pipe::Program> RdmaProbe::Create() { return std::make_unique<RdmaProbe>(); }
RdmaProbe::~RdmaProbe() = default;

nlohmann::json RdmaProbe::Counters() const {
  nlohmann::json pipes = nlohmann::json::array();
  for (const auto& qp : qps_) {
    nlohmann::json q = {{"qpn", qp->conn.local.qpn}, {"next_psn", qp->requester.next_psn()},
                        {"outstanding", qp->requester.outstanding()}};
    for (size_t i = 0; i < rdma::kRequesterEventCount; ++i) {
      q[rdma::kRequesterEventNames[i]] = qp->requester.count(static_cast<rdma::RequesterEvent>(i));
    }
    pipes.push_back(std::move(q));
  }
  return {{"requesters", std::move(pipes)}};
}

absl::Status RdmaProbe::Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) {
  if (info.pipe_count != 1) {
    // Answers reach whichever pipe RSS picks, and a pipe can only act on
    // its own queue pair.
    return absl::InvalidArgumentError(
        "rdma_probe runs in one pipe (--fp-cores 1): the collector's answers must reach the "
        "pipe whose queue pair they belong to, which RSS does not promise");
  }
  nlohmann::json probe = nlohmann::json::object();
  if (config.is_object() && config.contains("probe")) probe = config["probe"];
  if (!probe.is_object()) return absl::InvalidArgumentError("probe: expected an object");
  uint64_t fields[3] = {0, 0, 1000};  // command_port, drop_every, timeout_us
  const char* names[3] = {"command_port", "drop_every", "timeout_us"};
  for (const auto& [key, value] : probe.items()) {
    // Init-capture: clang before 16 cannot capture a structured binding.
    const auto* at = std::find_if(std::begin(names), std::end(names),
                                  [&name = key](const char* n) { return name == n; });
    if (at == std::end(names)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "probe: unknown field \"", key, "\"; it has command_port, drop_every, timeout_us"));
    }
    if (!value.is_number_unsigned()) {
      return absl::InvalidArgumentError(
          absl::StrCat("probe.", key, " must be a non-negative integer"));
    }
    fields[at - std::begin(names)] = value.get<uint64_t>();
  }
  if (fields[2] == 0 || fields[2] > 10'000'000) {
    return absl::InvalidArgumentError("probe.timeout_us must be 1 .. 10000000");
  }
  command_port_ = static_cast<pipe::PortId>(std::min<uint64_t>(fields[0], 0xffff));
  drop_every_ = static_cast<uint32_t>(std::min<uint64_t>(fields[1], 0xffffffff));
  const uint64_t timeout_us = fields[2];
  if (command_port_ >= info.port_count) {
    return absl::InvalidArgumentError(absl::StrCat("probe.command_port ", command_port_,
                                                   " does not exist; the switch has ports 0..",
                                                   info.port_count - 1));
  }
  auto conns = rdma::FindConnection(config, "collector");
  if (!conns.ok()) return conns.status();
  if (conns->size() != info.pipe_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "connection 'collector' has ", conns->size(), " queue pair(s) for ", info.pipe_count,
        " pipe(s)"));
  }
  qps_.clear();
  for (const rdma::ConnectedQueuePair& c : *conns) {
    if (c.port == command_port_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "probe.command_port ", command_port_,
          " is also the port towards the collector; commands and answers need their own ports"));
    }
    auto builder = rdma::RoceBuilder::Create(c.RequestEndpoint(), c.remote.qpn);
    if (!builder.ok()) return builder.status();
    rdma::RcRequesterConfig rc;
    rc.start_psn = c.remote.psn;  // the PSN the collector expects first
    rc.mtu = c.remote.mtu;
    rc.retransmit = true;
    rc.timeout_ns = timeout_us * 1000;
    qps_.push_back(std::make_unique<PipeQp>(c, *builder, rc));
  }
  return absl::OkStatus();
}

void RdmaProbe::Send(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp,
                     const rdma::PacketFields& f) const {
  if (drop_every_ != 0 && ++qp.sent % drop_every_ == 0) {
    md.Drop(DropReason::kInjectedLoss);
    return;
  }
  if (qp.builder.Build(m, f) != rdma::BuildStatus::kOk) {
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  md.ig_intr_md_for_tm.ucast_egress_port = qp.conn.port;
}

void RdmaProbe::Resend(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp,
                       DropReason idle) const {
  // A flush into the error state completes requests nobody waits for here:
  // the counters say so.
  auto ignore = [](const rdma::Completion&) {};
  const uint64_t now = md.ig_intr_md.ingress_mac_tstamp;
  if (const rdma::PacketFields* again = qp.requester.NextResend(now, ignore)) {
    Send(m, md, qp, *again);
    return;
  }
  md.Drop(idle);
}

void RdmaProbe::Command(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp) const {
  pipe::ParsedHeaders hdr;
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const DropReason parsed = pipe::ParseL3(frame, m->data_len, m->pkt_len, hdr);
  if (parsed != DropReason::kNone) {
    md.Drop(parsed);
    return;
  }
  const uint32_t ihl = hdr.l3_type == pipe::L3Type::kIpv4 ? (hdr.ipv4->version_ihl & 0xf) * 4u : 0;
  const uint32_t l4 = pipe::kEthernetHeaderLength + ihl;
  if (hdr.l3_type != pipe::L3Type::kIpv4 || hdr.ipv4->next_proto_id != IPPROTO_UDP ||
      hdr.l3_length < ihl + sizeof(rte_udp_hdr) + sizeof(CommandWire) ||
      m->data_len < l4 + sizeof(rte_udp_hdr) + sizeof(CommandWire) ||
      reinterpret_cast<rte_udp_hdr*>(frame + l4)->dst_port !=
          rte_cpu_to_be_16(kCommandUdpPort)) {
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  CommandWire c;
  std::memcpy(&c, frame + l4 + sizeof(rte_udp_hdr), sizeof(c));
  const uint64_t offset = rte_be_to_cpu_64(c.offset);
  const rdma::QpParams& remote = qp.conn.remote;
  uint8_t value[8];
  std::memcpy(value, &c.value, 8);  // WRITE: the bytes as given
  rdma::PacketFields f;
  f.vaddr = remote.iova + offset;
  f.rkey = remote.rkey;
  f.ack_req = true;
  switch (static_cast<Op>(c.op)) {
    case Op::kTick:
      Resend(m, md, qp, DropReason::kTimerUnused);
      return;
    case Op::kWrite:
      f.opcode = net::RcOpcode::kWriteOnly;
      f.dma_length = 8;
      f.payload = value;
      break;
    case Op::kRead:
      f.opcode = net::RcOpcode::kReadRequest;
      f.dma_length = rte_be_to_cpu_32(c.length);
      break;
    case Op::kFetchAdd:
      f.opcode = net::RcOpcode::kFetchAdd;
      f.swap_add = rte_be_to_cpu_64(c.value);
      break;
    default:
      md.Drop(DropReason::kRdmaBadPacket);
      return;
  }
  // Out-of-range offsets go to the collector as asked: refusing them is its
  // job (and the test's point).
  const uint64_t now = md.ig_intr_md.ingress_mac_tstamp;
  if (!qp.requester.Post(f, rte_be_to_cpu_32(c.cookie), now)) {
    md.Drop(qp.requester.in_error() ? DropReason::kRdmaQpError : DropReason::kRdmaWindowFull);
    return;
  }
  // While older requests are due again, this packet carries the oldest of
  // them instead: the new one is in the window, behind them, and goes in
  // its turn (sent now it would only arrive out of order and be refused).
  auto ignore = [](const rdma::Completion&) {};
  const rdma::PacketFields* due = qp.requester.NextResend(now, ignore);
  Send(m, md, qp, due != nullptr ? *due : f);
}

void RdmaProbe::Answer(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp) const {
  if (drop_every_ != 0 && ++qp.received % drop_every_ == 0) {
    md.Drop(DropReason::kInjectedLoss);
    return;
  }
  rdma::RocePacket p;
  if (rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk ||
      p.bth().qpn() != qp.conn.local.qpn) {
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  // At most one result fits in this packet: READ data or an atomic's value
  // or an error (one answer brings at most one of them: a READ response
  // feeds one READ, an atomic ACK answers one atomic, a NAK fails one
  // request; the others it completes are plain ACKed WRITEs).
  ResultWire r{};
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  auto on_complete = [&](const rdma::Completion& c) {
    using Kind = rdma::Completion::Kind;
    if (c.kind == Kind::kReadData) {
      r.kind = static_cast<uint8_t>(Result::kReadData);
      r.offset = rte_cpu_to_be_32(c.offset);
      data = c.data.data();
      len = static_cast<uint32_t>(c.data.size());
    } else if (c.kind == Kind::kError) {
      if (r.kind != 0) return;
      r.kind = static_cast<uint8_t>(Result::kError);
      r.syndrome = c.syndrome;
    } else if (c.opcode == net::RcOpcode::kFetchAdd || c.opcode == net::RcOpcode::kCompareSwap) {
      r.kind = static_cast<uint8_t>(Result::kAtomic);
      r.value = rte_cpu_to_be_64(c.original);
    } else {
      return;
    }
    r.cookie = rte_cpu_to_be_32(static_cast<uint32_t>(c.cookie));
  };
  // A refused request (bad offset, unaligned atomic) puts the RC queue pair
  // in the error state, as on a NIC; it stays there (restarting at the
  // refused PSN would let a late second NAK for that PSN, from a resend,
  // fail the next request that reuses it).
  qp.requester.OnAnswer(p, md.ig_intr_md.ingress_mac_tstamp, on_complete);
  if (r.kind == 0) {
    // Nothing to report: the packet is free to carry a resend.
    Resend(m, md, qp, DropReason::kRdmaAnswerConsumed);
    return;
  }
  r.length = rte_cpu_to_be_32(len);
  // The result's headers are longer than the answer's (an MTU-sized READ
  // response at MTU 2048 or more would not fit the mbuf any more).
  const uint32_t room = rte_pktmbuf_data_room_size(m->pool) - m->data_off;
  if (kResultHeaders + sizeof(ResultWire) + len > room) {
    md.Drop(DropReason::kRdmaBadPacket);
    return;
  }
  WriteResult(m, r, data, len);
  md.ig_intr_md_for_tm.ucast_egress_port = command_port_;
}

void RdmaProbe::Ingress(pipe::PacketBurst& burst) const {
  for (uint16_t i = 0; i < burst.count; ++i) {
    pipe::IngressMetadata& md = burst.md[i];
    PipeQp& qp = *qps_[md.ig_intr_md.pipe];
    const pipe::PortId in = md.ig_intr_md.ingress_port;
    if (in == command_port_) {
      Command(burst.pkts[i], md, qp);
    } else if (in == qp.conn.port) {
      Answer(burst.pkts[i], md, qp);
    } else if (pipe::IsRecirculationPort(in)) {
      // A timer packet of the packet generator (which enters on the pipe's
      // port 68, as on Tofino-1): the requester's chance to resend.
      Resend(burst.pkts[i], md, qp, DropReason::kTimerUnused);
    } else {
      md.Drop(DropReason::kRdmaBadPacket);
    }
  }
}

std::vector<pipe::ResourceUse> RdmaProbe::Resources() const {
  // Per QP on Tofino: the PSN register and the window (a register of
  // request descriptors indexed by PSN), one stateful ALU each.
  return {
      {"psn", pipe::ResourceKind::kRegister, 0, 1, 32, 32},
      {"window", pipe::ResourceKind::kRegister, 1, 64, 128, 128},
  };
}

}  // namespace softfino::pipelines
