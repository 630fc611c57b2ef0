// TernaryTable against a naive reference: a vector of entries scanned in
// full, the spec applied literally (a key matches when key & mask == value;
// the lowest priority value wins, then the entry added first).
#include "softfino/pipe/ternary_table.h"

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

struct Data {
  uint32_t value = 0;
  friend bool operator==(const Data&, const Data&) = default;
};

constexpr size_t kWidth = 4;
using K = Key<kWidth>;
using M = Mask<kWidth>;
using Table = TernaryTable<kWidth, Data>;
using Spec = TernarySpec<kWidth>;

struct NaiveTernary {
  struct Entry {
    Spec spec;
    uint64_t seq;
    Action<Data> action;
  };
  std::vector<Entry> entries;
  Action<Data> default_action;
  uint64_t next_seq = 0;

  static bool Same(const Spec& a, const Spec& b) {
    return a.value == b.value && a.mask == b.mask && a.priority == b.priority;
  }
  Entry* Find(const Spec& spec) {
    for (Entry& e : entries) {
      if (Same(e.spec, spec)) return &e;
    }
    return nullptr;
  }
  std::pair<bool, Action<Data>> Lookup(const K& key) const {
    const Entry* best = nullptr;
    for (const Entry& e : entries) {
      bool match = true;
      for (size_t i = 0; i < kWidth; ++i) {
        match &= (key.bytes[i] & e.spec.mask.bytes[i]) == e.spec.value.bytes[i];
      }
      if (!match) continue;
      if (best == nullptr || e.spec.priority < best->spec.priority ||
          (e.spec.priority == best->spec.priority && e.seq < best->seq)) {
        best = &e;
      }
    }
    return best == nullptr ? std::make_pair(false, default_action)
                           : std::make_pair(true, best->action);
  }
};

// Masks drawn from a fixed set of `masks` patterns, values with few distinct
// bits, priorities from a small range: overlaps, shadowing and ties abound.
struct Generator {
  std::mt19937 rng;
  std::vector<M> masks;
  explicit Generator(int seed, int n_masks) : rng(seed) {
    const uint8_t patterns[] = {0x00, 0xff, 0xf0, 0x0f, 0xc3};
    while (static_cast<int>(masks.size()) < n_masks) {
      M m;
      for (auto& b : m.bytes) b = patterns[rng() % 5];
      bool fresh = true;
      for (const M& x : masks) fresh &= !(x == m);
      if (fresh) masks.push_back(m);
    }
  }
  K RandomKey() {
    K k;
    for (auto& b : k.bytes) b = static_cast<uint8_t>(rng() % 3 * 0x55);  // 0x00, 0x55, 0xaa
    return k;
  }
  Spec RandomSpec() {
    Spec s;
    s.mask = masks[rng() % masks.size()];
    s.value = ApplyMask(RandomKey(), s.mask);
    s.priority = rng() % 8;
    return s;
  }
  Action<Data> RandomAction() {
    return {static_cast<uint16_t>(1 + rng() % 7), {static_cast<uint32_t>(rng())}};
  }
};

void ExpectSame(const Table::Result* got, const std::pair<bool, Action<Data>>& want, const K& key) {
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->hit, want.first) << ToHex(key);
  EXPECT_EQ(got->action_id, want.second.id) << ToHex(key);
  EXPECT_EQ(got->data, want.second.data) << ToHex(key);
}

std::unique_ptr<Table> NewTable(uint32_t size = 8192) {
  TableOptions options;
  options.name = "tern_test";
  options.size = size;
  return *Table::Create(options);
}

Spec S(uint32_t value, uint32_t mask, uint32_t priority) {
  return {MakeKey(field::U32(value)), MakeMask(field::U32(mask)), priority};
}
K Key32(uint32_t v) { return MakeKey(field::U32(v)); }

