// Why a packet was dropped. Every drop anywhere in the switch is counted under
// exactly one of these, so received = forwarded + sum(drops) always holds.
#pragma once

#include <array>
#include <cstdint>
#include "absl/strings/string_view.h"

namespace softfino::pipe {

// X-macro: enumerator, counter name (as printed, in telemetry and JSON).
#define SOFTFINO_DROP_REASONS(X)                            \
  X(kNone, "none")                                          \
  X(kEthTruncated, "eth_truncated")                         \
  X(kUnknownEtherType, "unknown_ethertype")                 \
  X(kIpv4Truncated, "ipv4_truncated")                       \
  X(kIpv4BadVersion, "ipv4_bad_version")                    \
  X(kIpv4BadIhl, "ipv4_bad_ihl")                            \
  X(kIpv4BadTotalLength, "ipv4_bad_total_length")           \
  X(kIpv4BadChecksum, "ipv4_bad_checksum")                  \
  X(kIpv6Truncated, "ipv6_truncated")                       \
  X(kIpv6BadVersion, "ipv6_bad_version")                    \
  X(kIpv6BadPayloadLength, "ipv6_bad_payload_length")       \
  X(kNoRoute, "no_route")                                   \
  X(kTtlExpired, "ttl_expired")                             \
  X(kProgramDrop, "program_drop")                           \
  X(kBadEgressPort, "bad_egress_port")                      \
  X(kTmQueueFull, "tm_queue_full")                          \
  X(kTmHandoffFull, "tm_handoff_full")                      \
  X(kSoftRssFull, "sw_rss_full")      /* software RSS: the ring to the flow's pipe was full */ \
  X(kEgressDrop, "egress_drop")                             \
  X(kNoMulticastGroup, "no_multicast_group")                \
  X(kNoMirrorSession, "no_mirror_session")                  \
  X(kNoBufferForCopy, "no_buffer_for_copy")                 \
  X(kResubmitLoop, "resubmit_loop")                         \
  X(kRecirculationFull, "recirculation_full")               \
  X(kTxFull, "tx_full")                                     \
  X(kRdmaWindowFull, "rdma_window_full")                    \
  X(kRdmaAnswerConsumed, "rdma_answer_consumed")            \
  X(kRdmaBadPacket, "rdma_bad_packet")                      \
  X(kInjectedLoss, "injected_loss")                         \
  X(kTimerUnused, "timer_unused")                           \
  X(kRdmaQpError, "rdma_qp_error")                          \
  X(kDtaBadReport, "dta_bad_report")       /* the program counts why */ \
  X(kDtaBatched, "dta_batched")            /* Append: held for its batch's WRITE */ \
  X(kDtaCached, "dta_cached")              /* Postcarding: held in the path cache */ \
  X(kDtaCopyUnused, "dta_copy_unused")     /* a redundant copy with nothing to write */ \
  X(kRdmaRecovering, "rdma_recovering")    /* the queue pair waits for its recovery probe */ \
  X(kDtaCollectorDown, "dta_collector_down") /* its collector is not answering: report lost */ \
  X(kBurstRadarOverwritten, "burstradar_overwritten") /* a courier whose ring entry was reused */ \
  X(kTeaUnsupported, "tea_unsupported")    /* TEA NF: not IPv4 TCP/UDP, or a fragment */ \
  X(kTeaNoEntry, "tea_no_entry")           /* TEA NF: the table has no entry for the flow */ \
  X(kTeaQueueFull, "tea_queue_full")       /* no room to defer the packet's lookup */ \
  X(kTeaPacketTooLarge, "tea_packet_too_large") /* too long (or chained) to defer */ \
  X(kTeaUnknownQp, "tea_unknown_qp")       /* an answer for no queue pair of this pipe */ \
  X(kTeaUnexpectedPsn, "tea_unexpected_psn") /* a READ response no lookup waits for */ \
  X(kTeaBadLength, "tea_bad_length")       /* a READ response of the wrong length */ \
  X(kTeaBadResponse, "tea_bad_response")   /* an answer that is no READ response, ACK or NAK */ \
  X(kFirewallDenied, "firewall_denied")     /* tea_firewall: from outside, no known connection */

enum class DropReason : uint8_t {
#define SOFTFINO_ENUM(name, text) name,
  SOFTFINO_DROP_REASONS(SOFTFINO_ENUM)
#undef SOFTFINO_ENUM
};

inline constexpr std::array kDropReasonNames = {
#define SOFTFINO_NAME(name, text) absl::string_view(text),
    SOFTFINO_DROP_REASONS(SOFTFINO_NAME)
#undef SOFTFINO_NAME
};

inline constexpr size_t kDropReasonCount = kDropReasonNames.size();

constexpr absl::string_view DropReasonName(DropReason reason) {
  return kDropReasonNames[static_cast<size_t>(reason)];
}

}  // namespace softfino::pipe
