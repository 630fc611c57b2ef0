// Range match with priority (P4 `range` match kind, e.g. L4 port ranges),
// mixed with exact fields, TNA semantics.
//
// The key's fields are declared once (MatchField: exact or range, width in
// bytes). An entry gives, per field, [low, high] (an exact field: low ==
// high) and a priority. A key matches when every field lies in its range;
// the lowest priority value wins, ties go to the entry added first
// (EntryRank); the same (low, high, priority) twice is refused.
//
// Structure, chosen by measurement (bench/table_bench.cpp; a 5-byte key of
// proto exact + two 16-bit port ranges; ns per lookup, best of 7 on a shared
// VM, +-20%; "all misses" makes a scan read every entry, its worst case):
//
//   entries                  8     16    32    64    256   1K    64K
//   scan, single (hits)      18    20    22    14    11    -     -
//   scan, all misses         8     10    16    35    112   -     -
//   rte_acl, single          61    60    61    64    59    62    62
//   rte_acl, all misses      42    39    39    39    40    -     -
//   rte_acl, bulk of 32      21    21    21    19    20    20    19
//   Commit() (rte_acl build) -     -     -     -     -     4.6   324 ms
//
// rte_acl (DPDK's multi-bit trie classifier, SIMD over a burst) costs the
// same from 8 to 64K entries; a scan grows linearly (tens of microseconds at
// 64K). Interval splitting with per-interval bitmaps costs O(entries^2) bits
// per field (~1 GB at 64K). rte_acl cannot be changed once built and costs
// ~60 ns for a lone key, so tables of up to kScanMaxEntries (32) entries use
// a scan over the entries in rank order (first match wins) instead: at 32
// entries its worst case (16-22 ns) matches rte_acl in a burst and beats it
// alone, and it builds in microseconds.
//
// Both are rebuilt from the entry list by Commit(): Add/Modify/Delete change
// the list only, and lookups see the last committed rule set. The built
// index is immutable and shared by clones, so Clone() copies the list only.
// Range fields must be 1, 2 or 4 bytes wide (rte_acl's field widths).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "softfino/pipe/table_key.h"

struct rte_acl_ctx;

namespace softfino::pipe {

enum class MatchKind : uint8_t { kExact, kRange };

struct MatchField {
  MatchKind kind;
  uint8_t width;  // bytes
};

template <size_t N>
struct RangeSpec {
  Key<N> low;             // per field: the low end of the range (an exact field: its value)
  Key<N> high;            // per field: the high end (an exact field: the same value)
  uint32_t priority = 0;  // lower value = higher priority
};

// Where a range table's fields lie in its key. Control path but for
// RangeValue, which the linear scan calls per packet.
class RangeKeyLayout {
 public:
  static constexpr size_t kMaxRangeFields = 8;
  static constexpr size_t kMaxKeyWidth = 64;

  static absl::StatusOr<RangeKeyLayout> Create(absl::string_view table, size_t key_width,
                                               const std::vector<MatchField>& fields);

  size_t key_width() const { return key_width_; }
  size_t range_count() const { return range_count_; }
  // 0xff for each byte of an exact field, 0 for range bytes.
  const std::vector<uint8_t>& exact_mask() const { return exact_mask_; }
  // Bytes of padding between rte_acl's one-byte first field and the key, so
  // that no range field straddles one of rte_acl's 4-byte input groups.
  uint8_t acl_shift() const { return acl_shift_; }

  // Range field `i` of `key` as a host-order number.
  uint32_t RangeValue(const uint8_t* key, size_t i) const {
    const uint8_t* p = key + ranges_[i].offset;
    switch (ranges_[i].width) {
      case 1:
        return p[0];
      case 2:
        return uint32_t{p[0]} << 8 | p[1];
      default:
        return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
    }
  }
  bool IsRangeStart(size_t offset, uint8_t* width) const;

  // Exact fields need low == high, range fields low <= high.
  absl::Status CheckSpec(absl::string_view table, const uint8_t* low, const uint8_t* high) const;

 private:
  struct RangeField {
    uint16_t offset;
    uint8_t width;
  };
  size_t key_width_ = 0;
  std::vector<MatchField> fields_;
  std::array<RangeField, kMaxRangeFields> ranges_{};
  size_t range_count_ = 0;
  std::vector<uint8_t> exact_mask_;
  uint8_t acl_shift_ = 0;
};

// rte_acl over a RangeKeyLayout: one rule per entry, rule i being the i-th
// best, so the highest rte_acl priority is the best entry.
class RangeAcl {
 public:
  // `lows`/`highs`: n keys of layout.key_width() bytes each, in rank order.
  static absl::StatusOr<std::unique_ptr<RangeAcl>> Build(absl::string_view table,
                                                         const RangeKeyLayout& layout,
                                                         const uint8_t* lows, const uint8_t* highs,
                                                         size_t n);
  ~RangeAcl();
  RangeAcl(const RangeAcl&) = delete;
  RangeAcl& operator=(const RangeAcl&) = delete;

