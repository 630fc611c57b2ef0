// TEA's lookup from the data plane, shared by the TEA programs (tea_nat,
// tea_firewall): one table in a collector's memory, as one
// pipe sees it. A lookup is served by the on-chip cache (tea/flow_cache.h)
// or becomes ONE RDMA READ of the key's probe window (tea/layout.h); the
// pipeline goes on with other packets meanwhile, and the READ's response
// resumes the packet.
//
// Deferral (where the packet waits while its READ is in flight):
//   local   the switch keeps the packet's bytes in the entry of the READ's
//           PSN (tea/pending_lookups.h): the packet's mbuf becomes the READ
//           request, the response's mbuf becomes the packet again. Bounded
//           by `in_flight` entries of `packet_bytes`.
//   remote  TEA's own: the switch holds nothing. The packet is written
//           into a shadow row of the key's buckets in the collector's memory
//           (tea/layout.h) and read back with them: the packet's mbuf
//           becomes an RDMA WRITE of it to row(lane, h), mirrored (the
//           program's mirror session to the table's port) so that the copy
//           goes first, and the original becomes, in egress
//           (ToReadRequest), the READ of [bucket h | bucket h+1 | packet] at
//           the next PSN. An RC responder executes a queue pair's requests
//           in order, so the READ returns the packet just written. A row
//           holds one packet: a per-lane busy bit (indexed by h modulo a
//           power of two, so conservative) picks a free lane, and with none
//           free the packet is dropped (shadow_busy). The response's mbuf is
//           the packet again once the buckets are stripped.
//           Why mirror and egress: a Tofino ingress emits one packet; the
//           second comes from a mirror session, and softfino enqueues an
//           ingress mirror copy ahead of its original on the same queue, so
//           the WRITE reaches the collector first.
//
// Answers are trusted only as far as they match: the destination QPN must
// be this queue pair's, the source the collector's address, the opcode READ
// Response Only (a window is one packet: Create checks it fits the MTU),
// the PSN one an entry waits for, and the length the READ asked for.
// Anything else is dropped and counted by reason, and never resumes a
// packet. A READ without an answer for `timeout_us` is dropped (its held
// packet with it) and counted, by Expire (Program::Background).
//
// The queue pair runs the requester in resync mode (rdma/rc_requester.h):
// a lookup that failed is not asked again (its packet is gone by then), a
// NAK moves the next PSN to the one the collector expects and abandons the
// lookups sent after it, and a queue pair gone quiet is probed on the
// packet generator's timer packets (Probe).
//
// Fast path: no allocation, no locks, no virtual calls; one owner (a pipe).
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/pipe/intrinsic_metadata.h"
#include "softfino/rdma/connection.h"
#include "softfino/rdma/rc_requester.h"
#include "softfino/rdma/roce_builder.h"
#include "softfino/rdma/roce_parser.h"
#include "softfino/tea/flow_cache.h"
#include "softfino/tea/key.h"
#include "softfino/tea/layout.h"
#include "softfino/tea/pending_lookups.h"

