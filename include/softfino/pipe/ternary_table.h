// Ternary match with priority (P4 `ternary` match kind, TNA semantics).
//
// Each entry has a value, a mask and a priority. A key matches an entry when
// (key & mask) == value. Among the matching entries the one with the lowest
// priority value wins ($MATCH_PRIORITY as bfrt defines it); among equal
// priorities, the one added first (EntryRank). An entry is named by its
// (value, mask, priority): adding the same triple twice is refused. Value
// bits outside the mask are refused too (they could never match as written,
// and P4Runtime refuses them for the same reason).
//
// Structure: tuple-space search. Entries are grouped by mask; each group is
// a hash table from masked value to the best entry with that (mask, value).
// A lookup probes the groups in order of their best rank and stops as soon as
// the next group's best rank cannot beat the match in hand, so a table whose
// high-priority entries share a few masks rarely probes them all.
//
// Per-group hash: absl::flat_hash_map (CRC32C hash, entry inline), not
// rte_hash. Each probe is one exact lookup on the masked key, so the exact
// table's measurements decide it (exact_table.h: 4 vs 22 ns a lookup at 1K
// entries, 8 vs 53 ns at 64K; 54 vs 146 ms to clone 1M). rte_hash would also
// need every group sized for the whole table, since how entries spread over
// masks is not known in advance: masks x size slots.
//
// Cost (bench/table_bench.cpp, 13-byte 5-tuple keys, masks from address
// prefixes and exact-or-any proto and ports, ns per lookup, best of 7 on a
// shared VM, +-20%):
//
//   masks x entries           8 x 1K   32 x 1K   8 x 64K   32 x 64K
//   random priorities, single   57       162        69        235
//   priorities by mask, single  40       100        47         21
//
// With random priorities early exit rarely fires and a lookup costs about
// one probe (5-9 ns) per mask; when priorities follow the masks, as in ACLs
// that put specific rules first, it stops after the first groups. Bulk
// lookups prefetch per group only where groups outgrow the cache: 8-20%
// faster than one by one at 64K-256K entries, no faster below. A table with
// many masks and random priorities would do better on rte_acl (flat ~20 ns
// a lookup in a burst, see range_table.h), at the price of a rebuild per
// commit.
//
// Deleting a group's best entry leaves the group's bound optimistic (still a
// lower bound, so lookups stay exact, only probing more); Commit() tightens
// the bounds and re-sorts the groups.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "softfino/pipe/table_key.h"

namespace softfino::pipe {

template <size_t N>
struct TernarySpec {
  Key<N> value;
  Mask<N> mask;
  uint32_t priority = 0;  // lower value = higher priority
};

template <size_t N, typename Data>
class TernaryTable {
  static_assert(kIsActionData<Data>,
                "action data must be trivially copyable and at most kMaxActionDataBytes");

 public:
  using KeyType = Key<N>;
  using Spec = TernarySpec<N>;
  using Result = MatchResult<Data>;

  static absl::StatusOr<std::unique_ptr<TernaryTable>> Create(const TableOptions& options) {
    absl::StatusOr<std::shared_ptr<EntryStates>> states = EntryStates::Create(options);
    if (!states.ok()) return states.status();
    return std::unique_ptr<TernaryTable>(new TernaryTable(*std::move(states)));
  }
  ~TernaryTable() {
    const std::vector<EntryHandle> handles = Handles();
    states_->Unref(handles.data(), handles.size());
  }
  TernaryTable(const TernaryTable&) = delete;
  TernaryTable& operator=(const TernaryTable&) = delete;

  // --- Control path -------------------------------------------------------