  // results[i]: rank index of the best entry matching key i, or -1. `keys`:
  // n keys of key_width bytes each, contiguous. One call per burst.
  void Classify(const uint8_t* keys, unsigned n, int32_t* results) const;

 private:
  RangeAcl(rte_acl_ctx* ctx, size_t key_width, uint8_t shift)
      : ctx_(ctx), key_width_(key_width), shift_(shift) {}
  rte_acl_ctx* ctx_;
  size_t key_width_;
  uint8_t shift_;
};

// `ScanMaxEntries`: up to this many entries a scan beats rte_acl (see the
// top of the file); a parameter only so that benchmarks can move it.
template <size_t N, typename Data, size_t ScanMaxEntries = 32>
class RangeTable {
  static_assert(kIsActionData<Data>,
                "action data must be trivially copyable and at most kMaxActionDataBytes");
  static_assert(N <= RangeKeyLayout::kMaxKeyWidth, "range table keys are at most 64 bytes");

 public:
  using KeyType = Key<N>;
  using Spec = RangeSpec<N>;
  using Result = MatchResult<Data>;
  static constexpr size_t kScanMaxEntries = ScanMaxEntries;

  static absl::StatusOr<std::unique_ptr<RangeTable>> Create(const TableOptions& options,
                                                            const std::vector<MatchField>& fields) {
    absl::StatusOr<RangeKeyLayout> layout = RangeKeyLayout::Create(options.name, N, fields);
    if (!layout.ok()) return layout.status();
    absl::StatusOr<std::shared_ptr<EntryStates>> states = EntryStates::Create(options);
    if (!states.ok()) return states.status();
    auto shared_layout = std::make_shared<const RangeKeyLayout>(*std::move(layout));
    std::unique_ptr<RangeTable> table(new RangeTable(*std::move(states), std::move(shared_layout)));
    table->index_ = std::make_shared<const Index>(table->states_);
    return table;
  }
  ~RangeTable() {
    const std::vector<EntryHandle> handles = Handles();
    states_->Unref(handles.data(), handles.size());
  }
  RangeTable(const RangeTable&) = delete;
  RangeTable& operator=(const RangeTable&) = delete;

  // --- Control path (changes take effect at Commit()) ---------------------

  absl::StatusOr<EntryHandle> Add(const Spec& spec, const Action<Data>& action,
                                  uint32_t ttl_ms = 0) {
    if (absl::Status s = states_->CheckTtl(ttl_ms); !s.ok()) return s;
    if (absl::Status s = layout_->CheckSpec(name(), spec.low.bytes, spec.high.bytes); !s.ok()) {
      return s;
    }
    const SpecKey key{spec.low, spec.high, spec.priority};
    if (records_.contains(key)) {
      return absl::AlreadyExistsError(absl::StrCat("table '", name(), "': entry ", Describe(spec),
                                                   " already exists; modify it instead"));
    }
    if (records_.size() >= capacity()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("table '", name(), "' is full (", capacity(),
                       " entries): delete entries or declare the table with a larger size"));
    }
    absl::StatusOr<EntryHandle> handle = states_->Acquire();
    if (!handle.ok()) return handle.status();
    records_.emplace(key, Record{{spec.priority, next_seq_++}, *handle, ttl_ms, action});
    dirty_ = true;
    return *handle;
  }

  absl::Status Modify(const Spec& spec, const Action<Data>& action) {
    auto it = records_.find(SpecKey{spec.low, spec.high, spec.priority});
    if (it == records_.end()) return NotFound(spec);
    it->second.action = action;
    dirty_ = true;
    return absl::OkStatus();
  }

  absl::Status SetTtl(const Spec& spec, uint32_t ttl_ms) {
    if (absl::Status s = states_->CheckTtl(ttl_ms); !s.ok()) return s;
    auto it = records_.find(SpecKey{spec.low, spec.high, spec.priority});
    if (it == records_.end()) return NotFound(spec);
    it->second.ttl_ms = ttl_ms;
    return absl::OkStatus();
  }

  absl::Status Delete(const Spec& spec) {
    auto it = records_.find(SpecKey{spec.low, spec.high, spec.priority});
    if (it == records_.end()) return NotFound(spec);
    const EntryHandle handle = it->second.handle;
    records_.erase(it);
    states_->Unref(&handle, 1);
    dirty_ = true;
    return absl::OkStatus();
  }

