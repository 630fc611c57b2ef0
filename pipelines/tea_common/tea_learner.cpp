#include "pipelines/tea_common/tea_learner.h"

#include <rte_common.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "softfino/control/tea_requests.h"
#include "softfino/rdma/handshake.h"

namespace softfino::pipelines {

namespace {

// An insert batch is one TCP exchange with the collector on the slow path;
// a collector that does not answer within this holds the slow path no
// longer.
constexpr auto kInsertTimeout = std::chrono::milliseconds(200);
constexpr auto kRetryAfter = std::chrono::seconds(1);
// The slow path's own queue of keys not inserted yet (while the collector
// is away): beyond it they are dropped, counted.
constexpr size_t kMaxBacklog = 1u << 20;

}  // namespace

void TeaLearnRing::Deleter::operator()(rte_ring* r) const { std::free(r); }

absl::StatusOr<TeaLearnRing> TeaLearnRing::Create(uint32_t size, const std::string& name) {
  // RING_F_EXACT_SZ makes a ring of `size` usable entries out of the next
  // power of two above size + 1 slots, and the memory must be for those
  // slots (rte_ring_create_elem does the same). Sized for `size` slots, the
  // ring wrote past its memory once `size` keys had gone through it: the
  // million-flow firewall run crashed after 2^18 learned connections.
  const uint32_t slots = rte_align32pow2(size + 1);
  const ssize_t bytes = rte_ring_get_memsize_elem(sizeof(LearnedKey), slots);
  if (bytes < 0) return absl::InvalidArgumentError(absl::StrCat(name, ": bad ring size ", size));
  void* mem = std::aligned_alloc(RTE_CACHE_LINE_SIZE,
                                 RTE_ALIGN_CEIL(static_cast<size_t>(bytes), RTE_CACHE_LINE_SIZE));
  if (mem == nullptr) return absl::ResourceExhaustedError(absl::StrCat("no memory for ", name));
  TeaLearnRing ring(static_cast<rte_ring*>(mem));
  if (rte_ring_init(ring.ring_.get(), name.c_str(), size,
                    RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ) != 0) {
    return absl::InternalError(absl::StrCat("cannot set up the ring ", name));
  }
  return ring;
}

absl::StatusOr<TeaLearnOptions> ParseTeaLearnOptions(const nlohmann::json& section,
                                                     const std::string& what,
                                                     uint32_t max_per_tick) {
  TeaLearnOptions o;
  if (const auto it = section.find("learn_ring"); it != section.end()) {
    const nlohmann::json& v = *it;
    if (!v.is_number_unsigned() || v.get<uint64_t>() < 2 || v.get<uint64_t>() > (1u << 24) ||
        !rte_is_power_of_2(static_cast<uint32_t>(v.get<uint64_t>()))) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ".learn_ring must be a power of two 2..16M, not ", v.dump()));
    }
    o.ring_size = static_cast<uint32_t>(v.get<uint64_t>());
  }
  if (const auto it = section.find("learn_per_tick"); it != section.end()) {
    const nlohmann::json& v = *it;
    if (!v.is_number_unsigned() || v.get<uint64_t>() < 1 || v.get<uint64_t>() > max_per_tick) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ".learn_per_tick must be an integer 1..", max_per_tick, ", not ", v.dump()));
    }
    o.per_tick = static_cast<uint32_t>(v.get<uint64_t>());
  }
  o.per_tick = std::min(o.per_tick, max_per_tick);
  return o;
}

absl::StatusOr<TeaLearner> TeaLearner::Create(const std::string& collector, uint32_t per_tick,
                                              std::string event_prefix) {
  const std::vector<std::string> hp = absl::StrSplit(collector, ':');
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "collector '", collector, "' is not HOST:PORT; learned entries are inserted through it"));
  }
  return TeaLearner(hp[0], static_cast<uint16_t>(port), per_tick, std::move(event_prefix));
}

void TeaLearner::Drain(std::span<TeaLearnRing* const> rings, const MakeInserts& make_inserts,
                       const std::function<void(nlohmann::json)>& emit) {
  for (TeaLearnRing* ring : rings) {
    LearnedKey l;
    while (ring->Take(&l)) {
      if (backlog_.size() >= kMaxBacklog) {
        ++backlog_overflow_;
        continue;
      }
      backlog_.push_back(l);
    }
  }
  if (backlog_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) return;
  // A bounded share per tick, in one batch request.
  std::vector<LearnedKey> keys;
  std::vector<size_t> first;  // each key's first request in the batch
  nlohmann::json batch = nlohmann::json::array();
  absl::flat_hash_set<tea::Key> in_batch;
  while (keys.size() < per_tick_ && !backlog_.empty()) {
    const LearnedKey l = backlog_.front();
    backlog_.pop_front();
    if (inserted_.contains(l.key) || in_batch.contains(l.key)) {
      // Learned again (e.g. after the pipe's cache evicted it, or several
      // packets before the first insert): the table has it.
      ++already_inserted_;
      continue;
    }
    std::vector<nlohmann::json> requests = make_inserts(l);
    if (requests.empty()) continue;
    if (batch.size() + requests.size() > control::kMaxTeaBatch) {
      backlog_.push_front(l);  // next tick
      break;
    }
    in_batch.insert(l.key);
    keys.push_back(l);
    first.push_back(batch.size());
    for (nlohmann::json& r : requests) {
      r["op"] = "insert";
      batch.push_back(std::move(r));
    }
  }
  if (keys.empty()) return;
  absl::StatusOr<nlohmann::json> reply =
      rdma::CollectorRequest(host_, port_, {{"tea", batch}}, kInsertTimeout);
  if (!reply.ok() || !reply->is_array() || reply->size() != batch.size()) {
    // The collector is away: the keys wait in the backlog, in order. (The
    // program's make_inserts sees them again: it must give the same
    // requests for a key it was asked about before.)
    ++insert_retries_;
    retry_at_ = now + kRetryAfter;
    for (size_t i = keys.size(); i-- > 0;) backlog_.push_front(keys[i]);
    emit({{"event", event_prefix_ + "_insert_deferred"},
          {"backlog", backlog_.size()},
          {"error", reply.ok() ? std::string("an answer that is not one per insert")
                               : std::string(reply.status().message())}});
    return;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const size_t end = i + 1 < keys.size() ? first[i + 1] : batch.size();
    bool ok = true;
    for (size_t r = first[i]; r < end; ++r) {
      const nlohmann::json& answer = (*reply)[r];
      if (!answer.contains("error")) continue;
      // Refused (e.g. the key's probe window is full).
      ok = false;
      emit({{"event", event_prefix_ + "_insert_failed"},
            {"table", batch[r].value("table", "")},
            {"key", batch[r].value("key", nlohmann::json())},
            {"error", answer["error"]}});
    }
    if (ok) {
      ++inserts_;
      inserted_.insert(keys[i].key);
    } else {
      ++insert_failures_;
    }
  }
}

nlohmann::json TeaLearner::Counters() const {
  return {{"inserts", inserts_},
          {"insert_failures", insert_failures_},
          {"insert_retries", insert_retries_},
          {"already_inserted", already_inserted_},
          {"backlog", backlog_.size()},
          {"backlog_overflow", backlog_overflow_}};
}

}  // namespace softfino::pipelines
