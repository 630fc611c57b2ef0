// The responder side of one Reliable Connected queue pair, as a RoCEv2 NIC
// runs it (IBA vol. 1 §9.7.5): PSN order, opcode sequence, rkey/bounds/access
// checks, and the RDMA operations themselves on hosted memory. It sees
// requests already parsed (RcRequest) and says what to answer (RcResponse),
// so the same logic serves the soft RNIC on a DPDK port and any test; the
// packets around it are built by rdma/roce_builder.h.
//
// Faithful where a requester can tell:
// - in-order request (PSN == expected): executed, then answered;
// - PSN ahead of the expected one (a gap: packets were lost): nothing is
//   applied, one NAK "PSN sequence error" carrying the expected PSN is sent
//   for the gap and later packets of the same gap are dropped silently until
//   the expected one arrives (C9-... "only one NAK per gap");
// - PSN behind (a duplicate: the requester retried): WRITEs are not applied
//   again, only re-ACKed; a READ is executed again (reads are idempotent);
//   an atomic is never executed again: its saved result is returned;
// - an error (unknown rkey, out of bounds, no access, misaligned atomic, a
//   bad length or opcode sequence) is NAKed with the IBA code and changes
//   no memory. A real NIC then moves the QP to the error state; the soft RNIC
//   keeps it usable with the failed PSN still expected, so a requester can
//   resync without a new connection. That difference is deliberate.
// Every outcome is counted, refused ones by reason.
#pragma once

#include <array>
#include <cstdint>

#include "softfino/net/roce.h"
#include "softfino/rdma/memory_region.h"

namespace softfino::rdma {

// One request packet's transport fields, from the parser.
struct RcRequest {
  net::RcOpcode opcode = net::RcOpcode::kWriteOnly;
  uint32_t psn = 0;
  bool ack_req = false;
  // RETH (WRITE First/Only, READ Request) or AtomicETH (vaddr, rkey).
  uint64_t vaddr = 0;
  uint32_t rkey = 0;
  uint32_t dma_length = 0;
  // AtomicETH: the addend (FETCH_ADD) or the swap value (CMP_SWAP), and the
  // compare value, in host order.
  uint64_t swap_add = 0;
  uint64_t compare = 0;
  const uint8_t* payload = nullptr;  // without pad and ICRC
  uint32_t payload_len = 0;
};

// What to send back. kReadResponse: `read_len` bytes from `read_data` as
// READ Response Only, or First/Middle.../Last split by the path MTU, the
// first with PSN `psn` and each next one PSN + 1.
struct RcResponse {
  enum class Kind : uint8_t { kNone, kAck, kNak, kAtomicAck, kReadResponse };
  Kind kind = Kind::kNone;
  uint32_t psn = 0;
  uint8_t syndrome = 0;  // AETH
  uint32_t msn = 0;      // AETH
  uint64_t original = 0;  // AtomicAckETH, host order
  const uint8_t* read_data = nullptr;
  uint32_t read_len = 0;
};

// X-macro: enumerator, counter name.
#define SOFTFINO_RESPONDER_EVENTS(X)                                                       \
  X(kWritePackets, "write_packets")       /* WRITE packets applied */                      \
  X(kWriteMessages, "write_messages")     /* WRITE messages completed */                   \
  X(kReads, "reads")                      /* READ requests executed */                     \
  X(kFetchAdds, "fetch_adds")                                                              \
  X(kCompareSwaps, "compare_swaps")                                                        \
  X(kAcks, "acks")                        /* ACKs sent (not NAKs) */                       \
  X(kDuplicates, "duplicates")            /* requests with an old PSN */                   \
  X(kDuplicateReads, "duplicate_reads")   /* of those, READs executed again */             \
  X(kDuplicateAtomics, "duplicate_atomics") /* answered from the saved result */           \
  X(kDuplicateAtomicsLost, "duplicate_atomics_lost") /* too old: dropped */                \
  X(kSequenceGaps, "psn_sequence_errors") /* gaps NAKed */                                 \
  X(kGapDrops, "psn_gap_drops")           /* later packets of a NAKed gap */               \
  X(kUnknownRkey, "unknown_rkey")                                                          \
  X(kOutOfBounds, "out_of_bounds")                                                         \
  X(kAccessDenied, "access_denied")                                                        \
  X(kMisalignedAtomic, "misaligned_atomic")                                                \
  X(kBadLength, "bad_length")             /* payload vs MTU / DMA length */                \
  X(kBadOpcodeSequence, "bad_opcode_sequence") /* e.g. WRITE Middle with none begun */     \
  X(kUnsupportedOpcode, "unsupported_opcode")  /* SEND: no receive queue */                \
  X(kNotARequest, "not_a_request")        /* responses/ACKs sent to a responder */

enum class ResponderEvent : uint8_t {
#define SOFTFINO_ENUM(name, text) name,
  SOFTFINO_RESPONDER_EVENTS(SOFTFINO_ENUM)
#undef SOFTFINO_ENUM
};
inline constexpr std::array kResponderEventNames = {
#define SOFTFINO_NAME(name, text) text,
    SOFTFINO_RESPONDER_EVENTS(SOFTFINO_NAME)
#undef SOFTFINO_NAME
};
inline constexpr size_t kResponderEventCount = kResponderEventNames.size();

struct RcResponderConfig {
  uint32_t qpn = 0;
  uint32_t expected_psn = 0;  // the requester's starting PSN
  uint32_t mtu = 1024;        // path MTU: 256, 512, 1024, 2048 or 4096
  // ACK coalescing: an ACK goes out for every request with AckReq set, and
  // otherwise after this many unacknowledged packets (0: only on AckReq).
  uint32_t ack_every = 16;
  // The largest READ answered; larger ones are NAKed (invalid request,
  // counted as bad_length). It bounds how many response packets one request
  // makes, so the soft RNIC can size its transmit batch.
  uint32_t max_read_bytes = 64 * 1024;
};

class RcResponderQp {
 public:
  // How many READs and atomics are remembered for duplicates (the QP's
  // max_dest_rd_atomic).
  static constexpr uint32_t kHistory = 16;

