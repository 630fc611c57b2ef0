// The soft RNIC: what a RoCEv2 NIC's responder does, in software, on frames
// from a DPDK port. It parses each frame (ICRC checked), finds the queue
// pair by destination QPN, lets that QP's RcResponderQp execute the request
// on hosted memory, and builds the answer (ACK/NAK, atomic ACK, READ
// responses) into fresh mbufs for the caller to transmit.
//
// One SoftRnic is driven by one thread (the collector's poll loop), which
// also adds and removes queue pairs between bursts: no locks anywhere.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/rdma/rc_responder.h"
#include "softfino/rdma/roce_builder.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::rdma {

struct SoftRnicQpConfig {
  // qpn: this (local) QP's number, the one requesters put in BTH.DestQP;
  // expected_psn: the requester's first PSN; mtu: the path MTU.
  RcResponderConfig responder;
  // Where answers go: the requester's addresses and its QPN.
  Endpoint to_requester;
  uint32_t requester_qpn = 0;
};

// X-macro: enumerator, counter name. Frames the RNIC refuses before any QP
// sees them (parse failures are counted separately, by RoceParseError).
#define SOFTFINO_SOFT_RNIC_DROPS(X)                                                   \
  X(kUnknownQpn, "unknown_qpn")       /* no QP with that number */                   \
  X(kWrongPeer, "wrong_peer")         /* the QP's requester has another IPv4 */      \
  X(kNoMbuf, "no_mbuf")               /* no mbuf left for an answer */               \
  X(kNoRoom, "no_tx_room")            /* the caller's batch could not take it */      \
  X(kBuildFailed, "build_failed")     /* an answer did not fit an mbuf */

enum class SoftRnicDrop : uint8_t {
#define SOFTFINO_ENUM(name, text) name,
  SOFTFINO_SOFT_RNIC_DROPS(SOFTFINO_ENUM)
#undef SOFTFINO_ENUM
};
inline constexpr std::array kSoftRnicDropNames = {
#define SOFTFINO_NAME(name, text) text,
    SOFTFINO_SOFT_RNIC_DROPS(SOFTFINO_NAME)
#undef SOFTFINO_NAME
};
inline constexpr size_t kSoftRnicDropCount = kSoftRnicDropNames.size();

class SoftRnic {
 public:
  // `pool` supplies the answers' mbufs; its data room must hold a frame of
  // the largest path MTU in use plus headers.
  SoftRnic(const MemoryRegionTable& memory, rte_mempool* pool);

  // Control path (the same thread as Process, between bursts).
  absl::Status AddQp(const SoftRnicQpConfig& config);
  absl::Status RemoveQp(uint32_t qpn);
  const RcResponderQp* qp(uint32_t qpn) const;
  size_t qp_count() const { return qps_.size(); }
  std::vector<uint32_t> qpns() const;  // ascending

  // The most answer packets one request can make with `config`: what the
  // caller's `out` must have room for before each Process.
  static uint32_t MaxAnswerPackets(const RcResponderConfig& config) {
    return config.max_read_bytes / config.mtu + 1;
  }
  uint32_t max_answer_packets() const { return max_answer_packets_; }

  // Handles one received frame and frees it. Appends the answers to
  // out[0 .. cap) and returns how many; answers that do not fit are dropped
  // and counted (the requester will retry), never half-built.
  uint16_t Process(rte_mbuf* frame, rte_mbuf** out, uint16_t cap);

  const RoceDropCounters& parse_drops() const { return parse_drops_; }
  uint64_t drops(SoftRnicDrop d) const { return drops_[static_cast<size_t>(d)]; }
  uint64_t frames() const { return frames_; }
  uint64_t answers() const { return answers_; }

 private:
  struct Qp {
    Qp(const MemoryRegionTable& memory, const SoftRnicQpConfig& c, RoceBuilder b, PathMtu mtu)
        : responder(memory, c.responder), builder(b), mtu(mtu), peer_ip(c.to_requester.dst_ip) {}
    RcResponderQp responder;
    RoceBuilder builder;  // answers, to the requester
    PathMtu mtu;
    uint32_t peer_ip;
  };

  uint16_t Answer(Qp& qp, const RcResponse& resp, rte_mbuf** out, uint16_t cap);
  void Drop(SoftRnicDrop d) { ++drops_[static_cast<size_t>(d)]; }

  const MemoryRegionTable& memory_;
  rte_mempool* pool_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<Qp>> qps_;
  uint32_t max_answer_packets_ = 1;
  RoceDropCounters parse_drops_;
  std::array<uint64_t, kSoftRnicDropCount> drops_{};
  uint64_t frames_ = 0, answers_ = 0;
};

}  // namespace softfino::rdma
