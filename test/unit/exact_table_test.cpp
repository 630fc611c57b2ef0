// ExactTable against a naive reference (a std::map from key to action, the
// spec applied literally), plus the per-entry state (direct counters, idle
// timeout) and copy-on-write versions read by concurrent workers.
#include "softfino/pipe/exact_table.h"

#include <array>
#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

struct Data {
  uint32_t value = 0;
  uint16_t port = 0;
  friend bool operator==(const Data&, const Data&) = default;
};

constexpr size_t kWidth = 6;  // narrow, so random keys collide with existing ones
using K = Key<kWidth>;
using Table = ExactTable<kWidth, Data>;

struct NaiveExact {
  std::map<std::array<uint8_t, kWidth>, Action<Data>> entries;
  Action<Data> default_action;

  static std::array<uint8_t, kWidth> A(const K& k) {
    std::array<uint8_t, kWidth> a;
    std::copy(k.bytes, k.bytes + kWidth, a.begin());
    return a;
  }
  // (hit, action)
  std::pair<bool, Action<Data>> Lookup(const K& key) const {
    auto it = entries.find(A(key));
    return it == entries.end() ? std::make_pair(false, default_action)
                               : std::make_pair(true, it->second);
  }
};

K RandomKey(std::mt19937& rng) {
  // Few distinct values per byte, so that adds hit duplicates and lookups hit.
  K k;
  for (auto& b : k.bytes) b = static_cast<uint8_t>(rng() % 4);
  return k;
}
Action<Data> RandomAction(std::mt19937& rng) {
  return {static_cast<uint16_t>(1 + rng() % 5),
          {static_cast<uint32_t>(rng()), static_cast<uint16_t>(rng())}};
}

void ExpectSame(const Table::Result* got, const std::pair<bool, Action<Data>>& want, const K& key) {
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->hit, want.first) << ToHex(key);
  EXPECT_EQ(got->action_id, want.second.id) << ToHex(key);
  EXPECT_EQ(got->data, want.second.data) << ToHex(key);
}

std::unique_ptr<Table> NewTable(uint32_t size = 8192) {
  TableOptions options;
  options.name = "exact_test";
  options.size = size;
  return *Table::Create(options);
}

TEST(KeyPacking, FieldsAreBigEndianAndConcatenated) {
  const net::MacAddress mac{1, 2, 3, 4, 5, 6};
  const std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const auto key = MakeKey(field::U8(0x11), field::U16(0x2233), field::U32(0x44556677),
                           field::U64(0x8899aabbccddeeffull), field::Mac(mac),
                           field::Ipv4(0x0a000001), field::Ipv6(v6), field::Be16(0x0201));
  static_assert(sizeof(key.bytes) == 1 + 2 + 4 + 8 + 6 + 4 + 16 + 2);
  EXPECT_EQ(ToHex(key),
            "11"
            "2233"
            "44556677"
            "8899aabbccddeeff"
            "010203040506"
            "0a000001"
            "20010db8000000000000000000000001"
            "0102");
  const auto mask = MakeMask(field::U16(0xff00), field::U8(0x0f));
  EXPECT_EQ(ToHex(mask), "ff000f");
  EXPECT_EQ(ToHex(ApplyMask(MakeKey(field::U16(0x1234), field::U8(0x56)), mask)), "120006");
  EXPECT_TRUE(HasBitsOutsideMask(MakeKey(field::U16(0x1200), field::U8(0x16)), mask));
  EXPECT_FALSE(HasBitsOutsideMask(MakeKey(field::U16(0x1200), field::U8(0x06)), mask));
}

TEST(ExactTable, MissReturnsTheDefaultAction) {
  auto t = NewTable();
  const K key = MakeKey(field::U32(1), field::U16(2));
  const Table::Result* r = t->Lookup(key);
  EXPECT_FALSE(r->hit);
  EXPECT_EQ(r->action_id, 0);
  t->SetDefaultAction({7, {42, 3}});
  r = t->Lookup(key);
  EXPECT_FALSE(r->hit);
  EXPECT_EQ(r->action_id, 7);
  EXPECT_EQ(r->data, (Data{42, 3}));
  ASSERT_TRUE(t->Add(key, {2, {5, 6}}).ok());
  r = t->Lookup(key);
  EXPECT_TRUE(r->hit);
  EXPECT_EQ(r->action_id, 2);
  EXPECT_EQ(r->data, (Data{5, 6}));
}