namespace softfino::pipelines {

enum class TeaDeferral : uint8_t { kLocal, kRemote };

// The "tea" object of a TEA program's config (README of tea_nat).
struct TeaLookupOptions {
  TeaDeferral deferral = TeaDeferral::kLocal;
  uint32_t cache_entries = 4096;
  uint32_t cache_ways = 4;
  tea::CachePolicy cache_policy = tea::CachePolicy::kClock;
  uint32_t in_flight = 256;      // lookups in flight per table and pipe
  uint32_t packet_bytes = 1536;  // local deferral: the largest packet held
  uint64_t timeout_ns = 1'000'000;
  uint64_t probe_timeout_ns = 1'000'000;
  // Remote deferral: the first mirror session the program's tables use
  // (one each, from this id on), to their collector's port.
  uint16_t mirror_session = 200;
};
// Unknown fields and bad values are errors naming the field.
absl::StatusOr<TeaLookupOptions> ParseTeaLookupOptions(const nlohmann::json& tea);

// X-macro: enumerator, counter name.
#define SOFTFINO_TEA_LOOKUP_EVENTS(X)                                                 \
  X(kCacheHits, "cache_hits")                                                         \
  X(kCacheMisses, "cache_misses")                                                     \
  X(kReads, "reads")           /* READs sent */                                       \
  X(kFound, "found")           /* answers holding the key */                          \
  X(kNotFound, "not_found")    /* answers without it */                               \
  X(kTimeouts, "timeouts")     /* READs unanswered for timeout_us: packet dropped */  \
  X(kAbandoned, "abandoned")   /* READs a NAK said were never executed */             \
  X(kQueueFull, "queue_full")  /* no entry free for the READ's PSN: packet dropped */ \
  X(kTooLarge, "too_large")    /* over packet_bytes (or chained): packet dropped */   \
  X(kRecovering, "recovering") /* the queue pair waits for a recovery probe */        \
  X(kBuildFailures, "build_failures")                                                 \
  X(kWrongSource, "wrong_source")     /* our QPN, but not from the collector */       \
  X(kUnexpectedPsn, "unexpected_psn") /* no READ in flight at that PSN */             \
  X(kBadLength, "bad_length")         /* not the length the READ asked for */         \
  X(kBadOpcode, "bad_opcode")         /* not READ Response Only, ACK or NAK */        \
  X(kAcks, "acks")                                                                    \
  X(kNaks, "naks")                                                                    \
  X(kProbes, "probes")                                                                \
  X(kShadowBusy, "shadow_busy") /* remote: every lane's row of h in use: dropped */

enum class TeaLookupEvent : uint8_t {
#define SOFTFINO_ENUM(name, text) name,
  SOFTFINO_TEA_LOOKUP_EVENTS(SOFTFINO_ENUM)
#undef SOFTFINO_ENUM
      kCount
};
inline constexpr std::array kTeaLookupEventNames = {
#define SOFTFINO_NAME(name, text) text,
    SOFTFINO_TEA_LOOKUP_EVENTS(SOFTFINO_NAME)
#undef SOFTFINO_NAME
};

class TeaLookup {
 public:
  // `layout` must be the table's geometry as the collector hosts it in the
  // region the queue pair points at (its length is checked).
  // `mirror_session`: remote deferral's session (to conn.port), which the
  // program declares in Replication().
  static absl::StatusOr<std::unique_ptr<TeaLookup>> Create(const rdma::ConnectedQueuePair& conn,
                                                           const tea::Layout& layout,
                                                           const TeaLookupOptions& options,
                                                           pipe::MirrorSessionId mirror_session);

  enum class Step : uint8_t {
    kHit,       // *value is the key's (from the cache)
    kDeferred,  // `m` is now the READ request, md sends it to the collector
    kDropped,   // md drops the packet (reason set)
  };
  // The packet in `m` needs `key`'s value; `tag` comes back with it.
  Step Lookup(rte_mbuf* m, pipe::IngressMetadata& md, const tea::Key& key, uint32_t tag,
              uint64_t* value) {
    return Lookup(m, md, key, hash_(key), tag, value);
  }
  // The same with the key's hash (KeyHash) already computed. A hit, the
  // usual case once a flow is known, is inline (a miss is a call): with
  // tea_nat's FromHost and Translate inlined too, its hit path went from
  // 437 to 360 instructions a packet (callgrind, tea_bench BM_TeaSwitchHit).
  Step Lookup(rte_mbuf* m, pipe::IngressMetadata& md, const tea::Key& key, uint32_t hash,
              uint32_t tag, uint64_t* value) {
    if (const std::optional<uint64_t> v = cache_.Find(key, hash)) {
      Count(TeaLookupEvent::kCacheHits);
      *value = *v;
      return Step::kHit;
    }
    return Miss(m, md, key, hash, tag);
  }
  uint32_t Hash(const tea::Key& key) const { return hash_(key); }
  // Starts loading the cache set a Lookup of `hash` will read.
  void PrefetchCache(uint32_t hash) const { cache_.Prefetch(hash); }

