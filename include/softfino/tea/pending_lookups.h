// Lookups in flight: one entry per RDMA READ the switch sent and has not
// had answered, found again by the READ's PSN when its response comes.
// The READ response carries nothing of the request but its PSN (and the
// QPN), so the PSN is the only key: an answer for a PSN no entry waits for
// (late, duplicate, forged) finds nothing and can never resume another
// packet.
//
// Direct-mapped by PSN: entry psn % slots. PSNs of one queue pair are
// handed out in order, so the entries in flight have distinct slots unless
// one waits longer than `slots` later requests; then the new lookup finds
// its slot taken (Reserve fails) and the caller drops its packet, counted,
// which bounds the memory and the queue (Tofino would index a register the
// same way). In local deferral each entry also holds the deferred packet's
// bytes (up to `packet_bytes`).
//
// Fast path: no allocation after Create; one owner (a pipe).
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "softfino/net/roce.h"
#include "softfino/tea/key.h"

namespace softfino::tea {

struct PendingLookup {
  uint32_t psn = 0;
  bool busy = false;
  uint64_t sent_ns = 0;
  Key key{};
  uint32_t hash = 0;          // KeyHash of key
  uint32_t tag = 0;           // the program's (e.g. the direction, the ingress port)
  uint32_t expect_len = 0;    // bytes the READ response must carry
  uint32_t packet_len = 0;    // bytes of the packet (local: held in `packet`; remote: in the shadow row)
  uint32_t lane = 0;          // remote deferral: the shadow row's lane (its h is hash & mask)
  uint8_t* packet = nullptr;  // local deferral: packet_bytes of storage
};

class PendingLookups {
 public:
  static constexpr uint32_t kMaxSlots = 1u << 16;
  static constexpr uint32_t kMaxPacketBytes = 9216;

  // `slots`: a power of two 1 .. kMaxSlots; `packet_bytes`: 0 (no packets
  // held: remote deferral) .. kMaxPacketBytes.
  static absl::StatusOr<PendingLookups> Create(uint32_t slots, uint32_t packet_bytes);

  uint32_t slots() const { return mask_ + 1; }
  uint32_t packet_bytes() const { return packet_bytes_; }
  uint32_t busy() const { return busy_; }

  // The entry for a request at `psn`: null when another lookup still holds
  // its slot. Only `psn`, `busy` and `sent_ns` are set; the caller fills in
  // the rest.
  PendingLookup* Reserve(uint32_t psn, uint64_t now_ns);
  // Whether Reserve(psn) would succeed, asked before a PSN is spent.
  bool CanReserve(uint32_t psn) const { return !entries_[psn & mask_].busy; }
  // The entry waiting for `psn`, or null.
  PendingLookup* Find(uint32_t psn) {
    PendingLookup& e = entries_[psn & net::kPsnMask & mask_];
    return e.busy && e.psn == (psn & net::kPsnMask) ? &e : nullptr;
  }
  void Release(PendingLookup* e) {
    e->busy = false;
    --busy_;
  }

  // Releases every entry sent more than `timeout_ns` before `now_ns`,
  // after calling on_expired(const PendingLookup&) on it. Returns how many.
  template <typename F>
  uint32_t Expire(uint64_t now_ns, uint64_t timeout_ns, F&& on_expired);
  // Releases every entry at or after `psn` (within 2^23, PSN order) after
  // calling on_abandoned on it: the requester went back to `psn` (the
  // responder expects it), so the READs sent there were never executed and
  // will never be answered. Returns how many.
  template <typename F>
  uint32_t AbandonFrom(uint32_t psn, F&& on_abandoned);

 private:
  PendingLookups(uint32_t slots, uint32_t packet_bytes);

  std::unique_ptr<PendingLookup[]> entries_;
  std::unique_ptr<uint8_t[]> storage_;
  uint32_t mask_;
  uint32_t packet_bytes_;
  uint32_t busy_ = 0;
};

template <typename F>
uint32_t PendingLookups::Expire(uint64_t now_ns, uint64_t timeout_ns, F&& on_expired) {
  if (busy_ == 0) return 0;
  uint32_t n = 0;
  for (uint32_t i = 0; i <= mask_; ++i) {
    PendingLookup& e = entries_[i];
    if (e.busy && now_ns - e.sent_ns > timeout_ns && now_ns >= e.sent_ns) {
      on_expired(static_cast<const PendingLookup&>(e));
      Release(&e);
      ++n;
    }
  }
  return n;
}

template <typename F>
uint32_t PendingLookups::AbandonFrom(uint32_t psn, F&& on_abandoned) {
  if (busy_ == 0) return 0;
  uint32_t n = 0;
  for (uint32_t i = 0; i <= mask_; ++i) {
    PendingLookup& e = entries_[i];
    if (e.busy && net::PsnDistance(psn, e.psn) < (1u << 23)) {
      on_abandoned(static_cast<const PendingLookup&>(e));
      Release(&e);
      ++n;
    }
  }
  return n;
}

}  // namespace softfino::tea
