// The requester side of one Reliable Connected queue pair, as the switch's
// data plane runs it (DTA's translator, TEA's lookups): PSNs, a window of
// requests not yet acknowledged, and what each answer (ACK, NAK, READ
// response, atomic ACK) from the collector means. Packets are built and
// parsed by roce_builder.h and roce_parser.h; this is the state between.
//
// Two modes, chosen per queue pair:
// - retransmit (an RC requester as a NIC runs it, IBA §9.7.4): requests are
//   kept until acknowledged. A NAK "PSN sequence error" (packets were lost)
//   makes everything from the NAKed PSN on due again, as does a timeout of
//   the oldest request (the last packets or their answers were lost), so
//   every request is executed exactly once: the responder recognises a
//   resent PSN it already executed. After max_retries timeouts in a row, or
//   a fatal NAK (remote access, invalid request), the QP goes to the error
//   state as an RC QP does: everything pending completes with an error and
//   nothing more is sent until the slow path Reset()s it.
// - resync (DTA's decision for telemetry, which tolerates loss): nothing is
//   kept; on a NAK the next PSN becomes the one the responder expects, so
//   the stream goes on instead of being NAKed forever. What was lost is
//   counted, not resent. A responder NAKs a gap once and then drops
//   everything until it sees the PSN it expects, so a lost NAK (or a lost
//   first request after a resync) would stall the queue pair for good;
//   NextProbe finds out and recovers, without losing a request of a
//   healthy stream:
//     1. requests are outstanding (not known executed) and nothing was
//        heard for timeout_ns: a zero-length WRITE asking for an ACK, at
//        the next PSN. A healthy responder ACKs it, and all is known done.
//     2. still nothing after another timeout_ns: the responder is stuck
//        waiting for a PSN after the last one acknowledged. A zero-length
//        WRITE at that last acknowledged PSN is a duplicate, which the
//        responder re-ACKs with the newest PSN it executed: the ACK says
//        what it expects next, and the next PSN goes there. The requests
//        skipped are counted lost; the step-1 probes' PSNs among them are
//        not requests and are not counted. Until that answer comes, Post refuses new
//        requests: had they gone out, a responder that was only slow (not
//        stuck) would execute them after answering the probe, and the next
//        PSN would be moved back under them.
//
// Resends are pulled, not pushed (NextResend): the data plane sends one
// whenever it has a packet to spare (a timer packet from the packet
// generator, or the answer it just consumed), as a Tofino program would.
// Fast path: no allocation, no locks; one owner (a pipe) per queue pair.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "softfino/net/roce.h"
#include "softfino/rdma/roce_builder.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::rdma {

struct RcRequesterConfig {
  uint32_t start_psn = 0;
  uint32_t mtu = 1024;
  bool retransmit = true;
  // Requests outstanding at most (a power of two, 1..1024); each READ counts
  // as one however many response packets it takes.
  uint32_t window = 64;
  // READs and atomics outstanding at most (the QP's max_rd_atomic): no more
  // than the responder remembers for duplicates (RcResponderQp::kHistory),
  // or a resent atomic whose record is gone could never be answered.
  uint32_t max_rd_atomic = 16;
  uint64_t timeout_ns = 2'000'000;  // the oldest request is due again after this
  uint32_t max_retries = 7;         // timeouts in a row before the QP errors
};