TEST(TernaryTable, LowestPriorityValueWinsThenFirstAdded) {
  auto t = NewTable();
  t->SetDefaultAction({9, {0}});
  EXPECT_FALSE(t->Lookup(Key32(0x0a000001))->hit);
  EXPECT_EQ(t->Lookup(Key32(0x0a000001))->action_id, 9);
  ASSERT_TRUE(t->Add(S(0x0a000000, 0xff000000, 20), {1, {1}}).ok());
  ASSERT_TRUE(t->Add(S(0x0a000000, 0xffff0000, 10), {2, {2}}).ok());
  ASSERT_TRUE(t->Add(S(0x0a000001, 0xffffffff, 30), {3, {3}}).ok());
  EXPECT_EQ(t->Lookup(Key32(0x0a000001))->action_id, 2);  // priority 10 beats 20 and 30
  EXPECT_EQ(t->Lookup(Key32(0x0a010001))->action_id, 1);
  // Equal priority, different masks: the entry added first wins.
  ASSERT_TRUE(t->Add(S(0x00000001, 0x000000ff, 10), {4, {4}}).ok());
  EXPECT_EQ(t->Lookup(Key32(0x0a000001))->action_id, 2);
  ASSERT_TRUE(t->Delete(S(0x0a000000, 0xffff0000, 10)).ok());
  EXPECT_EQ(t->Lookup(Key32(0x0a000001))->action_id, 4);
  // Same value and mask at another priority shadows, and re-emerges.
  ASSERT_TRUE(t->Add(S(0x00000001, 0x000000ff, 5), {5, {5}}).ok());
  EXPECT_EQ(t->Lookup(Key32(0x0b000001))->action_id, 5);
  ASSERT_TRUE(t->Delete(S(0x00000001, 0x000000ff, 5)).ok());
  EXPECT_EQ(t->Lookup(Key32(0x0b000001))->action_id, 4);
  ASSERT_TRUE(t->Modify(S(0x00000001, 0x000000ff, 10), {6, {6}}).ok());
  EXPECT_EQ(t->Lookup(Key32(0x0b000001))->action_id, 6);
  EXPECT_EQ(t->Lookup(Key32(0x0b000001))->data, (Data{6}));
}

TEST(TernaryTable, RefusesDuplicatesStrayBitsAndOverflowClearly) {
  auto t = NewTable(4);
  ASSERT_TRUE(t->Add(S(0x0a000000, 0xff000000, 1), {1, {}}).ok());
  const absl::Status dup = t->Add(S(0x0a000000, 0xff000000, 1), {2, {}}).status();
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(dup.message().find("entry (value 0a000000, mask ff000000, priority 1) already exists"),
            std::string::npos)
      << dup;
  EXPECT_TRUE(t->Add(S(0x0a000000, 0xff000000, 2), {2, {}}).ok());  // another priority
  const absl::Status stray = t->Add(S(0x0a000001, 0xff000000, 3), {2, {}}).status();
  EXPECT_EQ(stray.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(stray.message().find("has bits set outside mask ff000000; clear them"),
            std::string::npos)
      << stray;
  ASSERT_TRUE(t->Add(S(0, 0, 7), {3, {}}).ok());
  ASSERT_TRUE(t->Add(S(0, 0, 8), {3, {}}).ok());
  const absl::Status full = t->Add(S(0, 0, 9), {3, {}}).status();
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("is full (4 entries)"), std::string::npos) << full;
  EXPECT_EQ(t->Delete(S(0, 0, 9)).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t->Modify(S(0, 0, 9), {1, {}}).code(), absl::StatusCode::kNotFound);
}

void RunRandom(int n_masks, bool commit_each_round) {
  Generator gen(n_masks * 31 + commit_each_round, n_masks);
  auto t = NewTable();
  NaiveTernary naive;
  naive.default_action = {99, {99}};
  t->SetDefaultAction(naive.default_action);
  for (int round = 0; round < 6; ++round) {
    for (int op = 0; op < 1500; ++op) {
      const Spec spec = gen.RandomSpec();
      NaiveTernary::Entry* e = naive.Find(spec);
      const Action<Data> action = gen.RandomAction();
      const int kind = static_cast<int>(gen.rng() % 10);
      if (kind < 5) {
        const absl::Status s = t->Add(spec, action).status();
        if (e != nullptr) {
          ASSERT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
        } else {
          ASSERT_TRUE(s.ok()) << s;
          naive.entries.push_back({spec, naive.next_seq++, action});
        }
      } else if (kind < 7) {
        ASSERT_EQ(t->Modify(spec, action).ok(), e != nullptr);
        if (e != nullptr) e->action = action;
      } else {
        ASSERT_EQ(t->Delete(spec).ok(), e != nullptr);
        if (e != nullptr) naive.entries.erase(naive.entries.begin() + (e - naive.entries.data()));
      }
    }
    if (commit_each_round) {
      ASSERT_TRUE(t->Commit().ok());
    }
    ASSERT_EQ(t->size(), naive.entries.size());
    std::vector<K> keys(1000);
    for (auto& k : keys) k = gen.RandomKey();
    std::vector<const Table::Result*> bulk(keys.size());
    t->LookupBulk(keys.data(), bulk.data(), static_cast<unsigned>(keys.size()));
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto want = naive.Lookup(keys[i]);
      ExpectSame(t->Lookup(keys[i]), want, keys[i]);
      ExpectSame(bulk[i], want, keys[i]);
    }
  }
  EXPECT_GT(naive.entries.size(), 300u);
}

TEST(TernaryTable, MatchesNaiveReferenceWithFewMasks) { RunRandom(3, true); }
TEST(TernaryTable, MatchesNaiveReferenceWithManyMasks) { RunRandom(40, true); }
// Without Commit() the probe bounds go stale after deletions: lookups must
// still be exact.
TEST(TernaryTable, MatchesNaiveReferenceWithoutCommit) { RunRandom(12, false); }

