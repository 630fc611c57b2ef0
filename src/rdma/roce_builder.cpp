#include "softfino/rdma/roce_builder.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "softfino/rdma/icrc.h"

namespace softfino::rdma {
namespace {

using net::RcOpcode;

constexpr uint32_t kEth = sizeof(rte_ether_hdr);
constexpr uint32_t kIp = sizeof(rte_ipv4_hdr);
constexpr uint32_t kUdp = sizeof(rte_udp_hdr);
constexpr uint32_t kBthOff = kEth + kIp + kUdp;
static_assert(kBthOff + sizeof(net::Bth) == 54);

uint8_t PadOf(size_t payload_len) { return static_cast<uint8_t>((4 - (payload_len & 3)) & 3); }

// Big-endian stores at any alignment (extension headers follow the 14-byte
// Ethernet header, so nothing after it is naturally aligned).
void Put16(uint8_t* p, uint16_t v) {
  const rte_be16_t be = rte_cpu_to_be_16(v);
  std::memcpy(p, &be, sizeof(be));
}
void Put32(uint8_t* p, uint32_t v) {
  const rte_be32_t be = rte_cpu_to_be_32(v);
  std::memcpy(p, &be, sizeof(be));
}
void Put64(uint8_t* p, uint64_t v) {
  const rte_be64_t be = rte_cpu_to_be_64(v);
  std::memcpy(p, &be, sizeof(be));
}

}  // namespace

uint16_t RoceUdpSourcePort(uint32_t local_qpn, uint32_t remote_qpn) {
  // The IPv6 flow label RoCE derives from the QPN pair (20 bits), then the
  // top 6 of its bits folded into the low 14 so that all of it counts.
  uint64_t v = uint64_t{local_qpn & net::kQpnMask} * (remote_qpn & net::kQpnMask);
  v ^= v >> 20;
  v ^= v >> 40;
  const uint32_t label = static_cast<uint32_t>(v & 0xfffff);
  const uint32_t low = (label & 0x3fff) ^ (label >> 14);
  return static_cast<uint16_t>(kRoceUdpSourcePortMin | low);
}

absl::Status ValidateEndpoint(const Endpoint& ep) {
  if (ep.dscp > 63) {
    return absl::InvalidArgumentError(
        absl::StrCat("RoCE endpoint: dscp ", ep.dscp, " is out of range; use 0..63"));
  }
  if (ep.ecn > 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RoCE endpoint: ecn ", ep.ecn, " is out of range; use 0 (Not-ECT), 1, 2 (ECT) or 3 (CE)"));
  }
  if (ep.ttl == 0) {
    return absl::InvalidArgumentError("RoCE endpoint: ttl 0 would be dropped by the first hop");
  }
  if (ep.src_ip == 0 || ep.dst_ip == 0) {
    return absl::InvalidArgumentError(
        "RoCE endpoint: source and destination IPv4 addresses must both be set");
  }
  if (ep.udp_src_port < kRoceUdpSourcePortMin) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RoCE endpoint: UDP source port ", ep.udp_src_port,
        " is outside RoCEv2's range 49152..65535 (0xc000..0xffff); use RoceUdpSourcePort()"));
  }
  return absl::OkStatus();
}

const char* BuildStatusName(BuildStatus status) {
  switch (status) {
    case BuildStatus::kOk:
      return "ok";
    case BuildStatus::kNoRoom:
      return "no_room";
    case BuildStatus::kMultiSegment:
      return "multi_segment";
    case BuildStatus::kBadOpcode:
      return "bad_opcode";
    case BuildStatus::kUnexpectedPayload:
      return "unexpected_payload";
    case BuildStatus::kTooLong:
      return "too_long";
  }
  return "unknown";
}

