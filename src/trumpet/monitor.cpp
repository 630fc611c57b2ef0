#include "softfino/trumpet/monitor.h"

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>

#include "absl/strings/str_cat.h"

namespace softfino::trumpet {
namespace {

// The counting filter's key: the 5-tuple with its padding zeroed.
struct FlowKey {
  uint32_t src, dst;
  uint16_t sport, dport;
  uint8_t proto, pad[3];
};
static_assert(sizeof(FlowKey) == 16);

FlowKey KeyOf(const FiveTuple& t) {
  FlowKey k{};
  k.src = t.src;
  k.dst = t.dst;
  k.sport = t.sport;
  k.dport = t.dport;
  k.proto = t.proto;
  return k;
}

// TCP sequence numbers compare modulo 2^32.
bool SeqAfter(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

constexpr uint64_t kNoLimit = ~uint64_t{0};
constexpr uint32_t kSweepChunk = 16;  // flows prefetched ahead together
constexpr uint32_t kFilterCells = 4096;

std::atomic<uint32_t> monitor_serial{0};  // ring names are process-wide

}  // namespace

// Cache-line aligned, with what every packet reads and writes (key, flags,
// times, both epochs' statistics: 112 bytes) in its first two lines, which
// OnPackets prefetches; the matched triggers, read when the flow is matched
// and by the sweep, come last. (Unaligned at 144 bytes, the statistics
// were on a line not prefetched: their epoch check was a tenth of
// OnPackets' samples in perf.)
struct alignas(RTE_CACHE_LINE_SIZE) Monitor::FlowEntry {
  FiveTuple key;
  bool in_use = false;
  bool seq_valid = false;
  uint8_t trigger_count = 0;
  uint32_t max_seq_end = 0;
  uint64_t generation = 0;
  uint64_t last_ts = 0;
  uint64_t last_epoch = 0;
  EpochStats stats[2];
  TriggerIndex triggers[kMaxTriggersPerFlow] = {};
};

absl::StatusOr<std::unique_ptr<Monitor>> Monitor::Create(const MonitorConfig& config,
                                                         std::shared_ptr<const TriggerSet> set) {
  if (config.epoch_ns == 0) return absl::InvalidArgumentError("trumpet: epoch must be > 0");
  if (config.flow_capacity < 8) return absl::InvalidArgumentError("trumpet: flows must be >= 8");
  if (config.event_ring_size == 0 || (config.event_ring_size & (config.event_ring_size - 1))) {
    return absl::InvalidArgumentError("trumpet: the event ring size must be a power of two");
  }
  if (config.admit_after == 0) return absl::InvalidArgumentError("trumpet: admit_after must be >= 1");
  std::unique_ptr<Monitor> m(new Monitor(config, std::move(set)));
  if (auto s = m->Init(); !s.ok()) return s;
  return m;
}

Monitor::Monitor(const MonitorConfig& config, std::shared_ptr<const TriggerSet> set)
    : config_(config) {
  Adopt(std::move(set));
}

absl::Status Monitor::Init() {
  const uint32_t serial = monitor_serial.fetch_add(1);
  const uint32_t index_slots = rte_align32pow2(2 * config_.flow_capacity);
  index_.reset(new (std::nothrow) IndexSlot[index_slots]());
  free_.reset(new (std::nothrow) uint32_t[config_.flow_capacity]);
  if (index_ == nullptr || free_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("trumpet: no memory for a flow table of ",
                                                     config_.flow_capacity, " flows"));
  }
  index_mask_ = index_slots - 1;
  for (uint32_t pos = 0; pos < config_.flow_capacity; ++pos) free_[pos] = pos;
  free_count_ = config_.flow_capacity;
  entries_ = std::make_unique<FlowEntry[]>(config_.flow_capacity);
  const uint64_t epochs_per_timeout = std::max<uint64_t>(1, config_.idle_timeout_ns / config_.epoch_ns);
  expire_per_epoch_ = std::max<uint64_t>(1, config_.flow_capacity / epochs_per_timeout);
  for (auto& a : active_) a.resize(config_.flow_capacity);
  if (config_.admit_after > 1) admit_filter_.assign(2 * kFilterCells, 0);
  // A ring of N slots holds N-1: take the next power of two.
  const uint32_t slots = rte_align32pow2(config_.event_ring_size + 1);
  const ssize_t ring_bytes = rte_ring_get_memsize_elem(sizeof(Event), slots);
  if (ring_bytes < 0) return absl::InvalidArgumentError("trumpet: bad event ring size");
  events_mem_ = std::aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(ring_bytes, RTE_CACHE_LINE_SIZE));
  if (events_mem_ == nullptr) return absl::ResourceExhaustedError("trumpet: no memory for events");
  events_ = static_cast<rte_ring*>(events_mem_);
  if (rte_ring_init(events_, absl::StrCat("trumpet_ev", serial).c_str(), slots,
                    RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
    return absl::InternalError("trumpet: rte_ring_init failed for the event ring");
  }
  return absl::OkStatus();
}

Monitor::~Monitor() {
  std::free(events_mem_);
  delete offered_.exchange(nullptr);
}

void Monitor::Offer(std::shared_ptr<const TriggerSet> set) {
  delete offered_.exchange(new std::shared_ptr<const TriggerSet>(std::move(set)),
                           std::memory_order_acq_rel);
}

uint64_t Monitor::adopted_generation() const {
  return adopted_generation_.load(std::memory_order_acquire);
}

void Monitor::Adopt(std::shared_ptr<const TriggerSet> set) {
  absl::flat_hash_map<uint32_t, size_t> old_index;
  for (size_t i = 0; i < state_.size(); ++i) old_index[state_[i].id] = i;
  std::vector<TriggerState> next(set->triggers().size());
  pending_groups_ = 0;
  for (size_t k = 0; k < next.size(); ++k) {
    const Trigger& t = set->triggers()[k];
    if (auto it = old_index.find(t.id); it != old_index.end()) {
      next[k] = std::move(state_[it->second]);
    } else {
      // Starts at its first interval boundary at or after this epoch.
      const uint64_t now_ns = epoch_ * config_.epoch_ns;
      const uint64_t start_ns = (now_ns + t.interval_ns - 1) / t.interval_ns * t.interval_ns;
      next[k].id = t.id;
      next[k].first_epoch = start_ns / config_.epoch_ns;
    }
    if (!next[k].groups.empty()) ++pending_groups_;
  }
  state_ = std::move(next);
  if (set_ != nullptr) ++counters_.trigger_set_changes;
  set_ = std::move(set);
  adopted_generation_.store(set_->generation(), std::memory_order_release);
}

bool Monitor::Admit(const FiveTuple& flow) {
  const FlowKey key = KeyOf(flow);
  uint8_t& a = admit_filter_[rte_hash_crc(&key, sizeof(key), 0x9e3779b9) % kFilterCells];
  uint8_t& b = admit_filter_[kFilterCells + rte_hash_crc(&key, sizeof(key), 0x7f4a7c15) % kFilterCells];
  if (a < 255) ++a;
  if (b < 255) ++b;
  return std::min(a, b) >= config_.admit_after;
}

// Inlined into OnPackets, where it runs when FindByHash missed or found
// another flow of the same hash (and for flows added earlier in a burst).
[[gnu::always_inline]] inline int32_t Monitor::FindFlow(const FiveTuple& flow, uint32_t hash) const {
  for (uint32_t i = hash & index_mask_; index_[i].pos1 != 0; i = (i + 1) & index_mask_) {
    const uint32_t pos = index_[i].pos1 - 1;
    if (index_[i].hash == hash && entries_[pos].key == flow) return static_cast<int32_t>(pos);
  }
  return -1;
}

// The position of the first flow in the probe whose hash is `hash`, or -1;
// its key is the caller's to check.
[[gnu::always_inline]] inline int32_t Monitor::FindByHash(uint32_t hash) const {
  for (uint32_t i = hash & index_mask_; index_[i].pos1 != 0; i = (i + 1) & index_mask_) {
    if (index_[i].hash == hash) return static_cast<int32_t>(index_[i].pos1 - 1);
  }
  return -1;
}

// The first `lines` cache lines of a flow's entry: 2 hold what a packet
// touches, 3 the whole entry.
[[gnu::always_inline]] inline void Monitor::PrefetchEntry(uint32_t pos, unsigned lines) const {
  static_assert(offsetof(FlowEntry, triggers) <= 2 * RTE_CACHE_LINE_SIZE &&
                    sizeof(FlowEntry) == 3 * RTE_CACHE_LINE_SIZE,
                "a packet's fields in two lines, the entry in three");
  const char* e = reinterpret_cast<const char*>(&entries_[pos]);
  for (unsigned l = 0; l < lines; ++l) rte_prefetch0(e + l * RTE_CACHE_LINE_SIZE);
}

int32_t Monitor::AddFlow(const FiveTuple& flow, uint32_t hash) {
  if (free_count_ == 0) return -1;
  const uint32_t pos = free_[free_head_];
  free_head_ = free_head_ + 1 == config_.flow_capacity ? 0 : free_head_ + 1;
  --free_count_;
  uint32_t i = hash & index_mask_;
  while (index_[i].pos1 != 0) i = (i + 1) & index_mask_;
  index_[i] = {hash, pos + 1};
  entries_[pos].key = flow;
  return static_cast<int32_t>(pos);
}

void Monitor::RemoveFlow(uint32_t pos) {
  uint32_t i = FlowHash(entries_[pos].key) & index_mask_;
  while (index_[i].pos1 != pos + 1) i = (i + 1) & index_mask_;
  // Backward shift instead of a tombstone: a later slot of the same run
  // moves into the hole when the hole lies between its home slot and it,
  // so every flow stays reachable from its home without gaps.
  for (uint32_t j = (i + 1) & index_mask_; index_[j].pos1 != 0; j = (j + 1) & index_mask_) {
    const uint32_t home = index_[j].hash & index_mask_;
    if (((j - home) & index_mask_) >= ((j - i) & index_mask_)) {
      index_[i] = index_[j];
      i = j;
    }
  }
  index_[i] = IndexSlot{};
  uint32_t tail = free_head_ + free_count_;
  if (tail >= config_.flow_capacity) tail -= config_.flow_capacity;
  free_[tail] = pos;
  ++free_count_;
}

void Monitor::OnPackets(const PacketView* pkts, uint16_t n) {
  if (n == 0) return;
  if (!started_) {
    started_ = true;
    epoch_ = pkts[0].tstamp_ns / config_.epoch_ns;
  }
  uint32_t hashes[64];
  int32_t positions[64];
  n = std::min<uint16_t>(n, 64);
  // The burst's index slots, then its flows, are loaded together. The
  // second pass goes by the index alone (the first slot of the probe whose
  // hash matches) and the key is checked in the third, once the prefetch
  // has brought the entry: comparing it here waited on a load just issued
  // for every packet (the costliest instruction of this function in perf).
  for (uint16_t i = 0; i < n; ++i) {
    hashes[i] = FlowHash(pkts[i].flow);
    rte_prefetch0(&index_[hashes[i] & index_mask_]);
  }
  for (uint16_t i = 0; i < n; ++i) {
    positions[i] = FindByHash(hashes[i]);
    if (positions[i] >= 0) PrefetchEntry(positions[i], 2);
  }
  counters_.packets += n;
  for (uint16_t i = 0; i < n; ++i) {
    const PacketView& p = pkts[i];
    const uint64_t e = p.tstamp_ns / config_.epoch_ns;
    if (e > epoch_) AdvanceTo(e);
    int32_t pos = positions[i];
    if (pos < 0 || !(entries_[pos].key == p.flow)) {
      // A miss, a flow added earlier in this burst, or another flow of the
      // same hash first in the probe (nothing expires within a burst:
      // ExpireSome runs in Background).
      pos = FindFlow(p.flow, hashes[i]);
      if (pos < 0) {
        if (!admit_filter_.empty() && !Admit(p.flow)) {
          ++counters_.not_admitted;
          continue;
        }
        pos = AddFlow(p.flow, hashes[i]);
        if (pos < 0) {
          ++counters_.flow_table_full;
          continue;
        }
        FlowEntry& fresh = entries_[pos];
        fresh = FlowEntry{};
        fresh.key = p.flow;
        fresh.in_use = true;
        fresh.last_ts = p.tstamp_ns - config_.burst_gap_ns - 1;  // its first packet starts a burst
        ++counters_.flows_added;
      }
    }
    FlowEntry& f = entries_[pos];
    if (f.generation != set_->generation() || !f.in_use) {
      // New flow, or the trigger set changed since it was matched.
      const size_t matched = set_->Match(f.key, f.triggers, kMaxTriggersPerFlow);
      if (matched > kMaxTriggersPerFlow) ++counters_.match_overflow;
      f.trigger_count = static_cast<uint8_t>(std::min(matched, kMaxTriggersPerFlow));
      f.generation = set_->generation();
      f.in_use = true;
    }
    const unsigned parity = e & 1;
    EpochStats& st = f.stats[parity];
    if (st.epoch != e) {
      st = EpochStats{};
      st.epoch = e;
      active_[parity][active_count_[parity]++] = static_cast<uint32_t>(pos);
    }
    ++st.packets;
    st.bytes += p.bytes;
    if (p.tstamp_ns - f.last_ts > config_.burst_gap_ns) ++st.bursts;
    if (p.tcp && p.tcp_payload > 0) {
      const uint32_t end = p.tcp_seq + p.tcp_payload;
      if (f.seq_valid && !SeqAfter(end, f.max_seq_end)) {
        ++st.lost;
      } else {
        f.max_seq_end = end;
        f.seq_valid = true;
      }
    }
    f.last_ts = p.tstamp_ns;
    f.last_epoch = e;
  }
}

void Monitor::AdvanceTo(uint64_t epoch) {
  while (epoch_ < epoch) {
    if (sweep_pending_) {
      // Still sweeping epoch_-1 while epoch_+1 begins: its statistics slots
      // are about to be reused, so finish it now.
      if (sweep_sliced_ && sweep_next_ < active_count_[sweep_epoch_ & 1]) ++counters_.sweep_overruns;
      RunSweep(kNoLimit);
    }
    sweep_pending_ = true;
    sweep_epoch_ = epoch_;
    sweep_next_ = 0;
    sweep_sliced_ = false;
    ++epoch_;
    expire_quota_ = std::min<uint64_t>(expire_quota_ + expire_per_epoch_, config_.flow_capacity);
    if (offered_.load(std::memory_order_relaxed) != nullptr) {
      std::shared_ptr<const TriggerSet>* offer = offered_.exchange(nullptr, std::memory_order_acq_rel);
      if (offer != nullptr) {
        // The sweep of the closed epoch reads flows' trigger indices of the
        // old set: finish it before the first flow is matched again.
        RunSweep(kNoLimit);
        Adopt(std::move(*offer));
        delete offer;
      }
    }
    // Nothing to sweep and no group waiting: the epochs up to `epoch` are
    // empty and close nothing; jump.
    if (sweep_pending_ && active_count_[sweep_epoch_ & 1] == 0 && pending_groups_ == 0) {
      RunSweep(kNoLimit);
    }
    if (!sweep_pending_ && pending_groups_ == 0 && epoch_ < epoch) epoch_ = epoch;
  }
}

void Monitor::Background(uint64_t now_ns) {
  if (!started_) {
    started_ = true;
    epoch_ = now_ns / config_.epoch_ns;
  }
  const uint64_t e = now_ns / config_.epoch_ns;
  if (e > epoch_) AdvanceTo(e);
  if (sweep_pending_) {
    sweep_sliced_ = true;
    in_background_ = true;
    RunSweep(config_.sweep_budget_cycles);
    in_background_ = false;
  }
  if (!sweep_pending_ && expire_quota_ > 0) ExpireSome(64);
}

void Monitor::Finish(uint64_t end_ns) {
  if (!started_) return;
  const uint64_t e = end_ns / config_.epoch_ns;
  if (e > epoch_) AdvanceTo(e);
  RunSweep(kNoLimit);
  if (config_.export_partials) {
    Event done;
    done.kind = EventKind::kPipeDone;
    done.pipe = config_.pipe;
    done.interval_start_ns = epoch_ * config_.epoch_ns;
    Emit(done);
  }
}

void Monitor::RunSweep(uint64_t budget_cycles) {
  if (!sweep_pending_) return;
  const unsigned parity = sweep_epoch_ & 1;
  const uint64_t start = rte_rdtsc();
  // budget 0: one flow or trigger per slice (the smallest, for tests).
  const auto out_of_time = [&] {
    return budget_cycles != kNoLimit && (budget_cycles == 0 || rte_rdtsc() - start > budget_cycles);
  };
  const auto yield = [&] {
    ++counters_.sweep_slices;
    NoteSlice(start);
  };
  // Phase 1: the flows active in the epoch, into their triggers' groups.
  const uint32_t count = active_count_[parity];
  while (sweep_next_ < count) {
    const uint32_t end = std::min(count, sweep_next_ + kSweepChunk);
    for (uint32_t i = sweep_next_ + 4; i < std::min(count, end + 4); ++i) {
      PrefetchEntry(active_[parity][i], 3);  // the triggers too
    }
    // A flow costs one group-table update per matched trigger: check the
    // clock after each, so a slice overshoots its budget by one flow at most.
    for (; sweep_next_ < end; ++sweep_next_) {
      Aggregate(active_[parity][sweep_next_], sweep_epoch_);
      if (out_of_time()) {
        ++sweep_next_;
        return yield();
      }
    }
  }
  // Phase 2: the triggers whose interval ends with the epoch, a few at a time.
  if (!CloseIntervals(sweep_epoch_, out_of_time)) return yield();
  active_count_[parity] = 0;
  sweep_pending_ = false;
  close_class_ = close_index_ = 0;
  ++counters_.sweeps;
  ++counters_.sweep_slices;
  NoteSlice(start);
  if (!admit_filter_.empty()) std::fill(admit_filter_.begin(), admit_filter_.end(), 0);
}

void Monitor::NoteSlice(uint64_t start) {
  // Only slices that ran between bursts delay packets by their length; a
  // sweep finished at once (an overrun, a trigger-set change) is counted
  // apart.
  if (!in_background_) return;
  const uint64_t cycles = rte_rdtsc() - start;
  counters_.longest_slice_cycles = std::max(counters_.longest_slice_cycles, cycles);
  const int bucket = cycles == 0 ? 0 : 63 - __builtin_clzll(cycles);
  ++counters_.slice_cycles_log2[std::min(bucket, 39)];
}

void Monitor::Aggregate(uint32_t slot, uint64_t epoch) {
  const FlowEntry& f = entries_[slot];
  const EpochStats& st = f.stats[epoch & 1];
  if (st.epoch != epoch) return;
  // The flow's statistics as a predicate reads them, once for all its triggers.
  uint64_t sums[static_cast<int>(Metric::kCount)];
  sums[static_cast<int>(Metric::kPackets)] = st.packets;
  sums[static_cast<int>(Metric::kBytes)] = st.bytes;
  sums[static_cast<int>(Metric::kLost)] = st.lost;
  sums[static_cast<int>(Metric::kBursts)] = st.bursts;
  for (uint8_t j = 0; j < f.trigger_count; ++j) {
    const TriggerIndex k = f.triggers[j];
    TriggerState& ts = state_[k];
    if (epoch < ts.first_epoch) continue;
    if (set_->per_flow(k)) {
      const Trigger& t = set_->triggers()[k];
      // Most flows fire nothing: the Event is built only when one does.
      if (t.predicate.Holds(t.predicate.Value(sums))) EmitFlowEvent(f, sums, t, epoch);
      continue;
    }
    if (ts.groups.empty()) ++pending_groups_;
    Sums& s = ts.groups[Mask(f.key, set_->triggers()[k].group_lengths)];
    for (int m = 0; m < static_cast<int>(Metric::kCount); ++m) s.v[m] += sums[m];
  }
}

void Monitor::EmitFlowEvent(const FlowEntry& f, const uint64_t (&sums)[static_cast<int>(Metric::kCount)],
                            const Trigger& t, uint64_t epoch) {
  Event ev;
  std::memcpy(ev.sums, sums, sizeof(ev.sums));
  ev.kind = EventKind::kFired;
  ev.trigger_id = t.id;
  ev.pipe = config_.pipe;
  ev.interval_start_ns = epoch * config_.epoch_ns;
  ev.interval_ns = t.interval_ns;
  ev.group = f.key;
  Emit(ev);
}

bool Monitor::CloseIntervals(uint64_t epoch, const std::function<bool()>& out_of_time) {
  const uint64_t end_ns = (epoch + 1) * config_.epoch_ns;
  const auto& classes = set_->intervals();
  // No trigger has groups (per-flow triggers never do): nothing to close,
  // and no need to look at each trigger of every class.
  if (pending_groups_ == 0) close_class_ = classes.size();
  for (; close_class_ < classes.size(); ++close_class_, close_index_ = 0) {
    const TriggerSet::IntervalClass& c = classes[close_class_];
    if (end_ns % c.interval_ns != 0) continue;
    while (close_index_ < c.triggers.size()) {
      const TriggerIndex k = c.triggers[close_index_++];
      TriggerState& ts = state_[k];
      if (ts.groups.empty()) continue;
      const Trigger& t = set_->triggers()[k];
      Event ev;
      ev.trigger_id = t.id;
      ev.pipe = config_.pipe;
      ev.interval_start_ns = end_ns - c.interval_ns;
      ev.interval_ns = c.interval_ns;
      for (const auto& [group, sums] : ts.groups) {
        if (config_.export_partials) {
          ev.kind = EventKind::kPartial;
        } else if (t.predicate.Holds(t.predicate.Value(sums.v))) {
          ev.kind = EventKind::kFired;
        } else {
          continue;
        }
        ev.group = group;
        std::memcpy(ev.sums, sums.v, sizeof(ev.sums));
        Emit(ev);
      }
      // (absl frees a large table's array on clear(): the sweep, not the
      // packet path, pays for that allocation.)
      ts.groups.clear();
      --pending_groups_;
      if (out_of_time()) return false;
    }
  }
  if (config_.export_partials) {
    // Every epoch: the event manager learns how far this pipe is done.
    Event done;
    done.kind = EventKind::kPipeDone;
    done.pipe = config_.pipe;
    done.interval_start_ns = end_ns;
    Emit(done);
  }
  return true;
}

void Monitor::Emit(const Event& e) {
  if (rte_ring_sp_enqueue_elem(events_, const_cast<Event*>(&e), sizeof(Event)) == 0) {
    ++counters_.events;
  } else {
    ++counters_.events_lost;
  }
}

void Monitor::ExpireSome(unsigned count) {
  // A fixed share of the table per epoch (expire_quota_), walked in slot
  // order: a full pass takes about one idle timeout, and an idle pipe does
  // not spin over empty slots.
  const uint64_t now_ns = epoch_ * config_.epoch_ns;
  for (unsigned i = 0; i < count && expire_quota_ > 0; ++i, --expire_quota_) {
    const uint32_t slot = expire_cursor_;
    FlowEntry& f = entries_[slot];
    if (++expire_cursor_ == config_.flow_capacity) expire_cursor_ = 0;
    // Not in any epoch a sweep may still read (epoch_-1 or epoch_).
    if (f.in_use && f.last_epoch + 1 < epoch_ && f.last_ts + config_.idle_timeout_ns < now_ns) {
      RemoveFlow(slot);
      f.in_use = false;
      ++counters_.flows_expired;
    }
  }
}

}  // namespace softfino::trumpet
