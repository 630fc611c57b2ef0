// Builds RoCEv2 RC packets into caller-provided mbufs, for the data plane
// (DTA's translator, TEA's lookups: WRITE, atomics, READ requests) and the
// soft RNIC responder (READ responses, ACK/NAK, atomic acknowledgements).
//
// A RoceBuilder belongs to one queue pair and one direction: it is made on
// the control path from the endpoint's addresses and the destination QPN,
// and holds the Ethernet/IPv4/UDP/BTH headers with everything that is
// constant per QP already in wire form. Per packet it copies that template,
// fills in the opcode, PSN, lengths, IPv4 checksum, extension headers and
// payload, and appends the ICRC: no allocation, no branch on the QP.
//
// Every packet: IPv4 with DF and ID 0 (RFC 6864: atomic datagrams), UDP to
// 4791 with checksum 0 (allowed for RoCEv2 over IPv4, Annex A17.4.2), BTH
// with P_Key 0xffff, TVer 0, MigReq 1, pad count so that payload + pad is a
// multiple of 4 (pad bytes are zero), and a valid ICRC.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "softfino/net/address.h"
#include "softfino/net/roce.h"

namespace softfino::rdma {

// RoCEv2 senders pick the UDP source port for ECMP entropy from the dynamic
// range 0xc000-0xffff (Annex A17.4.2). Linux derives it from the QPNs of
// both ends so each connection keeps one path; RoceUdpSourcePort does the
// same: the 20-bit flow label of (local * remote QPN), folded to 14 bits.
inline constexpr uint16_t kRoceUdpSourcePortMin = 0xc000;
uint16_t RoceUdpSourcePort(uint32_t local_qpn, uint32_t remote_qpn);

// The addresses of the packets one side of a connection sends.
struct Endpoint {
  net::MacAddress src_mac{};
  net::MacAddress dst_mac{};
  uint32_t src_ip = 0;  // host byte order
  uint32_t dst_ip = 0;  // host byte order
  uint16_t udp_src_port = kRoceUdpSourcePortMin;
  uint8_t dscp = 0;  // 0..63
  // 0..3. Not-ECT by default: the switch runs no congestion control, so a
  // CE mark would only make the receiver send CNPs that nobody acts on.
  uint8_t ecn = 0;
  uint8_t ttl = 64;
};

// Fails with what to fix: DSCP, ECN or TTL out of range, a zero address or
// a source port outside the RoCEv2 range.
absl::Status ValidateEndpoint(const Endpoint& ep);

// Why a packet was not built. Only kNoRoom and kMultiSegment can come from
// the named builders; the others guard Build() with hand-made fields.
enum class BuildStatus : uint8_t {
  kOk = 0,
  kNoRoom,             // the mbuf's buffer is too small for the packet
  kMultiSegment,       // the mbuf is chained; builders fill one segment
  kBadOpcode,          // not an RC opcode (net::LayoutOf says invalid)
  kUnexpectedPayload,  // payload given for an opcode that carries none
  kTooLong,            // over the 65535-byte IPv4 datagram
};
const char* BuildStatusName(BuildStatus status);

// Everything a packet may carry besides the addresses; fields the opcode
// does not carry (net::LayoutOf) are ignored. Integers in host order.
struct PacketFields {
  net::RcOpcode opcode = net::RcOpcode::kWriteOnly;
  uint32_t psn = 0;  // 24 bits; higher bits are dropped
  bool ack_req = false;
  bool solicited = false;
  // RETH (WRITE First/Only, READ Request) and AtomicETH
  uint64_t vaddr = 0;
  uint32_t rkey = 0;
  uint32_t dma_length = 0;  // RETH only
  uint64_t swap_add = 0;    // AtomicETH: the swap value or the addend
  uint64_t compare = 0;     // AtomicETH: the compare value (CMP_SWAP)
  // AETH (ACK, NAK, READ Response First/Last/Only, Atomic Acknowledge)
  uint8_t syndrome = net::AckSyndrome();
  uint32_t msn = 0;
  uint64_t original = 0;  // AtomicAckETH
  uint32_t imm = 0;       // ImmDt
  std::span<const uint8_t> payload;
};

// Where a request points in the responder's memory.
struct RemoteBuffer {
  uint64_t vaddr = 0;
  uint32_t rkey = 0;
};

class RoceBuilder {
 public:
  // Control path: checks the endpoint (ValidateEndpoint) and the QPN (24 bits).
  static absl::StatusOr<RoceBuilder> Create(const Endpoint& ep, uint32_t dest_qpn);

  const Endpoint& endpoint() const { return endpoint_; }
  uint32_t dest_qpn() const { return dest_qpn_; }

  // The frame length of a packet of `opcode` with `payload_len` payload bytes
  // (pad and ICRC included), e.g. to size mbufs.
  static uint32_t FrameLength(net::RcOpcode opcode, uint32_t payload_len);

  // Builds the packet `f` describes at the start of `m`'s data room
  // (rte_pktmbuf_mtod; whatever the mbuf held is overwritten) and sets
  // data_len, pkt_len, l2/l3/l4_len and packet_type. On failure the mbuf is
  // unchanged.
  //
  // With IcrcWhen::kLater the 4 ICRC bytes are left as they are and the
  // caller writes them with FinishIcrc before the packet leaves. The ICRC
  // reads the packet in 16-byte pieces, and read at once those loads wait
  // for the narrower stores that just built it to reach the cache (a
  // store-forwarding stall each); a caller that builds a burst and then
  // finishes the ICRCs reads stores that have long left the store buffer.
  enum class IcrcWhen : uint8_t { kNow, kLater };
  BuildStatus Build(rte_mbuf* m, const PacketFields& f, IcrcWhen icrc = IcrcWhen::kNow) const;
  // Writes the ICRC of a packet Build made with IcrcWhen::kLater.
  static void FinishIcrc(rte_mbuf* m);