TEST(ExactTable, RefusesDuplicatesAndMissingEntriesClearly) {
  auto t = NewTable();
  const K key = MakeKey(field::U32(0x0a000001), field::U16(80));
  ASSERT_TRUE(t->Add(key, {1, {}}).ok());
  const absl::Status dup = t->Add(key, {2, {}}).status();
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(dup.message().find("0a0000010050 already exists; modify it instead"), std::string::npos)
      << dup;
  EXPECT_EQ(t->Lookup(key)->action_id, 1);  // unchanged
  const K other = MakeKey(field::U32(0x0a000002), field::U16(80));
  EXPECT_EQ(t->Modify(other, {1, {}}).code(), absl::StatusCode::kNotFound);
  const absl::Status missing = t->Delete(other);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("exact_test' has no entry with key 0a0000020050"),
            std::string::npos)
      << missing;
}

TEST(ExactTable, FullTableIsRefusedClearly) {
  auto t = NewTable(16);
  for (uint32_t i = 0; i < 16; ++i)
    ASSERT_TRUE(t->Add(MakeKey(field::U32(i), field::U16(0)), {1, {}}).ok());
  const absl::Status full = t->Add(MakeKey(field::U32(99), field::U16(0)), {1, {}}).status();
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("is full (16 entries)"), std::string::npos) << full;
  ASSERT_TRUE(t->Delete(MakeKey(field::U32(3), field::U16(0))).ok());
  EXPECT_TRUE(t->Add(MakeKey(field::U32(99), field::U16(0)), {1, {}}).ok());
}

TEST(ExactTable, MatchesNaiveReferenceThroughAddModifyDelete) {
  std::mt19937 rng(7);
  auto t = NewTable();
  NaiveExact naive;
  naive.default_action = {9, {99, 9}};
  t->SetDefaultAction(naive.default_action);
  for (int op = 0; op < 6000; ++op) {
    const K key = RandomKey(rng);
    const bool present = naive.entries.count(NaiveExact::A(key)) > 0;
    const Action<Data> action = RandomAction(rng);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const absl::Status s = t->Add(key, action).status();
        if (present) {
          EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
        } else {
          ASSERT_TRUE(s.ok()) << s;
          naive.entries[NaiveExact::A(key)] = action;
        }
        break;
      }
      case 2: {
        const absl::Status s = t->Modify(key, action);
        EXPECT_EQ(s.ok(), present) << s;
        if (present) naive.entries[NaiveExact::A(key)] = action;
        break;
      }
      default: {
        const absl::Status s = t->Delete(key);
        EXPECT_EQ(s.ok(), present) << s;
        naive.entries.erase(NaiveExact::A(key));
        break;
      }
    }
  }
  EXPECT_EQ(t->size(), naive.entries.size());
  ASSERT_GT(naive.entries.size(), 500u);
  std::vector<K> keys(4000);
  for (auto& k : keys) k = RandomKey(rng);
  std::vector<const Table::Result*> bulk(keys.size());
  t->LookupBulk(keys.data(), bulk.data(), static_cast<unsigned>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    ExpectSame(t->Lookup(keys[i]), naive.Lookup(keys[i]), keys[i]);
    ExpectSame(bulk[i], naive.Lookup(keys[i]), keys[i]);
  }
}

