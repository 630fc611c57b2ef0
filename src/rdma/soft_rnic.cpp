#include "softfino/rdma/soft_rnic.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <span>

#include "absl/strings/str_cat.h"

namespace softfino::rdma {

SoftRnic::SoftRnic(const MemoryRegionTable& memory, rte_mempool* pool)
    : memory_(memory), pool_(pool) {}

absl::Status SoftRnic::AddQp(const SoftRnicQpConfig& config) {
  const uint32_t qpn = config.responder.qpn;
  if (qpn == 0 || qpn > net::kQpnMask) {
    return absl::InvalidArgumentError(
        absl::StrCat("QPN ", qpn, " is not usable; give 1..0xffffff (QP 0 and 1 are special)"));
  }
  if (qps_.contains(qpn)) {
    return absl::AlreadyExistsError(absl::StrCat("QP ", qpn, " already exists on this RNIC"));
  }
  absl::StatusOr<PathMtu> mtu = PathMtuFromBytes(config.responder.mtu);
  if (!mtu.ok()) return mtu.status();
  if (config.responder.max_read_bytes == 0) {
    return absl::InvalidArgumentError("max_read_bytes must be at least 1");
  }
  absl::StatusOr<RoceBuilder> builder = RoceBuilder::Create(config.to_requester,
                                                            config.requester_qpn);
  if (!builder.ok()) return builder.status();
  qps_.emplace(qpn, std::make_unique<Qp>(memory_, config, *builder, *mtu));
  max_answer_packets_ = std::max(max_answer_packets_, MaxAnswerPackets(config.responder));
  return absl::OkStatus();
}

absl::Status SoftRnic::RemoveQp(uint32_t qpn) {
  if (qps_.erase(qpn) == 0) return absl::NotFoundError(absl::StrCat("no QP ", qpn));
  return absl::OkStatus();
}

const RcResponderQp* SoftRnic::qp(uint32_t qpn) const {
  auto it = qps_.find(qpn);
  return it == qps_.end() ? nullptr : &it->second->responder;
}

std::vector<uint32_t> SoftRnic::qpns() const {
  std::vector<uint32_t> out;
  out.reserve(qps_.size());
  for (const auto& [qpn, qp] : qps_) out.push_back(qpn);
  std::sort(out.begin(), out.end());
  return out;
}

uint16_t SoftRnic::Process(rte_mbuf* frame, rte_mbuf** out, uint16_t cap) {
  ++frames_;
  RocePacket p;
  const RoceParseError err = ParseRoce(frame, &p);
  parse_drops_.Count(err);
  if (err != RoceParseError::kOk) {
    rte_pktmbuf_free(frame);
    return 0;
  }
  auto it = qps_.find(p.bth().qpn());
  if (it == qps_.end()) {
    Drop(SoftRnicDrop::kUnknownQpn);
    rte_pktmbuf_free(frame);
    return 0;
  }
  Qp& qp = *it->second;
  if (qp.peer_ip != 0 && p.src_ip() != qp.peer_ip) {
    // The QP is connected to one requester; anyone else guessing its QPN
    // and PSN is refused before it can touch memory.
    Drop(SoftRnicDrop::kWrongPeer);
    rte_pktmbuf_free(frame);
    return 0;
  }
  RcRequest r;
  r.opcode = p.opcode();
  r.psn = p.bth().psn_value();
  r.ack_req = p.bth().ack_requested();
  if (const net::Reth* reth = p.reth()) {
    r.vaddr = rte_be_to_cpu_64(reth->vaddr);
    r.rkey = rte_be_to_cpu_32(reth->rkey);
    r.dma_length = rte_be_to_cpu_32(reth->dma_length);
  } else if (const net::AtomicEth* a = p.atomic_eth()) {
    r.vaddr = rte_be_to_cpu_64(a->vaddr);
    r.rkey = rte_be_to_cpu_32(a->rkey);
    r.swap_add = rte_be_to_cpu_64(a->swap_add);
    r.compare = rte_be_to_cpu_64(a->compare);
  }
  const std::span<const uint8_t> payload = p.payload();
  r.payload = payload.data();
  r.payload_len = static_cast<uint32_t>(payload.size());
  // The request is executed (and its payload copied) before the frame goes.
  const RcResponse resp = qp.responder.Handle(r);
  rte_pktmbuf_free(frame);
  return Answer(qp, resp, out, cap);
}

uint16_t SoftRnic::Answer(Qp& qp, const RcResponse& resp, rte_mbuf** out, uint16_t cap) {
  using Kind = RcResponse::Kind;
  if (resp.kind == Kind::kNone) return 0;
  const MessageSegments segments(MessageKind::kReadResponse, resp.read_len, qp.mtu);
  const uint32_t count = resp.kind == Kind::kReadResponse ? segments.count() : 1;
  if (count > cap) {
    Drop(SoftRnicDrop::kNoRoom);
    return 0;
  }
  if (rte_pktmbuf_alloc_bulk(pool_, out, count) != 0) {
    Drop(SoftRnicDrop::kNoMbuf);
    return 0;
  }
  BuildStatus status = BuildStatus::kOk;
  switch (resp.kind) {
    case Kind::kAck:
      status = qp.builder.Ack(out[0], resp.psn, resp.msn);
      break;
    case Kind::kNak:
      status = qp.builder.Nak(out[0], resp.psn, resp.msn,
                              static_cast<net::NakCode>(resp.syndrome & 0x1f));
      break;
    case Kind::kAtomicAck:
      status = qp.builder.AtomicAck(out[0], resp.psn, resp.msn, resp.original);
      break;
    case Kind::kReadResponse:
      for (uint32_t i = 0; i < count && status == BuildStatus::kOk; ++i) {
        const Segment s = segments[i];
        const std::span<const uint8_t> part =
            s.length == 0 ? std::span<const uint8_t>() : std::span(resp.read_data + s.offset,
                                                                     s.length);
        status = qp.builder.ReadResponse(out[i], s.opcode, MessageSegments::PsnOf(resp.psn, i),
                                         resp.msn, part);
      }
      break;
    case Kind::kNone:
      break;
  }
  if (status != BuildStatus::kOk) {
    rte_pktmbuf_free_bulk(out, count);
    Drop(SoftRnicDrop::kBuildFailed);
    return 0;
  }
  answers_ += count;
  return static_cast<uint16_t>(count);
}

}  // namespace softfino::rdma