// X-macro: enumerator, counter name.
#define SOFTFINO_REQUESTER_EVENTS(X)                                                        \
  X(kPosted, "posted")                                                                     \
  X(kWindowFull, "window_full")          /* Post refused: too many outstanding */          \
  X(kRdAtomicFull, "rd_atomic_full")     /* Post refused: max_rd_atomic outstanding */     \
  X(kPayloadTooLarge, "payload_too_large") /* Post refused: cannot keep it to resend */    \
  X(kRefusedInError, "refused_in_error") /* Post refused: the QP is in the error state */  \
  X(kCompleted, "completed")             /* requests acknowledged or answered */           \
  X(kReadResponses, "read_responses")                                                      \
  X(kAtomicAcks, "atomic_acks")                                                            \
  X(kSequenceNaks, "psn_sequence_naks")                                                    \
  X(kFatalNaks, "fatal_naks")            /* remote access, invalid request, ... */         \
  X(kRnrNaks, "rnr_naks")                                                                  \
  X(kResyncs, "resyncs")                 /* resync mode: next PSN moved to the expected */ \
  X(kProbes, "probes")                   /* resync mode: zero-length WRITEs asking for an ACK */ \
  X(kRecoveries, "recoveries")           /* resync mode: probes at the last ACKed PSN */    \
  X(kHeldForRecovery, "held_for_recovery") /* resync mode: Post refused while recovering */ \
  X(kLost, "lost")                       /* resync mode: requests skipped by a resync */   \
  X(kResends, "resends")                                                                   \
  X(kTimeouts, "timeouts")                                                                 \
  X(kImplicitNaks, "implicit_naks")      /* an ACK past a READ/atomic whose answer was lost */ \
  X(kStaleAnswers, "stale_answers")      /* for a PSN no longer outstanding */             \
  X(kOutOfOrderReads, "out_of_order_read_responses")                                       \
  X(kErrors, "qp_errors")                /* times the QP went to the error state */

enum class RequesterEvent : uint8_t {
#define SOFTFINO_ENUM(name, text) name,
  SOFTFINO_REQUESTER_EVENTS(SOFTFINO_ENUM)
#undef SOFTFINO_ENUM
};
inline constexpr std::array kRequesterEventNames = {
#define SOFTFINO_NAME(name, text) text,
    SOFTFINO_REQUESTER_EVENTS(SOFTFINO_NAME)
#undef SOFTFINO_NAME
};
inline constexpr size_t kRequesterEventCount = kRequesterEventNames.size();

// What an answer did to one request.
struct Completion {
  enum class Kind : uint8_t {
    kDone,      // acknowledged (WRITE, SEND), or the last part of a READ, or an atomic
    kReadData,  // part of a READ's data (offset, data, len); kDone follows for the last
    kError,     // failed: a fatal NAK, or flushed when the QP went to the error state
  };
  Kind kind = Kind::kDone;
  net::RcOpcode opcode = net::RcOpcode::kWriteOnly;  // the request's
  uint32_t psn = 0;      // the request's (first) PSN
  uint64_t cookie = 0;   // what Post was given
  uint64_t original = 0;  // atomics: the value memory held before
  uint32_t offset = 0;    // kReadData: where in the READ's buffer
  std::span<const uint8_t> data;  // kReadData
  uint8_t syndrome = 0;   // kError: the NAK's AETH syndrome (0 when flushed)
};

class RcRequester {
 public:
  // Payload bytes kept per request for resending (WRITE Only/SEND Only; DTA
  // writes 8 bytes, Append batches up to 64).
  static constexpr uint32_t kMaxKeptPayload = 64;

  explicit RcRequester(const RcRequesterConfig& config);

  // Gives `f` its PSN and remembers it (retransmit mode). False, counted,
  // when the window is full, the payload is too large to keep, or the QP is
  // in the error state (resync mode: while a recovery probe is
  // unanswered): the caller drops the request. A READ's PSNs are
  // those of its response packets: MessageSegments count of them.
  bool Post(PacketFields& f, uint64_t cookie, uint64_t now_ns);

  // One answer from the responder, already parsed (ICRC checked) and known
  // to be for this QP. Calls on_complete(const Completion&) for every
  // request it completes or feeds, in PSN order. Inline template: no
  // indirect call per packet.
  template <typename OnComplete>
  void OnAnswer(const RocePacket& p, uint64_t now_ns, OnComplete&& on_complete);

  // A request to send (again) now, or null when none is due. Call it until
  // null or until out of packets; each result is built into one mbuf. When
  // the oldest request has timed out max_retries times in a row the QP goes
  // to the error state, and on_complete gets every pending request's error.
  template <typename OnComplete>
  const PacketFields* NextResend(uint64_t now_ns, OnComplete&& on_complete);

  // Resync mode: a probe to send now (see above), or null when none is
  // due. The caller fills in a valid vaddr and rkey (any address of the
  // region: a zero-length WRITE touches nothing) and builds it.
  const PacketFields* NextProbe(uint64_t now_ns);