  // --- requests (requester to responder) ---
  // WRITE Only: dma_length = payload size.
  BuildStatus WriteOnly(rte_mbuf* m, uint32_t psn, bool ack_req, RemoteBuffer dst,
                        std::span<const uint8_t> payload) const;
  BuildStatus WriteOnlyImm(rte_mbuf* m, uint32_t psn, bool ack_req, RemoteBuffer dst, uint32_t imm,
                           std::span<const uint8_t> payload) const;
  // WRITE First carries the RETH with the whole message's length.
  BuildStatus WriteFirst(rte_mbuf* m, uint32_t psn, RemoteBuffer dst, uint32_t message_len,
                         std::span<const uint8_t> payload) const;
  BuildStatus WriteMiddle(rte_mbuf* m, uint32_t psn, std::span<const uint8_t> payload) const;
  BuildStatus WriteLast(rte_mbuf* m, uint32_t psn, bool ack_req,
                        std::span<const uint8_t> payload) const;
  // READ Request for `length` bytes; the responses take
  // MessageSegments(kReadResponse, length, mtu).count() PSNs from `psn` on.
  BuildStatus ReadRequest(rte_mbuf* m, uint32_t psn, RemoteBuffer src, uint32_t length) const;
  BuildStatus FetchAdd(rte_mbuf* m, uint32_t psn, RemoteBuffer dst, uint64_t add) const;
  BuildStatus CompareSwap(rte_mbuf* m, uint32_t psn, RemoteBuffer dst, uint64_t compare,
                          uint64_t swap) const;
  BuildStatus SendOnly(rte_mbuf* m, uint32_t psn, bool ack_req, bool solicited,
                       std::span<const uint8_t> payload) const;

  // --- responses (responder to requester) ---
  // READ Response First/Last/Only carry an ACK AETH with the MSN.
  BuildStatus ReadResponse(rte_mbuf* m, net::RcOpcode op, uint32_t psn, uint32_t msn,
                           std::span<const uint8_t> payload) const;
  BuildStatus ReadResponseOnly(rte_mbuf* m, uint32_t psn, uint32_t msn,
                               std::span<const uint8_t> payload) const;
  BuildStatus ReadResponseFirst(rte_mbuf* m, uint32_t psn, uint32_t msn,
                                std::span<const uint8_t> payload) const;
  BuildStatus ReadResponseMiddle(rte_mbuf* m, uint32_t psn, std::span<const uint8_t> payload) const;
  BuildStatus ReadResponseLast(rte_mbuf* m, uint32_t psn, uint32_t msn,
                               std::span<const uint8_t> payload) const;
  // `credits` is the AETH credit field; the default says "no credit count".
  BuildStatus Ack(rte_mbuf* m, uint32_t psn, uint32_t msn,
                  uint8_t credits = net::kAethCreditInvalid) const;
  BuildStatus Nak(rte_mbuf* m, uint32_t psn, uint32_t msn, net::NakCode code) const;
  BuildStatus AtomicAck(rte_mbuf* m, uint32_t psn, uint32_t msn, uint64_t original) const;

 private:
  RoceBuilder() = default;

  static constexpr uint32_t kTemplateBytes = 14 + 20 + 8 + 12;  // Ethernet, IPv4, UDP, BTH

  Endpoint endpoint_;
  uint32_t dest_qpn_ = 0;
  // Ethernet, IPv4 (without total length and checksum), UDP (without
  // length), BTH (P_Key and QPN), in wire form.
  alignas(8) uint8_t template_[kTemplateBytes] = {};
  // The one's complement sum of the template's IPv4 header as 16-bit words
  // (total length and checksum 0): each packet's checksum adds its length.
  uint32_t ip_sum_ = 0;
};

// Path MTUs RoCE allows (IBA 9.7.5.1.4): the largest payload per packet.
enum class PathMtu : uint16_t { k256 = 256, k512 = 512, k1024 = 1024, k2048 = 2048, k4096 = 4096 };
// Control path: 256, 512, 1024, 2048 or 4096, else an error naming them.
absl::StatusOr<PathMtu> PathMtuFromBytes(uint32_t bytes);

// The multi-packet messages MessageSegments splits.
enum class MessageKind : uint8_t { kWrite, kWriteWithImm, kReadResponse };

// One packet of a message: its opcode, and which bytes of the message it
// carries. Its PSN is the message's first PSN + index (mod 2^24).
struct Segment {
  net::RcOpcode opcode;
  uint32_t index;
  uint32_t offset;
  uint32_t length;
};

// Splits a message of `length` bytes into packets of at most the path MTU:
// First, Middle..., Last, or Only when one packet holds it (a zero-length
// message is one Only packet with no payload). Every packet but the last
// carries exactly the MTU (IBA 9.7.5.1.4). No allocation: segments are
// computed on demand, so the data plane can build them one by one.
class MessageSegments {
 public:
  MessageSegments(MessageKind kind, uint32_t length, PathMtu mtu)
      : kind_(kind),
        length_(length),
        mtu_(static_cast<uint32_t>(mtu)),
        count_(length == 0 ? 1 : (length + mtu_ - 1) / mtu_) {}

  uint32_t count() const { return count_; }
  uint32_t length() const { return length_; }
  Segment operator[](uint32_t i) const;  // i < count()

  // The PSN of packet i of a message that starts at `first_psn`.
  static uint32_t PsnOf(uint32_t first_psn, uint32_t i) { return (first_psn + i) & net::kPsnMask; }

 private:
  MessageKind kind_;
  uint32_t length_;
  uint32_t mtu_;
  uint32_t count_;
};

}  // namespace softfino::rdma