  RcResponderQp(const MemoryRegionTable& memory, const RcResponderConfig& config);

  // One request packet (its ICRC already checked). Fast path: no allocation.
  RcResponse Handle(const RcRequest& request);

  uint32_t qpn() const { return config_.qpn; }
  uint32_t mtu() const { return config_.mtu; }
  uint32_t expected_psn() const { return epsn_; }
  uint32_t msn() const { return msn_; }
  uint64_t count(ResponderEvent e) const { return counts_[static_cast<size_t>(e)]; }

 private:
  struct ReadRecord {
    bool valid = false;
    uint32_t psn = 0, packets = 0;
  };
  struct AtomicRecord {
    bool valid = false;
    uint32_t psn = 0;
    uint64_t original = 0;
  };

  RcResponse InOrder(const RcRequest& r);
  RcResponse Duplicate(const RcRequest& r);
  RcResponse Write(const RcRequest& r);
  RcResponse Read(const RcRequest& r, uint32_t psn);
  RcResponse Atomic(const RcRequest& r);
  RcResponse Ack(uint32_t psn);
  RcResponse Nak(net::NakCode code, ResponderEvent why);
  RcResponse AccessNak(ResolveError error);
  uint32_t PacketsFor(uint32_t bytes) const;
  void Count(ResponderEvent e) { ++counts_[static_cast<size_t>(e)]; }

  const MemoryRegionTable& memory_;
  RcResponderConfig config_;
  uint32_t epsn_;                // next expected PSN
  uint32_t msn_ = 0;             // messages completed
  uint32_t unacked_ = 0;         // packets since the last ACK
  bool nak_outstanding_ = false;  // a sequence NAK went out for the current gap
  // A multi-packet WRITE in progress: where its next byte goes, how many
  // bytes are still to come.
  bool in_write_ = false;
  uint8_t* write_cursor_ = nullptr;
  uint32_t write_remaining_ = 0;
  std::array<ReadRecord, kHistory> reads_{};
  std::array<AtomicRecord, kHistory> atomics_{};
  uint32_t next_read_ = 0, next_atomic_ = 0;
  std::array<uint64_t, kResponderEventCount> counts_{};
};

using net::PsnDistance;
using net::PsnIsAhead;

}  // namespace softfino::rdma