  // The entry as the control plane last set it (committed or not).
  absl::StatusOr<Result> Get(const Spec& spec) const {
    auto it = records_.find(SpecKey{spec.low, spec.high, spec.priority});
    if (it == records_.end()) return NotFound(spec);
    const Record& r = it->second;
    return Result{r.action.id, true, r.handle, r.action.data};
  }

  // Takes effect at once (it lives in the version, not in the index).
  void SetDefaultAction(const Action<Data>& action) {
    default_.action_id = action.id;
    default_.data = action.data;
  }
  const Result& default_result() const { return default_; }

  // Rebuilds the lookup index from the entries: microseconds for a scan
  // table, ~5 ms for 1K entries and ~0.3 s for 64K with rte_acl. On error
  // (rte_acl out of memory) the table keeps its previous index.
  absl::Status Commit() {
    if (!dirty_) return absl::OkStatus();
    std::vector<const std::pair<const SpecKey, Record>*> order;
    order.reserve(records_.size());
    for (const auto& entry : records_) order.push_back(&entry);
    std::sort(order.begin(), order.end(),
              [](const auto* a, const auto* b) { return a->second.rank < b->second.rank; });

    auto index = std::make_shared<Index>(states_);
    const size_t n = order.size();
    const size_t r = layout_->range_count();
    index->results.reserve(n);
    index->handles.reserve(n);
    for (const auto* entry : order) {
      const Record& rec = entry->second;
      index->results.push_back(Result{rec.action.id, true, rec.handle, rec.action.data});
      index->handles.push_back(rec.handle);
    }
    if (n <= kScanMaxEntries) {
      index->exact.reserve(n);
      index->bounds.reserve(n * 2 * r);
      for (const auto* entry : order) {
        const SpecKey& key = entry->first;
        index->exact.push_back(ApplyMask(key.low, exact_mask_));
        for (size_t f = 0; f < r; ++f) {
          index->bounds.push_back(layout_->RangeValue(key.low.bytes, f));
          index->bounds.push_back(layout_->RangeValue(key.high.bytes, f));
        }
      }
    } else {
      std::vector<Key<N>> lows, highs;
      lows.reserve(n);
      highs.reserve(n);
      for (const auto* entry : order) {
        lows.push_back(entry->first.low);
        highs.push_back(entry->first.high);
      }
      absl::StatusOr<std::unique_ptr<RangeAcl>> acl =
          RangeAcl::Build(name(), *layout_, lows[0].bytes, highs[0].bytes, n);
      if (!acl.ok()) return acl.status();
      index->acl = *std::move(acl);
    }
    states_->Ref(index->handles.data(), index->handles.size());
    index_ = std::move(index);
    dirty_ = false;
    return absl::OkStatus();
  }
  bool committed() const { return !dirty_; }

  absl::StatusOr<std::unique_ptr<RangeTable>> Clone() const {
    std::unique_ptr<RangeTable> copy(new RangeTable(states_, layout_));
    copy->records_ = records_;
    copy->index_ = index_;
    copy->default_ = default_;
    copy->next_seq_ = next_seq_;
    copy->dirty_ = dirty_;
    const std::vector<EntryHandle> handles = Handles();
    states_->Ref(handles.data(), handles.size());
    return copy;
  }