// Groups big enough (>= 4096 values) for LookupBulk's group-wise path with
// prefetch; keys drawn so that several groups match at once.
TEST(TernaryTable, BulkLookupOnLargeGroupsMatchesNaiveReference) {
  std::mt19937 rng(77);
  auto t = NewTable(32768);
  NaiveTernary naive;
  const uint32_t masks[] = {0xffffffff, 0xffffff00, 0xffff0000, 0x00000000};
  auto key_value = [&] { return 0x0a000000u | (rng() % 0x8000) << 4 | (rng() % 4); };
  for (int i = 0; i < 16000; ++i) {
    const uint32_t mask = masks[i % 4 == 3 ? rng() % 4 : rng() % 2];
    const Spec spec = S(key_value() & mask, mask, static_cast<uint32_t>(rng() % 1000));
    const Action<Data> action{static_cast<uint16_t>(i), {static_cast<uint32_t>(i)}};
    if (t->Add(spec, action).ok()) naive.entries.push_back({spec, naive.next_seq++, action});
  }
  ASSERT_TRUE(t->Commit().ok());
  std::vector<K> keys(3000);
  for (auto& k : keys) k = Key32(key_value());
  std::vector<const Table::Result*> bulk(keys.size());
  t->LookupBulk(keys.data(), bulk.data(), static_cast<unsigned>(keys.size()));
  int hits = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto want = naive.Lookup(keys[i]);
    ExpectSame(bulk[i], want, keys[i]);
    ASSERT_EQ(t->Lookup(keys[i]), bulk[i]);
    hits += want.first;
  }
  EXPECT_GT(hits, 1000);
}

TEST(TernaryTable, CloneIsIndependent) {
  Generator gen(5, 10);
  auto t = NewTable();
  NaiveTernary naive;
  for (int i = 0; i < 2000; ++i) {
    const Spec spec = gen.RandomSpec();
    const Action<Data> a = gen.RandomAction();
    if (t->Add(spec, a).ok()) naive.entries.push_back({spec, naive.next_seq++, a});
  }
  auto clone = *t->Clone();
  NaiveTernary clone_naive = naive;
  for (int i = 0; i < 1500; ++i) {
    const Spec spec = gen.RandomSpec();
    NaiveTernary::Entry* e = clone_naive.Find(spec);
    if (e == nullptr) {
      const Action<Data> a = gen.RandomAction();
      ASSERT_TRUE(clone->Add(spec, a).ok());
      clone_naive.entries.push_back({spec, clone_naive.next_seq++, a});
    } else if (i % 2) {
      ASSERT_TRUE(clone->Delete(spec).ok());
      clone_naive.entries.erase(clone_naive.entries.begin() + (e - clone_naive.entries.data()));
    } else {
      e->action = {77, {static_cast<uint32_t>(i)}};
      ASSERT_TRUE(clone->Modify(spec, e->action).ok());
    }
  }
  ASSERT_TRUE(clone->Commit().ok());
  clone->SetDefaultAction({55, {}});
  clone_naive.default_action = {55, {}};
  for (int i = 0; i < 3000; ++i) {
    const K key = gen.RandomKey();
    ExpectSame(t->Lookup(key), naive.Lookup(key), key);
    ExpectSame(clone->Lookup(key), clone_naive.Lookup(key), key);
  }
}

TEST(TernaryTable, DirectCountersAndIdleTimeoutFollowEntriesAcrossVersions) {
  TableOptions options;
  options.name = "tern_state";
  options.size = 64;
  options.pipes = 2;
  options.direct_counters = true;
  options.idle_timeout = true;
  auto t = *Table::Create(options);
  const EntryHandle wide = *t->Add(S(0x0a000000, 0xff000000, 20), {1, {}}, 100);
  const EntryHandle narrow = *t->Add(S(0x0a000001, 0xffffffff, 10), {2, {}}, 100);
  constexpr uint64_t kMs = 1000000;
  t->SweepIdle(0, [](const Spec&, EntryHandle) { ADD_FAILURE(); });  // starts the idle clocks
  for (int i = 0; i < 3; ++i) {
    const Table::Result* r = t->Lookup(Key32(0x0a000001));
    t->cells(i % 2).Hit(r->handle, 100, 5 * kMs);
  }
  const Table::Result* r = t->Lookup(Key32(0x0a000002));
  t->cells(0).Hit(r->handle, 50, 5 * kMs);
  EXPECT_EQ(t->ReadCounter(narrow), (CounterValue{3, 300}));
  EXPECT_EQ(t->ReadCounter(wide), (CounterValue{1, 50}));

  auto v2 = *t->Clone();
  ASSERT_TRUE(v2->Modify(S(0x0a000001, 0xffffffff, 10), {3, {}}).ok());
  v2->cells(1).Hit(v2->Lookup(Key32(0x0a000001))->handle, 1, 150 * kMs);
  EXPECT_EQ(v2->ReadCounter(narrow), (CounterValue{4, 301}));
  std::vector<uint32_t> idle;
  v2->SweepIdle(120 * kMs, [&](const Spec& spec, EntryHandle h) {
    idle.push_back(spec.priority);
    EXPECT_EQ(h, wide);
  });
  EXPECT_EQ(idle, std::vector<uint32_t>{20});  // narrow was hit at 150
  idle.clear();
  v2->SweepIdle(250 * kMs, [&](const Spec& spec, EntryHandle) { idle.push_back(spec.priority); });
  EXPECT_EQ(idle, std::vector<uint32_t>{10});
}