absl::StatusOr<RoceBuilder> RoceBuilder::Create(const Endpoint& ep, uint32_t dest_qpn) {
  if (absl::Status s = ValidateEndpoint(ep); !s.ok()) return s;
  if (dest_qpn > net::kQpnMask) {
    return absl::InvalidArgumentError(
        absl::StrCat("RoCE destination QPN ", dest_qpn, " does not fit in 24 bits (max 16777215)"));
  }
  RoceBuilder b;
  b.endpoint_ = ep;
  b.dest_qpn_ = dest_qpn;
  uint8_t* t = b.template_;
  std::memcpy(t, ep.dst_mac.data(), 6);
  std::memcpy(t + 6, ep.src_mac.data(), 6);
  Put16(t + 12, RTE_ETHER_TYPE_IPV4);
  uint8_t* ip = t + kEth;
  ip[0] = 0x45;
  ip[1] = static_cast<uint8_t>((ep.dscp << 2) | ep.ecn);
  Put16(ip + 6, 0x4000);  // DF: RoCE packets are never fragmented
  ip[8] = ep.ttl;
  ip[9] = IPPROTO_UDP;
  Put32(ip + 12, ep.src_ip);
  Put32(ip + 16, ep.dst_ip);
  uint8_t* udp = ip + kIp;
  Put16(udp, ep.udp_src_port);
  Put16(udp + 2, net::kRoceV2UdpPort);
  auto* bth = reinterpret_cast<net::Bth*>(t + kBthOff);
  bth->pkey = rte_cpu_to_be_16(net::kDefaultPkey);
  bth->set_qpn(dest_qpn);
  for (uint32_t i = 0; i < kIp; i += 2) b.ip_sum_ += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
  return b;
}

uint32_t RoceBuilder::FrameLength(net::RcOpcode opcode, uint32_t payload_len) {
  return kEth + kIp + kUdp + net::LayoutOf(opcode).header_bytes() + payload_len +
         PadOf(payload_len) + net::kIcrcBytes;
}

BuildStatus RoceBuilder::Build(rte_mbuf* m, const PacketFields& f, IcrcWhen icrc) const {
  const net::OpcodeLayout layout = net::LayoutOf(f.opcode);
  if (!layout.valid) return BuildStatus::kBadOpcode;
  if (!layout.payload && !f.payload.empty()) return BuildStatus::kUnexpectedPayload;
  if (m->nb_segs != 1 || m->next != nullptr) return BuildStatus::kMultiSegment;
  const size_t payload_len = f.payload.size();
  const uint8_t pad = PadOf(payload_len);
  const size_t datagram = kIp + kUdp + layout.header_bytes() + payload_len + pad + net::kIcrcBytes;
  if (datagram > RTE_IPV4_MAX_PKT_LEN) return BuildStatus::kTooLong;
  const size_t frame = kEth + datagram;
  if (frame > static_cast<size_t>(m->buf_len - m->data_off)) return BuildStatus::kNoRoom;

  uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
  std::memcpy(p, template_, kTemplateBytes);
  uint8_t* ip = p + kEth;
  Put16(ip + 2, static_cast<uint16_t>(datagram));
  // The header checksum from the template's sum and the total length, not
  // read back from the header just written: 16-byte loads over the copy's
  // and Put16's narrower stores waited for them to reach the cache (a
  // store-forwarding stall per packet, the hottest instruction of Build).
  uint32_t sum = ip_sum_ + static_cast<uint32_t>(datagram);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  Put16(ip + 10, static_cast<uint16_t>(~sum));
  Put16(ip + kIp + 4, static_cast<uint16_t>(datagram - kIp));

  auto* bth = reinterpret_cast<net::Bth*>(p + kBthOff);
  bth->opcode = static_cast<uint8_t>(f.opcode);
  bth->set_flags(f.solicited, pad);
  bth->set_ack_req(f.ack_req);
  bth->set_psn(f.psn & net::kPsnMask);

  // Extension headers in the wire order of net::OpcodeLayout.
  uint8_t* h = p + kBthOff + sizeof(net::Bth);
  if (layout.reth) {
    Put64(h, f.vaddr);
    Put32(h + 8, f.rkey);
    Put32(h + 12, f.dma_length);
    h += sizeof(net::Reth);
  }
  if (layout.atomic_eth) {
    Put64(h, f.vaddr);
    Put32(h + 8, f.rkey);
    Put64(h + 12, f.swap_add);
    Put64(h + 20, f.compare);
    h += sizeof(net::AtomicEth);
  }
  if (layout.aeth) {
    h[0] = f.syndrome;
    net::Bth::Set24(h + 1, f.msn & 0xffffff);
    h += sizeof(net::Aeth);
  }
  if (layout.atomic_ack_eth) {
    Put64(h, f.original);
    h += sizeof(net::AtomicAckEth);
  }
  if (layout.immdt) {
    Put32(h, f.imm);
    h += sizeof(net::ImmDt);
  }
  if (payload_len != 0) std::memcpy(h, f.payload.data(), payload_len);
  h += payload_len;
  std::memset(h, 0, pad);
  if (icrc == IcrcWhen::kNow) {
    StoreIcrc(h + pad, IcrcOfIpv4Datagram(ip, static_cast<uint32_t>(datagram)));
  }

  m->data_len = static_cast<uint16_t>(frame);
  m->pkt_len = static_cast<uint32_t>(frame);
  m->l2_len = kEth;
  m->l3_len = kIp;
  m->l4_len = kUdp;
  m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP;
  return BuildStatus::kOk;
}