  struct Resumed {
    enum class Kind : uint8_t { kNone, kFound, kNotFound } kind = Kind::kNone;
    uint64_t value = 0;
    uint32_t tag = 0;
  };
  // A packet from the collector whose destination QPN is this queue
  // pair's, parsed. kFound/kNotFound: `m` now holds the deferred packet
  // again (md untouched: the caller decides its fate). kNone: md drops it.
  Resumed OnAnswer(rte_mbuf* m, const rdma::RocePacket& p, pipe::IngressMetadata& md);

  // The on-chip cache alone, no READ and no lookup counters: for a program
  // that learns entries from its own traffic (tea_firewall: a connection
  // from inside, seen again, need not be learned again).
  std::optional<uint64_t> Cached(const tea::Key& key) { return cache_.Find(key, hash_(key)); }
  // Puts an entry the program learned into the cache, so that the packets
  // that need it hit before the control plane has it in the table.
  void Remember(const tea::Key& key, uint64_t value) { cache_.Insert(key, hash_(key), value); }

  // Egress, remote deferral: `m` (not a mirror copy) on its way to this
  // table's port; when it is one of our shadow WRITEs, it becomes the READ
  // of its row (true). Anything else is left alone (false).
  bool ToReadRequest(rte_mbuf* m);
  bool remote() const { return options_.deferral == TeaDeferral::kRemote; }
  pipe::MirrorSessionId mirror_session() const { return mirror_session_; }

  // Drops lookups unanswered for timeout_us. Cheap to call every poll: it
  // looks at the entries only every timeout/8.
  void Expire(uint64_t now_ns);
  // A spare packet (a timer packet): true when `m` now carries a probe of
  // the queue pair, sent to the collector: the requester's recovery probe,
  // or, while the server is down, a health probe every probe_timeout_us.
  bool Probe(rte_mbuf* m, pipe::IngressMetadata& md);

  // Is the memory server answering? It is taken as down when a lookup
  // times out and nothing at all came from it for timeout_us (one lost
  // answer among others is not enough), and up again at its next answer.
  // Written by the pipe, read by the slow path (events).
  bool up() const { return !down_.load(std::memory_order_relaxed); }
  uint64_t failovers() const { return failovers_.load(std::memory_order_relaxed); }
  uint64_t failbacks() const { return failbacks_.load(std::memory_order_relaxed); }

  // Round trips of answered lookups (READ sent to its answer), in buckets
  // of a quarter octave: bucket 4k + j holds [2^k (1 + j/4), 2^k (1 + (j+1)/4)) ns.
  static constexpr size_t kLatencyBuckets = 4 * 40;
  static constexpr size_t LatencyBucket(uint64_t ns) {
    if (ns < 4) return static_cast<size_t>(ns);
    const int k = 63 - __builtin_clzll(ns);
    const size_t b = 4 * static_cast<size_t>(k) + ((ns >> (k - 2)) & 3);
    return b < kLatencyBuckets ? b : kLatencyBuckets - 1;
  }
  static constexpr uint64_t LatencyBucketStart(size_t b) {
    if (b < 4) return b;
    return (uint64_t{1} << (b / 4)) + (uint64_t{b % 4} << (b / 4 - 2));
  }

  uint32_t local_qpn() const { return conn_.local.qpn; }
  pipe::PortId port() const { return conn_.port; }
  const tea::Layout& layout() const { return layout_; }
  uint64_t count(TeaLookupEvent e) const { return counts_[static_cast<size_t>(e)]; }
  uint32_t in_flight() const { return pending_.busy(); }
  nlohmann::json Counters() const;