  absl::StatusOr<EntryHandle> Add(const Spec& spec, const Action<Data>& action,
                                  uint32_t ttl_ms = 0) {
    if (absl::Status s = states_->CheckTtl(ttl_ms); !s.ok()) return s;
    if (HasBitsOutsideMask(spec.value, spec.mask)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table '", name(), "': value ", ToHex(spec.value), " has bits set outside mask ",
          ToHex(spec.mask), "; clear them (value & mask)"));
    }
    const ValueMask vm{spec.value, spec.mask};
    auto list_it = records_.find(vm);
    if (list_it != records_.end() && FindRecord(list_it->second, spec.priority) != nullptr) {
      return absl::AlreadyExistsError(absl::StrCat("table '", name(), "': entry ", Describe(spec),
                                                   " already exists; modify it instead"));
    }
    if (size_ >= capacity()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("table '", name(), "' is full (", capacity(),
                       " entries): delete entries or declare the table with a larger size"));
    }
    absl::StatusOr<EntryHandle> handle = states_->Acquire();
    if (!handle.ok()) return handle.status();
    if (list_it == records_.end()) list_it = records_.try_emplace(vm).first;
    RecordList& list = list_it->second;
    const Record record{{spec.priority, next_seq_++}, *handle, ttl_ms, action};
    // The newest entry loses ties, so it goes after every equal priority.
    auto pos = std::upper_bound(list.begin(), list.end(), record.rank,
                                [](const EntryRank& r, const Record& x) { return r < x.rank; });
    const bool front = pos == list.begin();
    list.insert(pos, record);
    ++size_;
    if (front) SetSlot(spec.mask, spec.value, record);
    return *handle;
  }

  absl::Status Modify(const Spec& spec, const Action<Data>& action) {
    Record* record = Find(spec);
    if (record == nullptr) return NotFound(spec);
    record->action = action;
    Slot* slot = FindSlot(spec.mask, spec.value);
    if (slot->result.handle == record->handle) {
      slot->result.action_id = action.id;
      slot->result.data = action.data;
    }
    return absl::OkStatus();
  }

  absl::Status SetTtl(const Spec& spec, uint32_t ttl_ms) {
    if (absl::Status s = states_->CheckTtl(ttl_ms); !s.ok()) return s;
    Record* record = Find(spec);
    if (record == nullptr) return NotFound(spec);
    record->ttl_ms = ttl_ms;
    return absl::OkStatus();
  }

  absl::Status Delete(const Spec& spec) {
    const ValueMask vm{spec.value, spec.mask};
    auto list_it = records_.find(vm);
    Record* record =
        list_it == records_.end() ? nullptr : FindRecord(list_it->second, spec.priority);
    if (record == nullptr) return NotFound(spec);
    RecordList& list = list_it->second;
    const bool front = record == &list.front();
    const EntryRank rank = record->rank;
    const EntryHandle handle = record->handle;
    list.erase(list.begin() + (record - list.data()));
    --size_;
    states_->Unref(&handle, 1);
    if (!front) return absl::OkStatus();

    auto group_it = FindGroup(spec.mask);
    Group& group = *group_it;
    if (list.empty()) {
      records_.erase(list_it);
      group.slots.erase(spec.value);
      if (group.slots.empty()) {
        groups_.erase(group_it);
        return absl::OkStatus();
      }
    } else {
      group.slots[spec.value] = MakeSlot(list.front());
    }
    // The group's best may have gone: its bound stays as a lower bound.
    if (rank == group.bound) group.stale = true;
    return absl::OkStatus();
  }

  absl::StatusOr<Result> Get(const Spec& spec) const {
    auto it = records_.find(ValueMask{spec.value, spec.mask});
    const Record* record = nullptr;
    if (it != records_.end()) {
      for (const Record& r : it->second) {
        if (r.rank.priority == spec.priority) record = &r;
      }
    }
    if (record == nullptr) return NotFound(spec);
    return Result{record->action.id, true, record->handle, record->action.data};
  }

  void SetDefaultAction(const Action<Data>& action) {
    default_.action_id = action.id;
    default_.data = action.data;
  }
  const Result& default_result() const { return default_; }

  // Tightens the probe bounds after deletions and re-sorts the groups. Not
  // needed for correct lookups, only for fast ones: call it after a batch.
  absl::Status Commit() {
    for (Group& group : groups_) {
      if (!group.stale) continue;
      group.bound = group.slots.begin()->second.rank;
      for (const auto& [value, slot] : group.slots) group.bound = std::min(group.bound, slot.rank);
      group.stale = false;
    }
    std::stable_sort(groups_.begin(), groups_.end(),
                     [](const Group& a, const Group& b) { return a.bound < b.bound; });
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<TernaryTable>> Clone() const {
    std::unique_ptr<TernaryTable> copy(new TernaryTable(states_));
    copy->records_ = records_;
    copy->groups_ = groups_;
    copy->default_ = default_;
    copy->size_ = size_;
    copy->next_seq_ = next_seq_;
    const std::vector<EntryHandle> handles = Handles();
    states_->Ref(handles.data(), handles.size());
    return copy;
  }

  // Calls f(const Spec&, const Action<Data>&, EntryHandle) for every entry.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [vm, list] : records_) {
      for (const Record& r : list) f(Spec{vm.value, vm.mask, r.rank.priority}, r.action, r.handle);
    }
  }

  size_t size() const { return size_; }
  uint32_t capacity() const { return states_->options().size; }
  size_t mask_count() const { return groups_.size(); }
  const std::string& name() const { return states_->name(); }

  // --- Direct counters and idle timeout -----------------------------------

  DirectCells cells(uint16_t pipe) const { return states_->cells(pipe); }
  CounterValue ReadCounter(EntryHandle handle) const { return states_->ReadCounter(handle); }
  void ClearCounter(EntryHandle handle) { states_->ClearCounter(handle); }

  // Calls on_idle(const Spec&, EntryHandle) for each entry idle for longer
  // than its TTL, once per idle period.
  template <typename F>
  void SweepIdle(uint64_t now_ns, F&& on_idle) const {
    if (!states_->options().idle_timeout) return;
    for (const auto& [vm, list] : records_) {
      for (const Record& r : list) {
        if (states_->CheckIdle(r.handle, r.ttl_ms, now_ns)) {
          on_idle(Spec{vm.value, vm.mask, r.rank.priority}, r.handle);
        }
      }
    }
  }

  // --- Fast path ----------------------------------------------------------

  const Result* Lookup(const Key<N>& key) const {
    const Slot* best = nullptr;
    for (const Group& group : groups_) {
      // Groups are sorted by bound: once one cannot win, none after can.
      if (best != nullptr && !(group.bound < best->rank)) break;
      auto it = group.slots.find(ApplyMask(key, group.mask));
      if (it != group.slots.end() && (best == nullptr || it->second.rank < best->rank)) {
        best = &it->second;
      }
    }
    return best == nullptr ? &default_ : &best->result;
  }

  // With a group too big for the cache, probes group by group for the whole
  // burst, dropping keys whose match can no longer be beaten, with a
  // prefetch pass per large group so that the burst's misses overlap. With
  // only small groups (all in cache) that bookkeeping costs more than it
  // saves (measured 5-25% slower at 1K entries), so it looks up key by key.
  void LookupBulk(const Key<N>* keys, const Result** results, unsigned n) const {
    constexpr unsigned kChunk = 32;
    constexpr size_t kPrefetchMinSlots = 4096;
    bool large = false;
    for (const Group& group : groups_) large |= group.slots.size() >= kPrefetchMinSlots;
    if (!large) {
      for (unsigned i = 0; i < n; ++i) results[i] = Lookup(keys[i]);
      return;
    }
    for (unsigned base = 0; base < n; base += kChunk) {
      const unsigned m = std::min(kChunk, n - base);
      const Key<N>* k = keys + base;
      const Slot* best[kChunk];
      uint8_t active[kChunk];
      Key<N> masked[kChunk];
      unsigned n_active = m;
      for (unsigned i = 0; i < m; ++i) best[i] = nullptr, active[i] = static_cast<uint8_t>(i);
      for (const Group& group : groups_) {
        unsigned kept = 0;
        for (unsigned j = 0; j < n_active; ++j) {
          const unsigned i = active[j];
          if (best[i] == nullptr || group.bound < best[i]->rank)
            active[kept++] = static_cast<uint8_t>(i);
        }
        n_active = kept;
        if (n_active == 0) break;
        for (unsigned j = 0; j < n_active; ++j) masked[j] = ApplyMask(k[active[j]], group.mask);
        if (group.slots.size() >= kPrefetchMinSlots) {
          for (unsigned j = 0; j < n_active; ++j) group.slots.prefetch(masked[j]);
        }
        for (unsigned j = 0; j < n_active; ++j) {
          auto it = group.slots.find(masked[j]);
          const unsigned i = active[j];
          if (it != group.slots.end() && (best[i] == nullptr || it->second.rank < best[i]->rank)) {
            best[i] = &it->second;
          }
        }
      }
      for (unsigned i = 0; i < m; ++i) {
        results[base + i] = best[i] == nullptr ? &default_ : &best[i]->result;
      }
    }
  }

 private:
  struct ValueMask {
    Key<N> value;
    Mask<N> mask;
    friend bool operator==(const ValueMask&, const ValueMask&) = default;
  };
  struct ValueMaskHash {
    size_t operator()(const ValueMask& vm) const {
      return HashKeyBytes(vm.value.bytes, N) ^ (HashKeyBytes(vm.mask.bytes, N) >> 1);
    }
  };
  struct Record {
    EntryRank rank;
    EntryHandle handle;
    uint32_t ttl_ms;
    Action<Data> action;
  };
  // Entries sharing a (value, mask), best first; almost always just one.
  using RecordList = absl::InlinedVector<Record, 1>;

  struct Slot {
    EntryRank rank;
    Result result;
  };
  struct Group {
    Mask<N> mask;
    EntryRank bound;     // <= the best rank in `slots`; equal unless stale
    bool stale = false;  // the best was deleted since the last Commit()
    absl::flat_hash_map<Key<N>, Slot, KeyHash> slots;
  };

  explicit TernaryTable(std::shared_ptr<EntryStates> states) : states_(std::move(states)) {
    default_.handle = states_->default_handle();
  }

  static Slot MakeSlot(const Record& r) {
    return Slot{r.rank, Result{r.action.id, true, r.handle, r.action.data}};
  }

  static Record* FindRecord(RecordList& list, uint32_t priority) {
    for (Record& r : list) {
      if (r.rank.priority == priority) return &r;
    }
    return nullptr;
  }
  Record* Find(const Spec& spec) {
    auto it = records_.find(ValueMask{spec.value, spec.mask});
    return it == records_.end() ? nullptr : FindRecord(it->second, spec.priority);
  }

  typename std::vector<Group>::iterator FindGroup(const Mask<N>& mask) {
    return std::find_if(groups_.begin(), groups_.end(),
                        [&](const Group& g) { return g.mask == mask; });
  }
  Slot* FindSlot(const Mask<N>& mask, const Key<N>& value) {
    return &FindGroup(mask)->slots.find(value)->second;
  }

  // Makes `record` the entry that (mask, value) answers with. Its rank can
  // only improve the group's bound, so the group moves towards the front.
  void SetSlot(const Mask<N>& mask, const Key<N>& value, const Record& record) {
    auto it = FindGroup(mask);
    if (it == groups_.end()) {
      Group group;
      group.mask = mask;
      group.bound = record.rank;
      it = groups_.insert(groups_.end(), std::move(group));
    }
    it->slots[value] = MakeSlot(record);
    if (record.rank < it->bound) it->bound = record.rank;
    // Bubble towards the front while the previous group's bound is worse.
    while (it != groups_.begin() && it->bound < std::prev(it)->bound) {
      std::iter_swap(it, std::prev(it));
      --it;
    }
  }

  std::vector<EntryHandle> Handles() const {
    std::vector<EntryHandle> handles;
    handles.reserve(size_);
    for (const auto& [vm, list] : records_) {
      for (const Record& r : list) handles.push_back(r.handle);
    }
    return handles;
  }

  std::string Describe(const Spec& spec) const {
    return absl::StrCat("(value ", ToHex(spec.value), ", mask ", ToHex(spec.mask), ", priority ",
                        spec.priority, ")");
  }
  absl::Status NotFound(const Spec& spec) const {
    return absl::NotFoundError(absl::StrCat("table '", name(), "' has no entry ", Describe(spec)));
  }

  std::shared_ptr<EntryStates> states_;
  // Control side: every entry, by (value, mask).
  absl::flat_hash_map<ValueMask, RecordList, ValueMaskHash> records_;
  // Fast path: one group per distinct mask, sorted by bound.
  std::vector<Group> groups_;
  Result default_;
  size_t size_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace softfino::pipe