void RoceBuilder::FinishIcrc(rte_mbuf* m) {
  uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, kEth);
  const uint32_t datagram = m->data_len - kEth;
  StoreIcrc(ip + datagram - net::kIcrcBytes, IcrcOfIpv4Datagram(ip, datagram));
}

namespace {
// The fields every packet has; the named builders add their own.
PacketFields Base(net::RcOpcode op, uint32_t psn, bool ack_req) {
  PacketFields f;
  f.opcode = op;
  f.psn = psn;
  f.ack_req = ack_req;
  return f;
}
PacketFields WithRemote(PacketFields f, RemoteBuffer r) {
  f.vaddr = r.vaddr;
  f.rkey = r.rkey;
  return f;
}
PacketFields WithPayload(PacketFields f, std::span<const uint8_t> payload) {
  f.payload = payload;
  return f;
}
PacketFields WithAeth(PacketFields f, uint8_t syndrome, uint32_t msn) {
  f.syndrome = syndrome;
  f.msn = msn;
  return f;
}
}  // namespace

BuildStatus RoceBuilder::WriteOnly(rte_mbuf* m, uint32_t psn, bool ack_req, RemoteBuffer dst,
                                   std::span<const uint8_t> payload) const {
  PacketFields f = WithPayload(WithRemote(Base(RcOpcode::kWriteOnly, psn, ack_req), dst), payload);
  f.dma_length = static_cast<uint32_t>(payload.size());
  return Build(m, f);
}

BuildStatus RoceBuilder::WriteOnlyImm(rte_mbuf* m, uint32_t psn, bool ack_req, RemoteBuffer dst,
                                      uint32_t imm, std::span<const uint8_t> payload) const {
  PacketFields f =
      WithPayload(WithRemote(Base(RcOpcode::kWriteOnlyImm, psn, ack_req), dst), payload);
  f.dma_length = static_cast<uint32_t>(payload.size());
  f.imm = imm;
  return Build(m, f);
}

BuildStatus RoceBuilder::WriteFirst(rte_mbuf* m, uint32_t psn, RemoteBuffer dst,
                                    uint32_t message_len, std::span<const uint8_t> payload) const {
  PacketFields f = WithPayload(WithRemote(Base(RcOpcode::kWriteFirst, psn, false), dst), payload);
  f.dma_length = message_len;
  return Build(m, f);
}

BuildStatus RoceBuilder::WriteMiddle(rte_mbuf* m, uint32_t psn,
                                     std::span<const uint8_t> payload) const {
  return Build(m, WithPayload(Base(RcOpcode::kWriteMiddle, psn, false), payload));
}

BuildStatus RoceBuilder::WriteLast(rte_mbuf* m, uint32_t psn, bool ack_req,
                                   std::span<const uint8_t> payload) const {
  return Build(m, WithPayload(Base(RcOpcode::kWriteLast, psn, ack_req), payload));
}

BuildStatus RoceBuilder::ReadRequest(rte_mbuf* m, uint32_t psn, RemoteBuffer src,
                                     uint32_t length) const {
  // A READ is always answered, so it always asks for the answer.
  PacketFields f = WithRemote(Base(RcOpcode::kReadRequest, psn, true), src);
  f.dma_length = length;
  return Build(m, f);
}

BuildStatus RoceBuilder::FetchAdd(rte_mbuf* m, uint32_t psn, RemoteBuffer dst, uint64_t add) const {
  PacketFields f = WithRemote(Base(RcOpcode::kFetchAdd, psn, true), dst);
  f.swap_add = add;
  return Build(m, f);
}

BuildStatus RoceBuilder::CompareSwap(rte_mbuf* m, uint32_t psn, RemoteBuffer dst, uint64_t compare,
                                     uint64_t swap) const {
  PacketFields f = WithRemote(Base(RcOpcode::kCompareSwap, psn, true), dst);
  f.swap_add = swap;
  f.compare = compare;
  return Build(m, f);
}