  // Slow path: starts over at `start_psn` (after a reconnect), out of the
  // error state, with nothing pending.
  void Reset(uint32_t start_psn);

  uint32_t next_psn() const { return next_psn_; }
  uint32_t outstanding() const { return count_; }
  // Requests sent that no answer has acknowledged yet (resync mode keeps no
  // entries, but still knows how far the responder got): the PSNs after the
  // last acknowledged, but for the probes' own.
  uint32_t unacknowledged() const {
    return net::PsnDistance((acked_psn_ + 1) & net::kPsnMask, next_psn_) - probe_psn_count_;
  }
  bool in_error() const { return error_; }
  uint64_t count(RequesterEvent e) const { return counts_[static_cast<size_t>(e)]; }

 private:
  struct Entry {
    PacketFields fields;  // payload points into `payload`
    uint64_t cookie = 0;
    uint32_t psns = 1;  // PSNs it takes
    uint32_t read_received = 0;  // READ: response packets received in order
    std::array<uint8_t, kMaxKeptPayload> payload{};
  };

  Entry& At(uint32_t i) { return entries_[(head_ + i) & mask_]; }
  // READs and atomics are answered with data, not just acknowledged.
  static bool NeedsAnswer(net::RcOpcode op) {
    return op == net::RcOpcode::kReadRequest || op == net::RcOpcode::kFetchAdd ||
           op == net::RcOpcode::kCompareSwap;
  }
  void Count(RequesterEvent e) { ++counts_[static_cast<size_t>(e)]; }
  // Index of the entry whose PSN range holds `psn`, or -1.
  int Find(uint32_t psn);
  // Index of the first READ or atomic among entries [0, upto): its answer
  // should have come before anything after it. -1 when none.
  int FirstAwaitingAnswer(int upto);
  template <typename OnComplete>
  void CompleteUpTo(int index, OnComplete& on_complete);  // entries [0, index) done
  template <typename OnComplete>
  void EnterError(uint8_t syndrome, OnComplete& on_complete);
  void ResendFrom(int index, uint64_t now_ns);
  void OnResyncAnswer(net::RcOpcode op, uint32_t psn, const net::Aeth* aeth, uint64_t now_ns);
  // Resync mode: the next PSN becomes `psn`, counted as a resync (and
  // the requests it skips as lost, the probes' PSNs not) when it moves.
  void ResyncTo(uint32_t psn);
  // Resync mode: forgets the probe PSNs at or before `psn` (executed, or
  // behind the next PSN).
  void ForgetProbePsnsUpTo(uint32_t psn);
  uint32_t PsnsOf(const PacketFields& f) const;

  RcRequesterConfig config_;
  std::unique_ptr<Entry[]> entries_;
  uint32_t mask_;
  uint32_t head_ = 0;   // the oldest outstanding entry
  uint32_t count_ = 0;  // outstanding entries
  uint32_t rd_atomic_ = 0;  // of them, READs and atomics
  uint32_t next_psn_;
  // Retransmit mode: entries [resend_, resend_end_) are due again. A NAK
  // makes all of them due (go-back-N). A timeout makes only the oldest due,
  // as a probe (TCP does the same after an RTO): resending the whole window
  // on every timeout can lock step with a periodic loss and lose the oldest
  // every time; once the probe is acknowledged, the rest follow.
  uint32_t resend_ = 0;
  uint32_t resend_end_ = 0;
  bool probing_ = false;
  uint64_t oldest_sent_ns_ = 0;  // when the oldest entry was last sent
  uint32_t retries_ = 0;         // timeouts in a row
  bool error_ = false;
  // Resync mode: the newest PSN the responder is known to have executed,
  // when that was last learnt (or requests became outstanding), and the
  // probe state (see NextProbe).
  uint32_t acked_psn_ = 0;
  uint64_t heard_ns_ = 0;
  enum class Probe : uint8_t { kNone, kAskedAck, kRecovering } probe_ = Probe::kNone;
  uint32_t recovery_psn_ = 0;
  // PSNs the first-step probes took, oldest first, that no ACK has passed
  // yet: a resync that skips them must not count them as lost requests.
  // More than kProbePsns unpassed at once would take a responder that ACKs
  // without ever reaching the probes; the oldest is then forgotten (and
  // would be counted lost).
  static constexpr uint32_t kProbePsns = 8;
  std::array<uint32_t, kProbePsns> probe_psns_{};
  uint32_t probe_psn_count_ = 0;
  PacketFields probe_fields_;
  std::array<uint64_t, kRequesterEventCount> counts_{};
};