 private:
  TeaLookup(const rdma::ConnectedQueuePair& conn, rdma::RoceBuilder builder,
            const rdma::RcRequesterConfig& rc, tea::Layout layout, tea::KeyHash hash,
            tea::FlowCache cache, tea::PendingLookups pending, const TeaLookupOptions& options)
      : conn_(conn),
        builder_(builder),
        requester_(rc),
        layout_(std::move(layout)),
        hash_(std::move(hash)),
        cache_(std::move(cache)),
        pending_(std::move(pending)),
        options_(options) {}

  void Count(TeaLookupEvent e) { ++counts_[static_cast<size_t>(e)]; }
  // Lookup of a key the cache does not hold: a READ of its window, or
  // remote deferral, or a drop (counted by reason).
  Step Miss(rte_mbuf* m, pipe::IngressMetadata& md, const tea::Key& key, uint32_t hash,
            uint32_t tag);
  Step DeferRemote(rte_mbuf* m, pipe::IngressMetadata& md, const tea::Key& key, uint32_t hash,
                   uint32_t tag);
  // Remote deferral's row use: one bit per lane and h modulo the bitmap.
  size_t RowBit(uint32_t lane, uint64_t h) const {
    return size_t{lane} * row_bits_per_lane_ + (h & (row_bits_per_lane_ - 1));
  }
  bool RowBusy(size_t bit) const { return rows_busy_[bit / 64] >> (bit % 64) & 1; }
  void SetRow(size_t bit, bool busy) {
    if (busy) {
      rows_busy_[bit / 64] |= uint64_t{1} << (bit % 64);
    } else {
      rows_busy_[bit / 64] &= ~(uint64_t{1} << (bit % 64));
    }
  }
  // Lets go of what a finished or failed lookup held.
  void Finish(const tea::PendingLookup& e);
  // After the requester's next PSN moved back (a NAK): what was sent from
  // there on was never executed.
  void AbandonIfResynced();

  rdma::ConnectedQueuePair conn_;
  uint32_t remote_ip_ = 0;  // host order: answers must come from it
  rdma::RoceBuilder builder_;
  rdma::RcRequester requester_;
  tea::Layout layout_;
  tea::KeyHash hash_;
  tea::FlowCache cache_;
  tea::PendingLookups pending_;
  TeaLookupOptions options_;
  pipe::MirrorSessionId mirror_session_ = 0;
  std::vector<uint64_t> rows_busy_;  // remote deferral
  uint64_t row_bits_per_lane_ = 0;   // a power of two
  std::vector<uint8_t> scratch_;     // remote: the packet while its mbuf becomes the WRITE
  uint64_t resyncs_seen_ = 0;
  uint64_t last_expire_ns_ = 0;
  std::array<uint64_t, kLatencyBuckets> latency_{};
  // Health (up()).
  void Alive(uint64_t now_ns);
  uint64_t last_answer_ns_ = 0;
  uint64_t last_health_probe_ns_ = 0;
  std::atomic<bool> down_{false};
  std::atomic<uint64_t> failovers_{0}, failbacks_{0};
  std::array<uint64_t, static_cast<size_t>(TeaLookupEvent::kCount)> counts_{};
};

// Every latency lands in the bucket whose range holds it.
static_assert(TeaLookup::LatencyBucketStart(TeaLookup::LatencyBucket(3)) == 3);
static_assert(TeaLookup::LatencyBucketStart(TeaLookup::LatencyBucket(1000)) == 896);   // [896, 1024)
static_assert(TeaLookup::LatencyBucketStart(TeaLookup::LatencyBucket(1023)) == 896);
static_assert(TeaLookup::LatencyBucketStart(TeaLookup::LatencyBucket(1024)) == 1024);  // [1024, 1280)
static_assert(TeaLookup::LatencyBucketStart(TeaLookup::LatencyBucket(1279)) == 1024);
static_assert(TeaLookup::LatencyBucketStart(TeaLookup::LatencyBucket(1280)) == 1280);

}  // namespace softfino::pipelines