BuildStatus RoceBuilder::SendOnly(rte_mbuf* m, uint32_t psn, bool ack_req, bool solicited,
                                  std::span<const uint8_t> payload) const {
  PacketFields f = WithPayload(Base(RcOpcode::kSendOnly, psn, ack_req), payload);
  f.solicited = solicited;
  return Build(m, f);
}

BuildStatus RoceBuilder::ReadResponse(rte_mbuf* m, RcOpcode op, uint32_t psn, uint32_t msn,
                                      std::span<const uint8_t> payload) const {
  return Build(m, WithPayload(WithAeth(Base(op, psn, false), net::AckSyndrome(), msn), payload));
}
BuildStatus RoceBuilder::ReadResponseOnly(rte_mbuf* m, uint32_t psn, uint32_t msn,
                                          std::span<const uint8_t> payload) const {
  return ReadResponse(m, RcOpcode::kReadResponseOnly, psn, msn, payload);
}
BuildStatus RoceBuilder::ReadResponseFirst(rte_mbuf* m, uint32_t psn, uint32_t msn,
                                           std::span<const uint8_t> payload) const {
  return ReadResponse(m, RcOpcode::kReadResponseFirst, psn, msn, payload);
}
BuildStatus RoceBuilder::ReadResponseMiddle(rte_mbuf* m, uint32_t psn,
                                            std::span<const uint8_t> payload) const {
  return ReadResponse(m, RcOpcode::kReadResponseMiddle, psn, 0, payload);
}
BuildStatus RoceBuilder::ReadResponseLast(rte_mbuf* m, uint32_t psn, uint32_t msn,
                                          std::span<const uint8_t> payload) const {
  return ReadResponse(m, RcOpcode::kReadResponseLast, psn, msn, payload);
}

BuildStatus RoceBuilder::Ack(rte_mbuf* m, uint32_t psn, uint32_t msn, uint8_t credits) const {
  return Build(m,
               WithAeth(Base(RcOpcode::kAcknowledge, psn, false), net::AckSyndrome(credits), msn));
}

BuildStatus RoceBuilder::Nak(rte_mbuf* m, uint32_t psn, uint32_t msn, net::NakCode code) const {
  return Build(m, WithAeth(Base(RcOpcode::kAcknowledge, psn, false), net::NakSyndrome(code), msn));
}

BuildStatus RoceBuilder::AtomicAck(rte_mbuf* m, uint32_t psn, uint32_t msn,
                                   uint64_t original) const {
  PacketFields f =
      WithAeth(Base(RcOpcode::kAtomicAcknowledge, psn, false), net::AckSyndrome(), msn);
  f.original = original;
  return Build(m, f);
}

absl::StatusOr<PathMtu> PathMtuFromBytes(uint32_t bytes) {
  switch (bytes) {
    case 256:
    case 512:
    case 1024:
    case 2048:
    case 4096:
      return static_cast<PathMtu>(bytes);
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "path MTU ", bytes, " is not one RoCE allows; use 256, 512, 1024, 2048 or 4096"));
  }
}

Segment MessageSegments::operator[](uint32_t i) const {
  const bool first = i == 0;
  const bool last = i + 1 == count_;
  Segment s{};
  s.index = i;
  s.offset = i * mtu_;
  s.length = last ? length_ - s.offset : mtu_;
  switch (kind_) {
    case MessageKind::kWrite:
    case MessageKind::kWriteWithImm: {
      const bool imm = kind_ == MessageKind::kWriteWithImm;
      if (first && last) {
        s.opcode = imm ? RcOpcode::kWriteOnlyImm : RcOpcode::kWriteOnly;
      } else if (first) {
        s.opcode = RcOpcode::kWriteFirst;
      } else if (last) {
        s.opcode = imm ? RcOpcode::kWriteLastImm : RcOpcode::kWriteLast;
      } else {
        s.opcode = RcOpcode::kWriteMiddle;
      }
      break;
    }
    case MessageKind::kReadResponse:
      s.opcode = first && last ? RcOpcode::kReadResponseOnly
                 : first       ? RcOpcode::kReadResponseFirst
                 : last        ? RcOpcode::kReadResponseLast
                               : RcOpcode::kReadResponseMiddle;
      break;
  }
  return s;
}

}  // namespace softfino::rdma