TEST(TernaryTable, ConcurrentReadersSeeOnlyPublishedVersions) {
  constexpr int kVersions = 40;
  struct Version {
    std::unique_ptr<Table> table;
    NaiveTernary model;
  };
  std::vector<Version> versions;
  versions.reserve(kVersions);
  std::vector<const Table*> published(kVersions, nullptr);
  std::atomic<int> count{0};
  std::atomic<const Table*> current{nullptr};
  Generator gen(21, 16);
  versions.push_back({NewTable(), {}});
  for (int i = 0; i < 800; ++i) {
    const Spec spec = gen.RandomSpec();
    const Action<Data> a = gen.RandomAction();
    if (versions[0].table->Add(spec, a).ok()) {
      versions[0].model.entries.push_back({spec, versions[0].model.next_seq++, a});
    }
  }
  published[0] = versions[0].table.get();
  count.store(1, std::memory_order_release);
  current.store(published[0], std::memory_order_release);

  struct Sample {
    int version;
    K key;
    bool hit;
    uint16_t action;
    Data data;
  };
  std::atomic<bool> stop{false};
  auto reader = [&](int seed, std::vector<Sample>* samples) {
    Generator g(seed, 1);
    K keys[32];
    const Table::Result* results[32];
    while (!stop.load(std::memory_order_relaxed)) {
      const Table* t = current.load(std::memory_order_acquire);
      const int n = count.load(std::memory_order_acquire);
      int version = -1;
      for (int v = 0; v < n; ++v) {
        if (published[v] == t) version = v;
      }
      for (auto& k : keys) k = g.RandomKey();
      t->LookupBulk(keys, results, 32);
      for (int i = 0; i < 32; ++i) {
        if (t->Lookup(keys[i]) != results[i]) version = -2;
        if (samples->size() < 5000 && g.rng() % 8 == 0) {
          samples->push_back(
              {version, keys[i], results[i]->hit, results[i]->action_id, results[i]->data});
        }
      }
    }
  };
  std::vector<Sample> s1, s2;
  std::thread r1(reader, 1, &s1), r2(reader, 2, &s2);
  for (int v = 1; v < kVersions; ++v) {
    Version next{*versions[v - 1].table->Clone(), versions[v - 1].model};
    for (int i = 0; i < 60; ++i) {
      const Spec spec = gen.RandomSpec();
      NaiveTernary::Entry* e = next.model.Find(spec);
      const Action<Data> a = gen.RandomAction();
      if (e == nullptr) {
        ASSERT_TRUE(next.table->Add(spec, a).ok());
        next.model.entries.push_back({spec, next.model.next_seq++, a});
      } else if (i % 2) {
        ASSERT_TRUE(next.table->Delete(spec).ok());
        next.model.entries.erase(next.model.entries.begin() + (e - next.model.entries.data()));
      } else {
        ASSERT_TRUE(next.table->Modify(spec, a).ok());
        e->action = a;
      }
    }
    ASSERT_TRUE(next.table->Commit().ok());
    versions.push_back(std::move(next));
    published[v] = versions[v].table.get();
    count.store(v + 1, std::memory_order_release);
    current.store(published[v], std::memory_order_release);
    std::this_thread::yield();
  }
  stop = true;
  r1.join();
  r2.join();
  size_t checked = 0;
  for (const auto* samples : {&s1, &s2}) {
    for (const Sample& s : *samples) {
      ASSERT_GE(s.version, 0) << "a reader saw an unpublished table or bulk != single";
      const auto want = versions[s.version].model.Lookup(s.key);
      ASSERT_EQ(s.hit, want.first);
      ASSERT_EQ(s.action, want.second.id);
      ASSERT_EQ(s.data, want.second.data);
      ++checked;
    }
  }
  EXPECT_GT(checked, 500u);
}

}  // namespace
}  // namespace softfino::pipe