  // Calls f(const Spec&, const Action<Data>&, EntryHandle) for every entry.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [key, r] : records_)
      f(Spec{key.low, key.high, key.priority}, r.action, r.handle);
  }

  size_t size() const { return records_.size(); }
  uint32_t capacity() const { return states_->options().size; }
  const std::string& name() const { return states_->name(); }
  // Whether the committed index is rte_acl (else a scan).
  bool uses_acl() const { return index_->acl != nullptr; }

  // --- Direct counters and idle timeout -----------------------------------

  DirectCells cells(uint16_t pipe) const { return states_->cells(pipe); }
  CounterValue ReadCounter(EntryHandle handle) const { return states_->ReadCounter(handle); }
  void ClearCounter(EntryHandle handle) { states_->ClearCounter(handle); }

  template <typename F>
  void SweepIdle(uint64_t now_ns, F&& on_idle) const {
    if (!states_->options().idle_timeout) return;
    for (const auto& [key, r] : records_) {
      if (states_->CheckIdle(r.handle, r.ttl_ms, now_ns)) {
        on_idle(Spec{key.low, key.high, key.priority}, r.handle);
      }
    }
  }

  // --- Fast path ----------------------------------------------------------

  const Result* Lookup(const Key<N>& key) const {
    const Index& index = *index_;
    int32_t i;
    if (index.acl == nullptr) {
      i = Scan(index, key);
    } else {
      index.acl->Classify(key.bytes, 1, &i);
    }
    return i < 0 ? &default_ : &index.results[i];
  }

  void LookupBulk(const Key<N>* keys, const Result** results, unsigned n) const {
    const Index& index = *index_;
    if (index.acl == nullptr) {
      for (unsigned i = 0; i < n; ++i) {
        const int32_t found = Scan(index, keys[i]);
        results[i] = found < 0 ? &default_ : &index.results[found];
      }
      return;
    }
    static_assert(sizeof(Key<N>) == N, "keys must be contiguous bytes");
    constexpr unsigned kChunk = 64;
    int32_t found[kChunk];
    for (unsigned base = 0; base < n; base += kChunk) {
      const unsigned m = std::min(kChunk, n - base);
      index.acl->Classify(keys[base].bytes, m, found);
      for (unsigned i = 0; i < m; ++i) {
        results[base + i] = found[i] < 0 ? &default_ : &index.results[found[i]];
      }
    }
  }

 private:
  struct SpecKey {
    Key<N> low;
    Key<N> high;
    uint32_t priority;
    friend bool operator==(const SpecKey&, const SpecKey&) = default;
  };
  struct SpecKeyHash {
    size_t operator()(const SpecKey& k) const {
      return HashKeyBytes(k.low.bytes, N) ^ (HashKeyBytes(k.high.bytes, N) >> 1) ^ k.priority;
    }
  };
  struct Record {
    EntryRank rank;
    EntryHandle handle;
    uint32_t ttl_ms;
    Action<Data> action;
  };

  // The committed lookup structure; immutable, shared by the versions made
  // from it. It holds its entries' handles, so that a version published
  // without Commit() still never counts into a reused handle.
  struct Index {
    explicit Index(std::shared_ptr<EntryStates> s) : states(std::move(s)) {}
    ~Index() { states->Unref(handles.data(), handles.size()); }
    std::shared_ptr<EntryStates> states;
    std::vector<EntryHandle> handles;
    std::vector<Result> results;  // in rank order
    // Scan: exact bytes of each entry, then [low, high] of each range field.
    std::vector<Key<N>> exact;
    std::vector<uint32_t> bounds;
    std::unique_ptr<RangeAcl> acl;
  };

  RangeTable(std::shared_ptr<EntryStates> states, std::shared_ptr<const RangeKeyLayout> layout)
      : states_(std::move(states)), layout_(std::move(layout)) {
    default_.handle = states_->default_handle();
    std::copy(layout_->exact_mask().begin(), layout_->exact_mask().end(), exact_mask_.bytes);
  }

  // First entry (in rank order) whose exact bytes equal the key's and whose
  // ranges all hold it. `v - low <= high - low` tests low <= v <= high with
  // one unsigned compare.
  int32_t Scan(const Index& index, const Key<N>& key) const {
    const Key<N> exact = ApplyMask(key, exact_mask_);
    const size_t r = layout_->range_count();
    uint32_t v[RangeKeyLayout::kMaxRangeFields];
    for (size_t f = 0; f < r; ++f) v[f] = layout_->RangeValue(key.bytes, f);
    const size_t n = index.exact.size();
    for (size_t i = 0; i < n; ++i) {
      if (!(index.exact[i] == exact)) continue;
      const uint32_t* b = &index.bounds[i * 2 * r];
      bool in = true;
      for (size_t f = 0; f < r; ++f) in &= v[f] - b[2 * f] <= b[2 * f + 1] - b[2 * f];
      if (in) return static_cast<int32_t>(i);
    }
    return -1;
  }

  std::vector<EntryHandle> Handles() const {
    std::vector<EntryHandle> handles;
    handles.reserve(records_.size());
    for (const auto& [key, r] : records_) handles.push_back(r.handle);
    return handles;
  }

  std::string Describe(const Spec& spec) const {
    return absl::StrCat("(low ", ToHex(spec.low), ", high ", ToHex(spec.high), ", priority ",
                        spec.priority, ")");
  }
  absl::Status NotFound(const Spec& spec) const {
    return absl::NotFoundError(absl::StrCat("table '", name(), "' has no entry ", Describe(spec)));
  }

  std::shared_ptr<EntryStates> states_;
  std::shared_ptr<const RangeKeyLayout> layout_;
  Mask<N> exact_mask_;
  absl::flat_hash_map<SpecKey, Record, SpecKeyHash> records_;
  std::shared_ptr<const Index> index_;
  Result default_;
  uint64_t next_seq_ = 0;
  bool dirty_ = false;
};

}  // namespace softfino::pipe
