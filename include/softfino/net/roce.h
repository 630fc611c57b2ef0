// RoCEv2 wire formats (InfiniBand Architecture Specification vol. 1, rel.
// 1.4, ch. 9 transport headers; Annex A17 RoCEv2): the IB transport headers
// carried in UDP to port 4791 over IPv4/IPv6. Every multi-byte field is big
// endian on the wire; the structs hold raw wire bytes and the accessors
// convert, so a struct can be laid over a packet without copying.
//
// A RoCEv2 packet: Ethernet | IPv4 | UDP(dst 4791) | BTH | [extension
// headers by opcode] | payload | pad (BTH.pad_count bytes, to 4-byte
// alignment) | ICRC (4 bytes).
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

namespace softfino::net {

inline constexpr uint16_t kRoceV2UdpPort = 4791;
inline constexpr uint16_t kDefaultPkey = 0xffff;
inline constexpr uint32_t kIcrcBytes = 4;
inline constexpr uint32_t kPsnMask = 0xffffff;  // PSNs are 24 bits and wrap

// PSN arithmetic modulo 2^24: how far `psn` is ahead of `base` (0 .. 2^24-1);
// values of 2^23 and more mean `psn` is behind.
constexpr uint32_t PsnDistance(uint32_t base, uint32_t psn) { return (psn - base) & kPsnMask; }
constexpr bool PsnIsAhead(uint32_t base, uint32_t psn) {
  const uint32_t d = PsnDistance(base, psn);
  return d != 0 && d < (1u << 23);
}
inline constexpr uint32_t kQpnMask = 0xffffff;

// Base Transport Header opcodes of the Reliable Connected service (opcode
// bits 7..5 = 000). Only RC is modelled: it is what DTA and TEA use.
enum class RcOpcode : uint8_t {
  kSendFirst = 0x00,
  kSendMiddle = 0x01,
  kSendLast = 0x02,
  kSendLastImm = 0x03,
  kSendOnly = 0x04,
  kSendOnlyImm = 0x05,
  kWriteFirst = 0x06,
  kWriteMiddle = 0x07,
  kWriteLast = 0x08,
  kWriteLastImm = 0x09,
  kWriteOnly = 0x0a,
  kWriteOnlyImm = 0x0b,
  kReadRequest = 0x0c,
  kReadResponseFirst = 0x0d,
  kReadResponseMiddle = 0x0e,
  kReadResponseLast = 0x0f,
  kReadResponseOnly = 0x10,
  kAcknowledge = 0x11,
  kAtomicAcknowledge = 0x12,
  kCompareSwap = 0x13,
  kFetchAdd = 0x14,
};

// Base Transport Header, 12 bytes.
struct [[gnu::packed]] Bth {
  uint8_t opcode;
  uint8_t flags;  // se:1 migreq:1 pad_count:2 tver:4
  rte_be16_t pkey;
  uint8_t fecn_becn;      // fecn:1 becn:1 reserved:6 (variant, masked in ICRC)
  uint8_t dest_qp[3];     // 24 bits
  uint8_t ack_req;        // ackreq:1 reserved:7
  uint8_t psn[3];         // 24 bits

  RcOpcode op() const { return static_cast<RcOpcode>(opcode); }
  bool solicited() const { return flags & 0x80; }
  uint8_t pad_count() const { return (flags >> 4) & 0x3; }
  uint8_t tver() const { return flags & 0xf; }
  uint32_t qpn() const { return Get24(dest_qp); }
  uint32_t psn_value() const { return Get24(psn); }
  bool ack_requested() const { return ack_req & 0x80; }

  void set_flags(bool se, uint8_t pad, bool migreq = true) {
    flags = static_cast<uint8_t>((se ? 0x80 : 0) | (migreq ? 0x40 : 0) | ((pad & 0x3) << 4));
  }
  void set_qpn(uint32_t v) { Set24(dest_qp, v); }
  void set_psn(uint32_t v) { Set24(psn, v); }
  void set_ack_req(bool v) { ack_req = v ? 0x80 : 0; }

  static uint32_t Get24(const uint8_t* p) {
    return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  }
  static void Set24(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 16);
    p[1] = static_cast<uint8_t>(v >> 8);
    p[2] = static_cast<uint8_t>(v);
  }
};
static_assert(sizeof(Bth) == 12);

// RDMA Extended Transport Header, 16 bytes: WRITE First/Only, READ Request.
struct [[gnu::packed]] Reth {
  rte_be64_t vaddr;
  rte_be32_t rkey;
  rte_be32_t dma_length;
};
static_assert(sizeof(Reth) == 16);