// Big enough (>= 4096 entries) for LookupBulk's prefetch pass.
TEST(ExactTable, BulkLookupOnLargeTableMatchesNaiveReference) {
  std::mt19937 rng(8);
  auto t = NewTable(32768);
  NaiveExact naive;
  auto key = [&] {
    K k;
    for (auto& b : k.bytes) b = static_cast<uint8_t>(rng() % 8);  // 262144 keys
    return k;
  };
  std::vector<K> added;
  for (int i = 0; i < 20000; ++i) {
    const K k = key();
    const Action<Data> a = RandomAction(rng);
    if (t->Add(k, a).ok()) {
      naive.entries[NaiveExact::A(k)] = a;
      added.push_back(k);
    }
  }
  ASSERT_GT(t->size(), 4096u);
  std::vector<K> keys(5000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = i % 2 ? key() : added[rng() % added.size()];
  std::vector<const Table::Result*> bulk(keys.size());
  t->LookupBulk(keys.data(), bulk.data(), static_cast<unsigned>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) ExpectSame(bulk[i], naive.Lookup(keys[i]), keys[i]);
}

TEST(ExactTable, CloneIsIndependent) {
  std::mt19937 rng(3);
  auto t = NewTable();
  NaiveExact naive;
  for (int i = 0; i < 2000; ++i) {
    const K key = RandomKey(rng);
    const Action<Data> a = RandomAction(rng);
    if (t->Add(key, a).ok()) naive.entries[NaiveExact::A(key)] = a;
  }
  auto clone = *t->Clone();
  NaiveExact clone_naive = naive;
  // Change the clone: modify, delete, add, default action.
  int changed = 0;
  for (const auto& [bytes, action] : naive.entries) {
    K key;
    std::copy(bytes.begin(), bytes.end(), key.bytes);
    if (changed % 3 == 0) {
      ASSERT_TRUE(clone->Delete(key).ok());
      clone_naive.entries.erase(bytes);
    } else if (changed % 3 == 1) {
      const Action<Data> a{static_cast<uint16_t>(action.id + 100), action.data};
      ASSERT_TRUE(clone->Modify(key, a).ok());
      clone_naive.entries[bytes] = a;
    }
    ++changed;
  }
  for (int i = 0; i < 500; ++i) {
    const K key = RandomKey(rng);
    const Action<Data> a = RandomAction(rng);
    if (clone->Add(key, a).ok()) clone_naive.entries[NaiveExact::A(key)] = a;
  }
  clone->SetDefaultAction({55, {}});
  clone_naive.default_action = {55, {}};
  for (int i = 0; i < 3000; ++i) {
    const K key = RandomKey(rng);
    ExpectSame(t->Lookup(key), naive.Lookup(key), key);
    ExpectSame(clone->Lookup(key), clone_naive.Lookup(key), key);
  }
  EXPECT_EQ(t->size(), naive.entries.size());
  EXPECT_EQ(clone->size(), clone_naive.entries.size());
}

TEST(ExactTable, DirectCountersSumPipesAndSurviveClone) {
  TableOptions options;
  options.name = "counted";
  options.size = 64;
  options.pipes = 2;
  options.direct_counters = true;
  auto t = *Table::Create(options);
  const K a = MakeKey(field::U32(1), field::U16(1));
  const K b = MakeKey(field::U32(2), field::U16(2));
  const EntryHandle ha = *t->Add(a, {1, {}});
  const EntryHandle hb = *t->Add(b, {1, {}});
  const K miss = MakeKey(field::U32(3), field::U16(3));
  // Workers: pipe 0 and pipe 1 count what their lookups return.
  for (int i = 0; i < 10; ++i) t->cells(0).Count(t->Lookup(a)->handle, 100);
  for (int i = 0; i < 5; ++i) t->cells(1).Count(t->Lookup(a)->handle, 60);
  t->cells(1).Count(t->Lookup(b)->handle, 1500);
  t->cells(0).Count(t->Lookup(miss)->handle, 64);  // the default entry's cell
  EXPECT_EQ(t->ReadCounter(ha), (CounterValue{15, 1300}));
  EXPECT_EQ(t->ReadCounter(hb), (CounterValue{1, 1500}));
  EXPECT_EQ(t->ReadCounter(t->default_result().handle), (CounterValue{1, 64}));

  // A new version keeps the entries' counts, and hits counted on the old
  // version while the new one is being built are not lost.
  auto v2 = *t->Clone();
  t->cells(0).Count(t->Lookup(a)->handle, 1);
  ASSERT_TRUE(v2->Delete(b).ok());
  ASSERT_TRUE(v2->Add(b, {2, {}}).ok());  // a new entry: a new counter
  v2->cells(1).Count(v2->Lookup(a)->handle, 1);
  EXPECT_EQ(v2->Lookup(a)->handle, ha);
  EXPECT_EQ(v2->ReadCounter(ha), (CounterValue{17, 1302}));
  EXPECT_EQ(v2->ReadCounter(v2->Lookup(b)->handle), (CounterValue{0, 0}));
  EXPECT_EQ(t->ReadCounter(hb), (CounterValue{1, 1500}));  // the old entry's count stays

  v2->ClearCounter(ha);
  EXPECT_EQ(v2->ReadCounter(ha), (CounterValue{0, 0}));
  v2->cells(0).Count(ha, 10);
  EXPECT_EQ(v2->ReadCounter(ha), (CounterValue{1, 10}));
}

TEST(ExactTable, HandlesAreReusedOnlyAfterEveryVersionDropsThem) {
  TableOptions options;
  options.name = "tiny";
  options.size = 4;  // 8 handles
  options.direct_counters = true;
  auto v1 = *Table::Create(options);
  for (uint32_t i = 0; i < 4; ++i)
    ASSERT_TRUE(v1->Add(MakeKey(field::U32(i), field::U16(0)), {1, {}}).ok());
  v1->cells(0).Count(v1->Lookup(MakeKey(field::U32(0), field::U16(0)))->handle, 1);
  // v2 replaces every entry: new handles, since v1 (published) holds the old.
  auto v2 = *v1->Clone();
  for (uint32_t i = 0; i < 4; ++i)
    ASSERT_TRUE(v2->Delete(MakeKey(field::U32(i), field::U16(0))).ok());
  for (uint32_t i = 10; i < 14; ++i) {
    ASSERT_TRUE(v2->Add(MakeKey(field::U32(i), field::U16(0)), {1, {}}).ok());
  }
  // v3 would need 4 more while v1 and v2 both live.
  auto v3 = *v2->Clone();
  ASSERT_TRUE(v3->Delete(MakeKey(field::U32(10), field::U16(0))).ok());
  const absl::Status s = v3->Add(MakeKey(field::U32(20), field::U16(0)), {1, {}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("held by live versions"), std::string::npos) << s;
  v1.reset();  // after its grace period
  const EntryHandle h = *v3->Add(MakeKey(field::U32(20), field::U16(0)), {1, {}});
  EXPECT_EQ(v3->ReadCounter(h), (CounterValue{0, 0}));  // a reused handle starts at zero
}

TEST(ExactTable, IdleSweepReportsEntriesPastTheirTtlOncePerIdlePeriod) {
  TableOptions options;
  options.name = "aging";
  options.size = 16;
  options.pipes = 2;
  options.idle_timeout = true;
  auto t = *Table::Create(options);
  const K a = MakeKey(field::U32(1), field::U16(0));
  const K b = MakeKey(field::U32(2), field::U16(0));
  const K forever = MakeKey(field::U32(3), field::U16(0));
  ASSERT_TRUE(t->Add(a, {1, {}}, /*ttl_ms=*/100).ok());
  ASSERT_TRUE(t->Add(b, {1, {}}, /*ttl_ms=*/50).ok());
  ASSERT_TRUE(t->Add(forever, {1, {}}).ok());
  constexpr uint64_t kMs = 1000000;
  std::vector<uint32_t> idle;
  auto sweep = [&](uint64_t now_ms) {
    idle.clear();
    t->SweepIdle(now_ms * kMs, [&](const K& key, EntryHandle) { idle.push_back(key.bytes[3]); });
    std::sort(idle.begin(), idle.end());
    return idle;
  };
  EXPECT_EQ(sweep(1000), std::vector<uint32_t>{});  // starts the idle clocks
  t->cells(1).Touch(t->Lookup(a)->handle, 1040 * kMs);
  EXPECT_EQ(sweep(1049), std::vector<uint32_t>{});
  EXPECT_EQ(sweep(1050), std::vector<uint32_t>{2});  // b: 50 ms since the clock started
  EXPECT_EQ(sweep(1060), std::vector<uint32_t>{});   // reported once
  EXPECT_EQ(sweep(1139), std::vector<uint32_t>{});   // a: last hit at 1040
  EXPECT_EQ(sweep(1140), std::vector<uint32_t>{1});
  // A pipe may record a burst's hits out of arrival order: the latest stays.
  t->cells(1).Touch(t->Lookup(a)->handle, 1150 * kMs);
  t->cells(1).Touch(t->Lookup(a)->handle, 1145 * kMs);
  EXPECT_EQ(t->LastHit(t->Lookup(a)->handle), 1150 * kMs);
  EXPECT_EQ(sweep(1249), std::vector<uint32_t>{});
  EXPECT_EQ(sweep(1250), std::vector<uint32_t>{1});
  // A hit on another pipe revives b; idle again 50 ms later.
  t->cells(0).Touch(t->Lookup(b)->handle, 1200 * kMs);
  EXPECT_EQ(sweep(1249), std::vector<uint32_t>{});
  EXPECT_EQ(sweep(1250), std::vector<uint32_t>{2});
  // A TTL given later starts its clock at the next sweep; clones carry TTLs
  // and idle state.
  ASSERT_TRUE(t->SetTtl(forever, 10).ok());
  auto v2 = *t->Clone();
  auto sweep2 = [&](uint64_t now_ms) {
    idle.clear();
    v2->SweepIdle(now_ms * kMs, [&](const K& key, EntryHandle) { idle.push_back(key.bytes[3]); });
    return idle;
  };
  EXPECT_EQ(sweep2(1300), std::vector<uint32_t>{});
  EXPECT_EQ(sweep2(1310), std::vector<uint32_t>{3});

  auto plain = NewTable(16);
  const absl::Status s = plain->Add(a, {1, {}}, 100).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("idle_timeout = true"), std::string::npos) << s;
}

// Workers read a published version while the control plane clones, changes
// and republishes it; old versions stay alive until the end (instead of
// RCU). Every result a reader sees must be what the version it read from
// returns for that key per the reference model: no torn or mixed entries.
TEST(ExactTable, ConcurrentReadersSeeOnlyPublishedVersions) {
  using WideData = std::array<uint64_t, 4>;  // torn copies would show as mixed words
  using WTable = ExactTable<kWidth, WideData>;
  constexpr int kVersions = 60;
  struct Version {
    std::unique_ptr<WTable> table;
    std::map<std::array<uint8_t, kWidth>, WideData> model;
  };
  std::vector<Version> versions;
  versions.reserve(kVersions);
  std::vector<const WTable*> published(kVersions, nullptr);
  std::atomic<int> count{0};
  std::atomic<const WTable*> current{nullptr};

  auto make_data = [](uint64_t v) { return WideData{v, v * 3, v * 5, ~v}; };
  std::mt19937 rng(11);
  TableOptions options;
  options.name = "rcu";
  options.size = 4096;
  versions.push_back({*WTable::Create(options), {}});
  for (int i = 0; i < 1500; ++i) {
    const K key = RandomKey(rng);
    const WideData d = make_data(rng());
    if (versions[0].table->Add(key, {1, d}).ok()) versions[0].model[NaiveExact::A(key)] = d;
  }
  published[0] = versions[0].table.get();
  count.store(1, std::memory_order_release);
  current.store(published[0], std::memory_order_release);

  struct Sample {
    int version;
    K key;
    bool hit;
    WideData data;
  };
  std::atomic<bool> stop{false};
  auto reader = [&](int seed, std::vector<Sample>* samples) {
    std::mt19937 r(seed);
    K keys[32];
    const WTable::Result* results[32];
    while (!stop.load(std::memory_order_relaxed)) {
      const WTable* t = current.load(std::memory_order_acquire);
      int version = -1;
      const int n = count.load(std::memory_order_acquire);
      for (int v = 0; v < n; ++v) {
        if (published[v] == t) version = v;
      }
      for (auto& k : keys) k = RandomKey(r);
      t->LookupBulk(keys, results, 32);
      for (int i = 0; i < 32; ++i) {
        const WTable::Result* single = t->Lookup(keys[i]);
        if (single != results[i]) version = -2;  // single and bulk must agree
        if (samples->size() < 20000 && r() % 4 == 0) {
          samples->push_back({version, keys[i], results[i]->hit, results[i]->data});
        }
      }
    }
  };
  std::vector<Sample> s1, s2;
  std::thread r1(reader, 1, &s1), r2(reader, 2, &s2);
  for (int v = 1; v < kVersions; ++v) {
    Version next{*versions[v - 1].table->Clone(), versions[v - 1].model};
    for (int i = 0; i < 200; ++i) {
      const K key = RandomKey(rng);
      const auto a = NaiveExact::A(key);
      const WideData d = make_data(rng());
      if (next.model.count(a)) {
        if (rng() % 2) {
          ASSERT_TRUE(next.table->Delete(key).ok());
          next.model.erase(a);
        } else {
          ASSERT_TRUE(next.table->Modify(key, {1, d}).ok());
          next.model[a] = d;
        }
      } else {
        ASSERT_TRUE(next.table->Add(key, {1, d}).ok());
        next.model[a] = d;
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
      const auto& model = versions[s.version].model;
      auto it = model.find(NaiveExact::A(s.key));
      ASSERT_EQ(s.hit, it != model.end());
      if (s.hit) {
        ASSERT_EQ(s.data, it->second);
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
}

}  // namespace
}  // namespace softfino::pipe
