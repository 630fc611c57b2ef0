// Learning from the data plane, as TEA's NFs do: a pipe hands a key it
// wants in a table to the slow path (a digest on a Tofino), and the slow
// path (the switch's control plane) inserts entries into the collector's
// TEA tables through its handshake port, in batches
// ({"tea": [{"op": "insert", ...}, ...]}, control/tea_requests.h).
//
// tea_firewall learns connections (the reply key of an inside packet);
// tea_nat learns flows (an inside packet that found no entry: the slow
// path allocates a public address and port and inserts both directions).
//
//   pipe:      TeaLearnRing::Offer(LearnedKey)   single producer, no lock,
//                                                no allocation; full: false
//   slow path: TeaLearner::Drain(rings, make_inserts, emit)   every tick
//
// Drain takes what the rings hold into a backlog (bounded: beyond it
// counted as backlog_overflow), skips keys it inserted before
// (already_inserted), asks the program for each new key's insert requests
// (`make_inserts`: one or more, all into tables of this collector) and
// sends at most `per_tick` keys' requests as one batch: one TCP exchange a
// tick, as the slow path also serves the control socket. A collector that
// does not answer (200 ms) keeps the backlog for a second, then is tried
// again (insert_retries, event <prefix>_insert_deferred). A refused insert
// (the key's probe window full) is counted and reported (insert_failures,
// event <prefix>_insert_failed); a key counts as inserted when all its
// requests were accepted.
#pragma once

#include <rte_ring.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/tea/key.h"

namespace softfino::pipelines {

// What a pipe hands over: a key and a value whose meaning is the program's.
struct LearnedKey {
  tea::Key key;
  uint64_t value;
};

// A per-pipe single-producer single-consumer ring of LearnedKey, in plain
// memory (rte_ring_init, no memzone: a program may be configured without
// the EAL's memory, as in unit tests).
class TeaLearnRing {
 public:
  static absl::StatusOr<TeaLearnRing> Create(uint32_t size, const std::string& name);

  // Fast path: false when the ring is full (the slow path is behind).
  bool Offer(LearnedKey l) {
    return rte_ring_sp_enqueue_elem(ring_.get(), &l, sizeof(LearnedKey)) == 0;
  }
  // Slow path.
  bool Take(LearnedKey* l) {
    return rte_ring_sc_dequeue_elem(ring_.get(), l, sizeof(LearnedKey)) == 0;
  }

 private:
  struct Deleter {
    void operator()(rte_ring* r) const;
  };
  explicit TeaLearnRing(rte_ring* r) : ring_(r) {}
  std::unique_ptr<rte_ring, Deleter> ring_;
};

// The options a program's config gives learning: "learn_ring" (entries per
// pipe, a power of two) and "learn_per_tick" (keys a batch).
struct TeaLearnOptions {
  uint32_t ring_size = 4096;
  uint32_t per_tick = 64;
};
// Takes "learn_ring" and "learn_per_tick" from `section` (named `what` in
// messages) if present; any other field is the caller's to check.
absl::StatusOr<TeaLearnOptions> ParseTeaLearnOptions(const nlohmann::json& section,
                                                     const std::string& what,
                                                     uint32_t max_per_tick);

class TeaLearner {
 public:
  // For a new key, the insert requests to send (objects with "table",
  // "key", "value", ...; "op" is set here), or none to skip the key.
  using MakeInserts = std::function<std::vector<nlohmann::json>(const LearnedKey&)>;

  // `collector`: the collector's handshake address HOST:PORT; `event_prefix`
  // names the events ("firewall" -> firewall_insert_failed, ...).
  static absl::StatusOr<TeaLearner> Create(const std::string& collector, uint32_t per_tick,
                                           std::string event_prefix);

  void Drain(std::span<TeaLearnRing* const> rings, const MakeInserts& make_inserts,
             const std::function<void(nlohmann::json)>& emit);

  // Keys inserted (all their requests accepted).
  bool Inserted(const tea::Key& key) const { return inserted_.contains(key); }
  nlohmann::json Counters() const;

 private:
  TeaLearner(std::string host, uint16_t port, uint32_t per_tick, std::string event_prefix)
      : host_(std::move(host)), port_(port), per_tick_(per_tick),
        event_prefix_(std::move(event_prefix)) {}

  std::string host_;
  uint16_t port_ = 0;
  uint32_t per_tick_ = 64;
  std::string event_prefix_;
  std::deque<LearnedKey> backlog_;          // taken from the rings, not inserted yet
  absl::flat_hash_set<tea::Key> inserted_;  // keys the table got from us
  uint64_t inserts_ = 0, insert_failures_ = 0, insert_retries_ = 0, already_inserted_ = 0;
  uint64_t backlog_overflow_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};  // the collector did not answer
};

}  // namespace softfino::pipelines