// ---- inline: the per-answer path ----

template <typename OnComplete>
void RcRequester::CompleteUpTo(int index, OnComplete& on_complete) {
  for (int i = 0; i < index; ++i) {
    Entry& e = At(0);
    Completion c;
    c.opcode = e.fields.opcode;
    c.psn = e.fields.psn;
    c.cookie = e.cookie;
    on_complete(c);
    Count(RequesterEvent::kCompleted);
    if (NeedsAnswer(e.fields.opcode)) --rd_atomic_;
    head_ = (head_ + 1) & mask_;
    --count_;
    if (resend_ > 0) --resend_;
    if (resend_end_ > 0) --resend_end_;
  }
  if (index > 0) {
    retries_ = 0;
    if (probing_) {  // the probe got through: the rest goes again
      probing_ = false;
      resend_ = 0;
      resend_end_ = count_;
    }
  }
}

template <typename OnComplete>
void RcRequester::EnterError(uint8_t syndrome, OnComplete& on_complete) {
  Count(RequesterEvent::kErrors);
  error_ = true;
  while (count_ > 0) {
    Entry& e = At(0);
    Completion c;
    c.kind = Completion::Kind::kError;
    c.opcode = e.fields.opcode;
    c.psn = e.fields.psn;
    c.cookie = e.cookie;
    c.syndrome = syndrome;
    syndrome = 0;  // only the first was refused; the rest are flushed
    on_complete(c);
    head_ = (head_ + 1) & mask_;
    --count_;
  }
  rd_atomic_ = 0;
  resend_ = resend_end_ = 0;
  probing_ = false;
}