// Atomic Extended Transport Header, 28 bytes: CMP_SWAP, FETCH_ADD.
struct [[gnu::packed]] AtomicEth {
  rte_be64_t vaddr;
  rte_be32_t rkey;
  rte_be64_t swap_add;  // the swap value, or the addend
  rte_be64_t compare;
};
static_assert(sizeof(AtomicEth) == 28);

// ACK Extended Transport Header, 4 bytes: ACKs, NAKs, READ Response
// First/Last/Only, Atomic Acknowledge.
struct [[gnu::packed]] Aeth {
  uint8_t syndrome;
  uint8_t msn[3];  // 24 bits

  uint32_t msn_value() const { return Bth::Get24(msn); }
  void set_msn(uint32_t v) { Bth::Set24(msn, v); }
};
static_assert(sizeof(Aeth) == 4);

// AETH syndrome: bits 6..5 say what it is, bits 4..0 carry a value.
enum class AethKind : uint8_t { kAck = 0, kRnrNak = 1, kReserved = 2, kNak = 3 };
// The value of a kNak syndrome.
enum class NakCode : uint8_t {
  kPsnSequenceError = 0,
  kInvalidRequest = 1,
  kRemoteAccessError = 2,
  kRemoteOperationalError = 3,
  kInvalidRdRequest = 4,
};
inline constexpr uint8_t kAethCreditInvalid = 0x1f;  // "no credit count" in an ACK
inline constexpr AethKind AethKindOf(uint8_t syndrome) {
  return static_cast<AethKind>((syndrome >> 5) & 0x3);
}
inline constexpr uint8_t AckSyndrome(uint8_t credits = kAethCreditInvalid) {
  return credits & 0x1f;
}
inline constexpr uint8_t NakSyndrome(NakCode code) {
  return static_cast<uint8_t>(0x60 | static_cast<uint8_t>(code));
}

// Atomic Acknowledge Extended Transport Header, 8 bytes: the value the
// remote memory held before the atomic.
struct [[gnu::packed]] AtomicAckEth {
  rte_be64_t original;
};
static_assert(sizeof(AtomicAckEth) == 8);

// Immediate data, 4 bytes (…_IMM opcodes).
struct [[gnu::packed]] ImmDt {
  rte_be32_t value;
};
static_assert(sizeof(ImmDt) == 4);

// Which extension headers an RC opcode carries, in wire order
// (BTH | RETH | AtomicETH | AETH | AtomicAckETH | ImmDt | payload), and
// whether it carries a payload.
struct OpcodeLayout {
  bool valid = false;
  bool reth = false;
  bool atomic_eth = false;
  bool aeth = false;
  bool atomic_ack_eth = false;
  bool immdt = false;
  bool payload = false;

  uint32_t header_bytes() const {
    return static_cast<uint32_t>(sizeof(Bth) + (reth ? sizeof(Reth) : 0) +
                                 (atomic_eth ? sizeof(AtomicEth) : 0) +
                                 (aeth ? sizeof(Aeth) : 0) +
                                 (atomic_ack_eth ? sizeof(AtomicAckEth) : 0) +
                                 (immdt ? sizeof(ImmDt) : 0));
  }
};

constexpr OpcodeLayout LayoutOf(RcOpcode op) {
  OpcodeLayout l;
  l.valid = true;
  switch (op) {
    case RcOpcode::kSendFirst:
    case RcOpcode::kSendMiddle:
    case RcOpcode::kSendLast:
    case RcOpcode::kSendOnly:
      l.payload = true;
      break;
    case RcOpcode::kSendLastImm:
    case RcOpcode::kSendOnlyImm:
      l.immdt = l.payload = true;
      break;
    case RcOpcode::kWriteFirst:
    case RcOpcode::kWriteOnly:
      l.reth = l.payload = true;
      break;
    case RcOpcode::kWriteOnlyImm:
      l.reth = l.immdt = l.payload = true;
      break;
    case RcOpcode::kWriteMiddle:
    case RcOpcode::kWriteLast:
      l.payload = true;
      break;
    case RcOpcode::kWriteLastImm:
      l.immdt = l.payload = true;
      break;
    case RcOpcode::kReadRequest:
      l.reth = true;
      break;
    case RcOpcode::kReadResponseFirst:
    case RcOpcode::kReadResponseLast:
    case RcOpcode::kReadResponseOnly:
      l.aeth = l.payload = true;
      break;
    case RcOpcode::kReadResponseMiddle:
      l.payload = true;
      break;
    case RcOpcode::kAcknowledge:
      l.aeth = true;
      break;
    case RcOpcode::kAtomicAcknowledge:
      l.aeth = l.atomic_ack_eth = true;
      break;
    case RcOpcode::kCompareSwap:
    case RcOpcode::kFetchAdd:
      l.atomic_eth = true;
      break;
    default:
      l.valid = false;
  }
  return l;
}

}  // namespace softfino::net
