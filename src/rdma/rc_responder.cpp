#include "softfino/rdma/rc_responder.h"

#include <cstring>

namespace softfino::rdma {

using net::NakCode;
using net::RcOpcode;
using Kind = RcResponse::Kind;

RcResponderQp::RcResponderQp(const MemoryRegionTable& memory, const RcResponderConfig& config)
    : memory_(memory), config_(config), epsn_(config.expected_psn & net::kPsnMask) {}

uint32_t RcResponderQp::PacketsFor(uint32_t bytes) const {
  // A zero-length READ still takes one response packet, and one PSN.
  return bytes == 0 ? 1 : (bytes + config_.mtu - 1) / config_.mtu;
}

RcResponse RcResponderQp::Handle(const RcRequest& r) {
  switch (r.opcode) {
    case RcOpcode::kReadResponseFirst:
    case RcOpcode::kReadResponseMiddle:
    case RcOpcode::kReadResponseLast:
    case RcOpcode::kReadResponseOnly:
    case RcOpcode::kAcknowledge:
    case RcOpcode::kAtomicAcknowledge:
      // The requester's half of the conversation: not for a responder.
      Count(ResponderEvent::kNotARequest);
      return {};
    default:
      break;
  }
  const uint32_t psn = r.psn & net::kPsnMask;
  if (psn == epsn_) {
    nak_outstanding_ = false;
    return InOrder(r);
  }
  if (PsnIsAhead(epsn_, psn)) {
    // Packets were lost before this one. Nothing of it may be applied (it
    // could be the middle of a WRITE whose start is missing).
    if (nak_outstanding_) {
      Count(ResponderEvent::kGapDrops);
      return {};
    }
    nak_outstanding_ = true;
    Count(ResponderEvent::kSequenceGaps);
    // The NAK carries the PSN the responder expects: the requester resends
    // from there.
    return {Kind::kNak, epsn_, net::NakSyndrome(NakCode::kPsnSequenceError), msn_};
  }
  return Duplicate(r);
}

RcResponse RcResponderQp::InOrder(const RcRequest& r) {
  switch (r.opcode) {
    case RcOpcode::kWriteFirst:
    case RcOpcode::kWriteMiddle:
    case RcOpcode::kWriteLast:
    case RcOpcode::kWriteOnly:
      return Write(r);
    case RcOpcode::kReadRequest: {
      if (in_write_) return Nak(NakCode::kInvalidRequest, ResponderEvent::kBadOpcodeSequence);
      RcResponse resp = Read(r, epsn_);
      if (resp.kind != Kind::kReadResponse) return resp;
      const uint32_t packets = PacketsFor(r.dma_length);
      reads_[next_read_++ % kHistory] = {true, epsn_, packets};
      epsn_ = (epsn_ + packets) & net::kPsnMask;
      msn_ = (msn_ + 1) & net::kPsnMask;
      resp.msn = msn_;  // the AETH of a response counts the READ it answers
      unacked_ = 0;     // the response acknowledges everything before it
      Count(ResponderEvent::kReads);
      return resp;
    }
    case RcOpcode::kFetchAdd:
    case RcOpcode::kCompareSwap:
      if (in_write_) return Nak(NakCode::kInvalidRequest, ResponderEvent::kBadOpcodeSequence);
      return Atomic(r);
    default:
      // SEND needs a receive queue with posted buffers; the soft RNIC hosts
      // memory for one-sided operations only. Immediate-data WRITEs consume
      // a receive WQE too.
      return Nak(NakCode::kInvalidRequest, ResponderEvent::kUnsupportedOpcode);
  }
}

RcResponse RcResponderQp::Write(const RcRequest& r) {
  const bool first = r.opcode == RcOpcode::kWriteFirst || r.opcode == RcOpcode::kWriteOnly;
  const bool last = r.opcode == RcOpcode::kWriteLast || r.opcode == RcOpcode::kWriteOnly;
  if (first == in_write_) {
    // A new message while one is open, or a continuation with none open.
    return Nak(NakCode::kInvalidRequest, ResponderEvent::kBadOpcodeSequence);
  }
  uint8_t* dst;
  uint32_t remaining;
  if (first) {
    // The whole message is checked against the region up front, so a
    // refused WRITE writes nothing at all.
    remaining = r.dma_length;
    if (remaining == 0) {
      dst = nullptr;  // IBA C9-88: a zero-length WRITE checks no rkey
    } else {
      const Resolved where = memory_.Resolve(r.rkey, r.vaddr, remaining, kAccessRemoteWrite);
      if (!where.ok()) return AccessNak(where.error);
      dst = where.data;
    }
  } else {
    dst = write_cursor_;
    remaining = write_remaining_;
  }
  // Every packet but the last carries exactly one MTU; the last carries the
  // rest (1 .. MTU bytes; an Only carries the whole DMA length).
  const bool length_ok = last ? r.payload_len == remaining && r.payload_len <= config_.mtu
                              : r.payload_len == config_.mtu && r.payload_len < remaining;
  if (!length_ok) {
    in_write_ = false;  // the message is abandoned; the requester retries it
    return Nak(NakCode::kInvalidRequest, ResponderEvent::kBadLength);
  }
  if (r.payload_len != 0) std::memcpy(dst, r.payload, r.payload_len);
  Count(ResponderEvent::kWritePackets);
  const uint32_t psn = epsn_;
  epsn_ = (epsn_ + 1) & net::kPsnMask;
  in_write_ = !last;
  write_cursor_ = dst + r.payload_len;
  write_remaining_ = remaining - r.payload_len;
  if (last) {
    msn_ = (msn_ + 1) & net::kPsnMask;
    Count(ResponderEvent::kWriteMessages);
  }
  ++unacked_;
  if (r.ack_req || (config_.ack_every != 0 && unacked_ >= config_.ack_every)) return Ack(psn);
  return {};
}

RcResponse RcResponderQp::Read(const RcRequest& r, uint32_t psn) {
  if (r.dma_length > config_.max_read_bytes) {
    return Nak(net::NakCode::kInvalidRequest, ResponderEvent::kBadLength);
  }
  const uint8_t* data = nullptr;
  if (r.dma_length != 0) {
    const Resolved where = memory_.Resolve(r.rkey, r.vaddr, r.dma_length, kAccessRemoteRead);
    if (!where.ok()) return AccessNak(where.error);
    data = where.data;
  }
  RcResponse resp{Kind::kReadResponse, psn, net::AckSyndrome(), msn_};
  resp.read_data = data;
  resp.read_len = r.dma_length;
  return resp;
}

RcResponse RcResponderQp::Atomic(const RcRequest& r) {
  const Resolved where = memory_.ResolveAtomic(r.rkey, r.vaddr);
  if (!where.ok()) return AccessNak(where.error);
  // The slot holds the value in host order, as a verbs NIC leaves it for
  // the host CPU. __atomic makes the operation atomic with respect to other
  // queue pairs on other lcores and to the host reading the memory.
  auto* slot = reinterpret_cast<uint64_t*>(where.data);
  uint64_t original;
  if (r.opcode == RcOpcode::kFetchAdd) {
    original = __atomic_fetch_add(slot, r.swap_add, __ATOMIC_SEQ_CST);
    Count(ResponderEvent::kFetchAdds);
  } else {
    original = r.compare;
    // On failure `original` receives the value found, which is what the
    // requester gets back either way.
    __atomic_compare_exchange_n(slot, &original, r.swap_add, false, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    Count(ResponderEvent::kCompareSwaps);
  }
  atomics_[next_atomic_++ % kHistory] = {true, epsn_, original};
  const uint32_t psn = epsn_;
  epsn_ = (epsn_ + 1) & net::kPsnMask;
  msn_ = (msn_ + 1) & net::kPsnMask;
  unacked_ = 0;
  RcResponse resp{Kind::kAtomicAck, psn, net::AckSyndrome(), msn_};
  resp.original = original;
  return resp;
}

RcResponse RcResponderQp::Duplicate(const RcRequest& r) {
  Count(ResponderEvent::kDuplicates);
  const uint32_t psn = r.psn & net::kPsnMask;
  switch (r.opcode) {
    case RcOpcode::kReadRequest: {
      // Re-executed with the RETH the retry carries (a requester may ask
      // for just the part it missed), answered at the retry's PSN.
      RcResponse resp = Read(r, psn);
      if (resp.kind == Kind::kReadResponse) Count(ResponderEvent::kDuplicateReads);
      return resp;
    }
    case RcOpcode::kFetchAdd:
    case RcOpcode::kCompareSwap:
      for (const AtomicRecord& a : atomics_) {
        if (a.valid && a.psn == psn) {
          Count(ResponderEvent::kDuplicateAtomics);
          RcResponse resp{Kind::kAtomicAck, psn, net::AckSyndrome(), msn_};
          resp.original = a.original;
          return resp;
        }
      }
      // Older than the history: executing it again could add twice.
      Count(ResponderEvent::kDuplicateAtomicsLost);
      return {};
    default:
      // WRITE (or anything else already done): never applied again; the
      // ACK tells the requester everything up to the newest PSN landed.
      return Ack((epsn_ - 1) & net::kPsnMask);
  }
}

RcResponse RcResponderQp::Ack(uint32_t psn) {
  unacked_ = 0;
  Count(ResponderEvent::kAcks);
  return {Kind::kAck, psn, net::AckSyndrome(), msn_};
}

RcResponse RcResponderQp::Nak(NakCode code, ResponderEvent why) {
  Count(why);
  // A NAK names the PSN of the request it refuses, which stays expected.
  return {Kind::kNak, epsn_, net::NakSyndrome(code), msn_};
}

RcResponse RcResponderQp::AccessNak(ResolveError error) {
  switch (error) {
    case ResolveError::kMisaligned:
      return Nak(NakCode::kInvalidRequest, ResponderEvent::kMisalignedAtomic);
    case ResolveError::kUnknownRkey:
      return Nak(NakCode::kRemoteAccessError, ResponderEvent::kUnknownRkey);
    case ResolveError::kAccessDenied:
      return Nak(NakCode::kRemoteAccessError, ResponderEvent::kAccessDenied);
    default:
      return Nak(NakCode::kRemoteAccessError, ResponderEvent::kOutOfBounds);
  }
}

}  // namespace softfino::rdma