template <typename OnComplete>
void RcRequester::OnAnswer(const RocePacket& p, uint64_t now_ns, OnComplete&& on_complete) {
  const net::RcOpcode op = p.opcode();
  const uint32_t psn = p.bth().psn_value();
  const net::Aeth* aeth = p.aeth();
  if (!config_.retransmit) {
    OnResyncAnswer(op, psn, aeth, now_ns);
    return;
  }
  if (error_) return;
  const int index = Find(psn);
  if (index < 0) {
    Count(RequesterEvent::kStaleAnswers);
    return;
  }
  // An answer for a later PSN while a READ or atomic before it is still
  // unanswered: the responder executed it but its answer was lost (an
  // implicit NAK): what came before is done, and the rest goes again.
  const bool completes_through = !(op >= net::RcOpcode::kReadResponseFirst &&
                                   op <= net::RcOpcode::kReadResponseMiddle);
  if (const int awaiting = FirstAwaitingAnswer(index); awaiting >= 0 && completes_through) {
    Count(RequesterEvent::kImplicitNaks);
    CompleteUpTo(awaiting, on_complete);
    ResendFrom(0, now_ns);
    return;
  }
  Entry& e = At(static_cast<uint32_t>(index));
  const net::RcOpcode req = e.fields.opcode;
  const bool answer_is_response = NeedsAnswer(req);
  switch (op) {
    case net::RcOpcode::kAcknowledge: {
      if (aeth == nullptr) return;
      switch (net::AethKindOf(aeth->syndrome)) {
        case net::AethKind::kAck:
          if (answer_is_response) {
            // The responder executed a READ or atomic whose answer never
            // arrived: what came before is done; ask for it again.
            Count(RequesterEvent::kImplicitNaks);
            CompleteUpTo(index, on_complete);
            ResendFrom(0, now_ns);
            return;
          }
          CompleteUpTo(index + 1, on_complete);
          oldest_sent_ns_ = now_ns;
          return;
        case net::AethKind::kNak:
          if ((aeth->syndrome & 0x1f) == static_cast<uint8_t>(net::NakCode::kPsnSequenceError)) {
            // Everything before the expected PSN arrived; go back to it.
            Count(RequesterEvent::kSequenceNaks);
            CompleteUpTo(index, on_complete);
            ResendFrom(0, now_ns);
            return;
          }
          Count(RequesterEvent::kFatalNaks);
          CompleteUpTo(index, on_complete);
          EnterError(aeth->syndrome, on_complete);
          return;
        default:  // RNR NAK: the responder is not ready (no receive posted); retry later
          Count(RequesterEvent::kRnrNaks);
          CompleteUpTo(index, on_complete);
          return;
      }
    }
    case net::RcOpcode::kAtomicAcknowledge: {
      if (!answer_is_response || req == net::RcOpcode::kReadRequest ||
          p.atomic_ack_eth() == nullptr) {
        Count(RequesterEvent::kStaleAnswers);
        return;
      }
      Count(RequesterEvent::kAtomicAcks);
      CompleteUpTo(index, on_complete);  // earlier requests are implied done
      Completion c;
      c.opcode = req;
      c.psn = e.fields.psn;
      c.cookie = e.cookie;
      c.original = rte_be_to_cpu_64(p.atomic_ack_eth()->original);
      on_complete(c);
      Count(RequesterEvent::kCompleted);
      --rd_atomic_;
      head_ = (head_ + 1) & mask_;
      --count_;
      if (resend_ > 0) --resend_;
      if (resend_end_ > 0) --resend_end_;
      retries_ = 0;
      if (probing_) {
        probing_ = false;
        resend_ = 0;
        resend_end_ = count_;
      }
      oldest_sent_ns_ = now_ns;
      return;
    }
    case net::RcOpcode::kReadResponseFirst:
    case net::RcOpcode::kReadResponseMiddle:
    case net::RcOpcode::kReadResponseLast:
    case net::RcOpcode::kReadResponseOnly: {
      if (req != net::RcOpcode::kReadRequest) {
        Count(RequesterEvent::kStaleAnswers);
        return;
      }
      const uint32_t part = (psn - e.fields.psn) & net::kPsnMask;
      if (part != e.read_received || FirstAwaitingAnswer(index) >= 0) {
        // A response packet is missing before this one, or an earlier READ
        // or atomic is unanswered: the timeout will ask again.
        Count(RequesterEvent::kOutOfOrderReads);
        return;
      }
      // Requests before it were executed first (responses come in order):
      // WRITEs whose ACKs were lost are done.
      CompleteUpTo(index, on_complete);
      Count(RequesterEvent::kReadResponses);
      ++e.read_received;
      Completion c;
      c.kind = Completion::Kind::kReadData;
      c.opcode = req;
      c.psn = e.fields.psn;
      c.cookie = e.cookie;
      c.offset = part * config_.mtu;
      c.data = p.payload();
      on_complete(c);
      oldest_sent_ns_ = now_ns;
      if (e.read_received == e.psns) CompleteUpTo(1, on_complete);
      return;
    }
    default:
      Count(RequesterEvent::kStaleAnswers);
      return;
  }
}

template <typename OnComplete>
const PacketFields* RcRequester::NextResend(uint64_t now_ns, OnComplete&& on_complete) {
  if (!config_.retransmit || error_ || count_ == 0) return nullptr;
  if (resend_ >= resend_end_) {
    if (now_ns - oldest_sent_ns_ < config_.timeout_ns) return nullptr;
    Count(RequesterEvent::kTimeouts);
    if (++retries_ > config_.max_retries) {
      EnterError(0, on_complete);
      return nullptr;
    }
    resend_ = 0;
    resend_end_ = 1;
    probing_ = true;
  }
  Entry& e = At(resend_++);
  e.read_received = 0;  // a READ asked again is answered from its start
  if (resend_ == 1) oldest_sent_ns_ = now_ns;
  Count(RequesterEvent::kResends);
  return &e.fields;
}

}  // namespace softfino::rdma
