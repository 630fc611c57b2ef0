#include "softfino/rdma/rc_requester.h"

#include <algorithm>

namespace softfino::rdma {

namespace {

uint32_t WindowSize(uint32_t requested) {
  // A power of two, so an entry is found by masking.
  uint32_t w = 1;
  while (w < std::clamp<uint32_t>(requested, 1, 1024)) w <<= 1;
  return w;
}

}  // namespace

RcRequester::RcRequester(const RcRequesterConfig& config)
    : config_(config),
      entries_(new Entry[WindowSize(config.window)]),
      mask_(WindowSize(config.window) - 1),
      next_psn_(config.start_psn & net::kPsnMask),
      acked_psn_((config.start_psn - 1) & net::kPsnMask) {
  config_.window = mask_ + 1;
}

uint32_t RcRequester::PsnsOf(const PacketFields& f) const {
  if (f.opcode != net::RcOpcode::kReadRequest) return 1;
  return f.dma_length == 0 ? 1 : (f.dma_length + config_.mtu - 1) / config_.mtu;
}

bool RcRequester::Post(PacketFields& f, uint64_t cookie, uint64_t now_ns) {
  if (error_) {
    Count(RequesterEvent::kRefusedInError);
    return false;
  }
  const uint32_t psns = PsnsOf(f);
  if (!config_.retransmit) {
    if (probe_ == Probe::kRecovering) {
      // Until the recovery probe is answered nothing else goes out: then
      // everything sent before it has reached the responder when it
      // answers, and its answer names the exact next PSN.
      Count(RequesterEvent::kHeldForRecovery);
      return false;
    }
    // Requests become outstanding now: the probe clock starts.
    if (next_psn_ == ((acked_psn_ + 1) & net::kPsnMask)) heard_ns_ = now_ns;
    f.psn = next_psn_;
    next_psn_ = (next_psn_ + psns) & net::kPsnMask;
    Count(RequesterEvent::kPosted);
    return true;
  }
  if (count_ == config_.window) {
    Count(RequesterEvent::kWindowFull);
    return false;
  }
  if (NeedsAnswer(f.opcode) && rd_atomic_ == config_.max_rd_atomic) {
    Count(RequesterEvent::kRdAtomicFull);
    return false;
  }
  if (f.payload.size() > kMaxKeptPayload) {
    Count(RequesterEvent::kPayloadTooLarge);
    return false;
  }
  Entry& e = At(count_);
  e.fields = f;
  e.fields.psn = next_psn_;
  std::copy(f.payload.begin(), f.payload.end(), e.payload.begin());
  e.fields.payload = std::span<const uint8_t>(e.payload.data(), f.payload.size());
  e.cookie = cookie;
  e.psns = psns;
  e.read_received = 0;
  if (NeedsAnswer(f.opcode)) ++rd_atomic_;
  f.psn = next_psn_;
  next_psn_ = (next_psn_ + psns) & net::kPsnMask;
  // While the window is being resent this one, sent now, arrives out of
  // order and is refused: it goes again after them.
  const bool go_back = resend_ < resend_end_ && resend_end_ == count_ && !probing_;
  if (count_ == 0) oldest_sent_ns_ = now_ns;
  ++count_;
  if (go_back) {
    resend_end_ = count_;
  } else if (resend_ >= resend_end_) {
    resend_ = resend_end_ = count_;
  }
  Count(RequesterEvent::kPosted);
  return true;
}

int RcRequester::Find(uint32_t psn) {
  for (uint32_t i = 0; i < count_; ++i) {
    const Entry& e = At(i);
    if (((psn - e.fields.psn) & net::kPsnMask) < e.psns) return static_cast<int>(i);
  }
  return -1;
}

int RcRequester::FirstAwaitingAnswer(int upto) {
  for (int i = 0; i < upto; ++i) {
    if (NeedsAnswer(At(static_cast<uint32_t>(i)).fields.opcode)) return i;
  }
  return -1;
}

void RcRequester::ResendFrom(int index, uint64_t now_ns) {
  resend_ = static_cast<uint32_t>(index);
  resend_end_ = count_;
  probing_ = false;
  oldest_sent_ns_ = now_ns;
}

void RcRequester::Reset(uint32_t start_psn) {
  head_ = count_ = resend_ = resend_end_ = rd_atomic_ = 0;
  probing_ = false;
  retries_ = 0;
  error_ = false;
  next_psn_ = start_psn & net::kPsnMask;
  acked_psn_ = (start_psn - 1) & net::kPsnMask;
  probe_ = Probe::kNone;
  probe_psn_count_ = 0;
}

void RcRequester::ResyncTo(uint32_t psn) {
  if (next_psn_ == psn) return;
  if (net::PsnIsAhead(psn, next_psn_)) {
    // PSNs [psn, next) were sent and never executed: requests, but for the
    // first-step probes among them (zero-length WRITEs, not requests).
    uint64_t skipped = net::PsnDistance(psn, next_psn_);
    for (uint32_t i = 0; i < probe_psn_count_; ++i) {
      if (net::PsnDistance(psn, probe_psns_[i]) < net::PsnDistance(psn, next_psn_)) --skipped;
    }
    counts_[static_cast<size_t>(RequesterEvent::kLost)] += skipped;
  }
  // Every probe PSN is now either executed or skipped.
  probe_psn_count_ = 0;
  next_psn_ = psn;
  Count(RequesterEvent::kResyncs);
}

void RcRequester::ForgetProbePsnsUpTo(uint32_t psn) {
  uint32_t keep = 0;
  for (uint32_t i = 0; i < probe_psn_count_; ++i) {
    if (net::PsnIsAhead(psn, probe_psns_[i])) probe_psns_[keep++] = probe_psns_[i];
  }
  probe_psn_count_ = keep;
}

void RcRequester::OnResyncAnswer(net::RcOpcode op, uint32_t psn, const net::Aeth* aeth,
                                 uint64_t now_ns) {
  if (op == net::RcOpcode::kAcknowledge && aeth != nullptr &&
      net::AethKindOf(aeth->syndrome) == net::AethKind::kNak) {
    const bool sequence =
        (aeth->syndrome & 0x1f) == static_cast<uint8_t>(net::NakCode::kPsnSequenceError);
    Count(sequence ? RequesterEvent::kSequenceNaks : RequesterEvent::kFatalNaks);
    // Both leave the responder expecting `psn` (softfino's soft RNIC keeps
    // a refused PSN expected): send the next request there.
    ResyncTo(psn);
    acked_psn_ = (psn - 1) & net::kPsnMask;
    heard_ns_ = now_ns;
    probe_ = Probe::kNone;
    return;
  }
  // An ACK (or an atomic's or READ's answer): the responder executed
  // everything up to `psn` and expects at least psn + 1.
  const uint32_t expected = (psn + 1) & net::kPsnMask;
  if (probe_ == Probe::kRecovering && !net::PsnIsAhead(psn, recovery_psn_)) {
    // The answer to the recovery probe, or to a duplicate at or after it:
    // exactly what the responder expects next.
    ResyncTo(expected);
    probe_ = Probe::kNone;
  } else if (net::PsnIsAhead(next_psn_, expected)) {
    ResyncTo(expected);  // never send what it would take as duplicates
  }
  if (net::PsnIsAhead(acked_psn_, psn)) {
    acked_psn_ = psn;
    ForgetProbePsnsUpTo(psn);
    heard_ns_ = now_ns;
    if (probe_ == Probe::kAskedAck) probe_ = Probe::kNone;
  }
}

const PacketFields* RcRequester::NextProbe(uint64_t now_ns) {
  if (config_.retransmit || next_psn_ == ((acked_psn_ + 1) & net::kPsnMask) ||
      now_ns - heard_ns_ < config_.timeout_ns) {
    return nullptr;
  }
  probe_fields_ = PacketFields{};
  probe_fields_.opcode = net::RcOpcode::kWriteOnly;
  probe_fields_.ack_req = true;
  probe_fields_.dma_length = 0;
  heard_ns_ = now_ns;  // another timeout before the next step
  if (probe_ == Probe::kNone) {
    probe_fields_.psn = next_psn_;
    if (probe_psn_count_ == kProbePsns) ForgetProbePsnsUpTo(probe_psns_[0]);
    probe_psns_[probe_psn_count_++] = next_psn_;
    next_psn_ = (next_psn_ + 1) & net::kPsnMask;
    probe_ = Probe::kAskedAck;
    Count(RequesterEvent::kProbes);
  } else {
    // The last PSN known executed: always a duplicate, which the responder
    // re-ACKs with the newest PSN it executed, so its answer names exactly
    // the PSN it expects. (At the last ACKed + 1 the probe could be
    // executed in place of a lost request, and an ACK of that PSN would not
    // tell which happened: the request's loss went uncounted.)
    recovery_psn_ = acked_psn_;
    probe_fields_.psn = recovery_psn_;
    probe_ = Probe::kRecovering;
    Count(RequesterEvent::kRecoveries);
  }
  return &probe_fields_;
}

}  // namespace softfino::rdma
