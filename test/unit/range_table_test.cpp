// RangeTable against a naive reference: every entry checked field by field
// (low <= field <= high, compared as big-endian bytes), the lowest priority
// value winning, then the entry added first. Tables both below and above the
// size where the scan gives way to rte_acl.
#include "softfino/pipe/range_table.h"

#include <atomic>
#include <cstring>
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

// proto (exact) . sport (range) . dport (range): the ranges sit at odd
// offsets, which makes the rte_acl layout shift the key.
constexpr size_t kWidth = 5;
using K = Key<kWidth>;
using Table = RangeTable<kWidth, Data>;
using Spec = RangeSpec<kWidth>;
const std::vector<MatchField> kFields = {
    {MatchKind::kExact, 1}, {MatchKind::kRange, 2}, {MatchKind::kRange, 2}};

struct NaiveRange {
  std::vector<MatchField> fields;
  struct Entry {
    std::vector<uint8_t> low, high;
    uint32_t priority;
    uint64_t seq;
    Action<Data> action;
  };
  std::vector<Entry> entries;
  Action<Data> default_action;
  uint64_t next_seq = 0;

  Entry* Find(const uint8_t* low, const uint8_t* high, size_t n, uint32_t priority) {
    for (Entry& e : entries) {
      if (e.priority == priority && std::memcmp(e.low.data(), low, n) == 0 &&
          std::memcmp(e.high.data(), high, n) == 0) {
        return &e;
      }
    }
    return nullptr;
  }
  std::pair<bool, Action<Data>> Lookup(const uint8_t* key) const {
    const Entry* best = nullptr;
    for (const Entry& e : entries) {
      bool match = true;
      size_t off = 0;
      for (const MatchField& f : fields) {
        match &= std::memcmp(e.low.data() + off, key + off, f.width) <= 0 &&
                 std::memcmp(key + off, e.high.data() + off, f.width) <= 0;
        off += f.width;
      }
      if (!match) continue;
      if (best == nullptr || e.priority < best->priority ||
          (e.priority == best->priority && e.seq < best->seq)) {
        best = &e;
      }
    }
    return best == nullptr ? std::make_pair(false, default_action)
                           : std::make_pair(true, best->action);
  }
};

struct Generator {
  std::mt19937 rng;
  explicit Generator(int seed) : rng(seed) {}
  uint16_t Port() {
    // Mostly a small universe (overlaps), sometimes anywhere, and the edges.
    switch (rng() % 8) {
      case 0:
        return 0;
      case 1:
        return 65535;
      case 2:
        return static_cast<uint16_t>(rng());
      default:
        return static_cast<uint16_t>(rng() % 300);
    }
  }
  void PortRange(uint16_t* lo, uint16_t* hi) {
    switch (rng() % 4) {
      case 0:
        *lo = 0, *hi = 65535;
        break;
      case 1:
        *lo = *hi = Port();
        break;
      default: {
        uint16_t a = Port(), b = Port();
        *lo = std::min(a, b), *hi = std::max(a, b);
      }
    }
  }
  Spec RandomSpec() {
    Spec s;
    const uint8_t proto = rng() % 2 ? 6 : 17;
    uint16_t slo, shi, dlo, dhi;
    PortRange(&slo, &shi);
    PortRange(&dlo, &dhi);
    s.low = MakeKey(field::U8(proto), field::U16(slo), field::U16(dlo));
    s.high = MakeKey(field::U8(proto), field::U16(shi), field::U16(dhi));
    s.priority = rng() % 6;
    return s;
  }
  K RandomKey() {
    return MakeKey(field::U8(rng() % 3 == 0 ? 17 : 6), field::U16(Port()), field::U16(Port()));
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
  options.name = "range_test";
  options.size = size;
  return *Table::Create(options, kFields);
}

Spec S(uint8_t proto, uint16_t slo, uint16_t shi, uint16_t dlo, uint16_t dhi, uint32_t prio) {
  return {MakeKey(field::U8(proto), field::U16(slo), field::U16(dlo)),
          MakeKey(field::U8(proto), field::U16(shi), field::U16(dhi)), prio};
}
K Pkt(uint8_t proto, uint16_t sport, uint16_t dport) {
  return MakeKey(field::U8(proto), field::U16(sport), field::U16(dport));
}

TEST(RangeTable, PriorityTiesAndExactFields) {
  auto t = NewTable();
  t->SetDefaultAction({9, {}});
  ASSERT_TRUE(t->Add(S(6, 0, 65535, 80, 80, 10), {1, {1}}).ok());
  ASSERT_TRUE(t->Add(S(6, 1024, 65535, 0, 1023, 5), {2, {2}}).ok());
  ASSERT_TRUE(t->Add(S(17, 0, 65535, 53, 53, 5), {3, {3}}).ok());
  ASSERT_TRUE(t->Add(S(6, 0, 65535, 0, 65535, 10), {4, {4}}).ok());  // ties with entry 1
  // Nothing is visible before Commit().
  EXPECT_FALSE(t->Lookup(Pkt(6, 2000, 80))->hit);
  ASSERT_TRUE(t->Commit().ok());
  EXPECT_FALSE(t->uses_acl());
  EXPECT_EQ(t->Lookup(Pkt(6, 2000, 80))->action_id, 2);  // priority 5 beats 10
  EXPECT_EQ(t->Lookup(Pkt(6, 80, 80))->action_id, 1);    // tie at 10: first added
  EXPECT_EQ(t->Lookup(Pkt(6, 80, 81))->action_id, 4);
  EXPECT_EQ(t->Lookup(Pkt(17, 1, 53))->action_id, 3);
  EXPECT_EQ(t->Lookup(Pkt(17, 1, 54))->action_id, 9);  // the exact field must match
  EXPECT_FALSE(t->Lookup(Pkt(17, 1, 54))->hit);
  EXPECT_EQ(t->Lookup(Pkt(6, 1024, 1023))->action_id, 2);  // inclusive ends
  EXPECT_EQ(t->Lookup(Pkt(6, 1023, 1023))->action_id, 4);
  ASSERT_TRUE(t->Modify(S(6, 0, 65535, 80, 80, 10), {5, {5}}).ok());
  EXPECT_EQ(t->Lookup(Pkt(6, 80, 80))->action_id, 1);  // until committed
  ASSERT_TRUE(t->Commit().ok());
  EXPECT_EQ(t->Lookup(Pkt(6, 80, 80))->action_id, 5);
  EXPECT_EQ(t->Lookup(Pkt(6, 80, 80))->data, (Data{5}));
}

TEST(RangeTable, RefusesBadLayoutsAndSpecsClearly) {
  TableOptions options;
  options.name = "bad";
  auto three =
      RangeTable<4, Data>::Create(options, {{MatchKind::kExact, 1}, {MatchKind::kRange, 3}});
  EXPECT_EQ(three.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(three.status().message().find("must be 1, 2 or 4 bytes"), std::string::npos)
      << three.status();
  auto short_fields = RangeTable<6, Data>::Create(options, {{MatchKind::kRange, 4}});
  EXPECT_NE(short_fields.status().message().find("4 bytes wide in all but its key is 6"),
            std::string::npos)
      << short_fields.status();
  auto unaligned = RangeTable<9, Data>::Create(
      options, {{MatchKind::kRange, 4}, {MatchKind::kExact, 1}, {MatchKind::kRange, 4}});
  EXPECT_NE(unaligned.status().message().find("cannot all be aligned"), std::string::npos)
      << unaligned.status();

  auto t = NewTable(3);
  Spec exact_mismatch = S(6, 1, 2, 3, 4, 0);
  exact_mismatch.high.bytes[0] = 17;
  const absl::Status e = t->Add(exact_mismatch, {1, {}}).status();
  EXPECT_EQ(e.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.message().find("field 0 is exact, so its low (06) and high (11) must be equal"),
            std::string::npos)
      << e;
  const absl::Status inverted = t->Add(S(6, 9, 2, 3, 4, 0), {1, {}}).status();
  EXPECT_NE(inverted.message().find("range field 1 has low 0009 above high 0002; swap them"),
            std::string::npos)
      << inverted;
  ASSERT_TRUE(t->Add(S(6, 1, 2, 3, 4, 0), {1, {}}).ok());
  const absl::Status dup = t->Add(S(6, 1, 2, 3, 4, 0), {2, {}}).status();
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(dup.message().find("already exists; modify it instead"), std::string::npos) << dup;
  ASSERT_TRUE(t->Add(S(6, 1, 2, 3, 4, 1), {2, {}}).ok());
  ASSERT_TRUE(t->Add(S(6, 1, 2, 3, 5, 1), {2, {}}).ok());
  const absl::Status full = t->Add(S(6, 1, 2, 3, 6, 1), {2, {}}).status();
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("is full (3 entries)"), std::string::npos) << full;
  EXPECT_EQ(t->Delete(S(6, 1, 2, 3, 6, 1)).code(), absl::StatusCode::kNotFound);
}

void RunRandom(int target_entries, int seed) {
  Generator gen(seed);
  auto t = NewTable();
  NaiveRange naive{kFields, {}, {}, 0};
  naive.default_action = {99, {99}};
  t->SetDefaultAction(naive.default_action);
  // Grow to the target, then churn around it.
  for (int round = 0; round < 5; ++round) {
    const int ops = round == 0 ? target_entries * 2 : std::max(8, target_entries / 2);
    for (int op = 0; op < ops; ++op) {
      const Spec spec = gen.RandomSpec();
      NaiveRange::Entry* e = naive.Find(spec.low.bytes, spec.high.bytes, kWidth, spec.priority);
      const Action<Data> action = gen.RandomAction();
      const bool grow = static_cast<int>(naive.entries.size()) < target_entries;
      const int kind = static_cast<int>(gen.rng() % 10);
      if (kind < (grow ? 8 : 4)) {
        const absl::Status s = t->Add(spec, action).status();
        if (e != nullptr) {
          ASSERT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
        } else {
          ASSERT_TRUE(s.ok()) << s;
          naive.entries.push_back({std::vector<uint8_t>(spec.low.bytes, spec.low.bytes + kWidth),
                                   std::vector<uint8_t>(spec.high.bytes, spec.high.bytes + kWidth),
                                   spec.priority, naive.next_seq++, action});
        }
      } else if (kind < 7 && !naive.entries.empty()) {
        // Modify or delete an existing entry.
        NaiveRange::Entry& x = naive.entries[gen.rng() % naive.entries.size()];
        Spec existing;
        std::copy(x.low.begin(), x.low.end(), existing.low.bytes);
        std::copy(x.high.begin(), x.high.end(), existing.high.bytes);
        existing.priority = x.priority;
        if (gen.rng() % 2) {
          ASSERT_TRUE(t->Modify(existing, action).ok());
          x.action = action;
        } else {
          ASSERT_TRUE(t->Delete(existing).ok());
          naive.entries.erase(naive.entries.begin() + (&x - naive.entries.data()));
        }
      } else {
        ASSERT_EQ(t->Delete(spec).ok(), e != nullptr);
        if (e != nullptr) naive.entries.erase(naive.entries.begin() + (e - naive.entries.data()));
      }
    }
    ASSERT_TRUE(t->Commit().ok());
    ASSERT_EQ(t->size(), naive.entries.size());
    EXPECT_EQ(t->uses_acl(), naive.entries.size() > Table::kScanMaxEntries);
    std::vector<K> keys(1500);
    for (auto& k : keys) k = gen.RandomKey();
    std::vector<const Table::Result*> bulk(keys.size());
    t->LookupBulk(keys.data(), bulk.data(), static_cast<unsigned>(keys.size()));
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto want = naive.Lookup(keys[i].bytes);
      ExpectSame(t->Lookup(keys[i]), want, keys[i]);
      ExpectSame(bulk[i], want, keys[i]);
    }
  }
}

TEST(RangeTable, SmallTableMatchesNaiveReference) { RunRandom(20, 1); }
TEST(RangeTable, LargeTableMatchesNaiveReference) { RunRandom(3000, 2); }

// An IPv4 range, an exact 16-bit field and a 1-byte range: exercises the
// other field widths and a layout that needs no shift.
TEST(RangeTable, WideFieldsMatchNaiveReference) {
  constexpr size_t kW = 7;
  const std::vector<MatchField> fields = {
      {MatchKind::kRange, 4}, {MatchKind::kExact, 2}, {MatchKind::kRange, 1}};
  TableOptions options;
  options.name = "wide";
  options.size = 4096;
  auto t = *RangeTable<kW, Data>::Create(options, fields);
  NaiveRange naive{fields, {}, {}, 0};
  std::mt19937 rng(9);
  auto addr = [&] { return 0x0a000000u + (rng() % 4096) * (rng() % 2 ? 1 : 4096); };
  auto byte = [&] { return static_cast<uint8_t>(rng() % 64); };
  for (int i = 0; i < 1500; ++i) {
    uint32_t a = addr(), b = addr();
    uint8_t c = byte(), d = byte();
    const uint16_t tag = static_cast<uint16_t>(rng() % 3);
    RangeSpec<kW> s{MakeKey(field::U32(std::min(a, b)), field::U16(tag), field::U8(std::min(c, d))),
                    MakeKey(field::U32(std::max(a, b)), field::U16(tag), field::U8(std::max(c, d))),
                    static_cast<uint32_t>(rng() % 50)};
    const Action<Data> action{static_cast<uint16_t>(i), {static_cast<uint32_t>(i)}};
    if (t->Add(s, action).ok()) {
      naive.entries.push_back({std::vector<uint8_t>(s.low.bytes, s.low.bytes + kW),
                               std::vector<uint8_t>(s.high.bytes, s.high.bytes + kW), s.priority,
                               naive.next_seq++, action});
    }
  }
  ASSERT_TRUE(t->Commit().ok());
  ASSERT_TRUE(t->uses_acl());
  std::vector<Key<kW>> keys(3000);
  for (auto& k : keys) k = MakeKey(field::U32(addr()), field::U16(rng() % 4), field::U8(byte()));
  std::vector<const RangeTable<kW, Data>::Result*> bulk(keys.size());
  t->LookupBulk(keys.data(), bulk.data(), static_cast<unsigned>(keys.size()));
  int hits = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto want = naive.Lookup(keys[i].bytes);
    const auto* got = t->Lookup(keys[i]);
    ASSERT_EQ(got->hit, want.first) << ToHex(keys[i]);
    ASSERT_EQ(got->action_id, want.second.id) << ToHex(keys[i]);
    ASSERT_EQ(bulk[i], got);
    hits += got->hit;
  }
  EXPECT_GT(hits, 300);
}

TEST(RangeTable, CloneIsIndependentAndSharesTheCommittedIndex) {
  Generator gen(4);
  auto t = NewTable();
  NaiveRange naive{kFields, {}, {}, 0};
  for (int i = 0; i < 400; ++i) {
    const Spec spec = gen.RandomSpec();
    const Action<Data> a = gen.RandomAction();
    if (t->Add(spec, a).ok()) {
      naive.entries.push_back({std::vector<uint8_t>(spec.low.bytes, spec.low.bytes + kWidth),
                               std::vector<uint8_t>(spec.high.bytes, spec.high.bytes + kWidth),
                               spec.priority, naive.next_seq++, a});
    }
  }
  ASSERT_TRUE(t->Commit().ok());
  auto clone = *t->Clone();
  EXPECT_TRUE(clone->committed());
  NaiveRange clone_naive = naive;
  // Shrink the clone below the scan threshold: the index changes kind too.
  while (clone_naive.entries.size() > 10) {
    const NaiveRange::Entry& x = clone_naive.entries.back();
    Spec s;
    std::copy(x.low.begin(), x.low.end(), s.low.bytes);
    std::copy(x.high.begin(), x.high.end(), s.high.bytes);
    s.priority = x.priority;
    ASSERT_TRUE(clone->Delete(s).ok());
    clone_naive.entries.pop_back();
  }
  const Spec catch_all = S(6, 0, 65535, 0, 65535, 0);
  ASSERT_TRUE(clone->Add(catch_all, {42, {42}}).ok());
  clone_naive.entries.push_back(
      {std::vector<uint8_t>(catch_all.low.bytes, catch_all.low.bytes + kWidth),
       std::vector<uint8_t>(catch_all.high.bytes, catch_all.high.bytes + kWidth),
       0,
       clone_naive.next_seq++,
       {42, {42}}});
  ASSERT_TRUE(clone->Commit().ok());
  EXPECT_TRUE(t->uses_acl());
  EXPECT_FALSE(clone->uses_acl());
  for (int i = 0; i < 2000; ++i) {
    const K key = gen.RandomKey();
    ExpectSame(t->Lookup(key), naive.Lookup(key.bytes), key);
    ExpectSame(clone->Lookup(key), clone_naive.Lookup(key.bytes), key);
  }
}

TEST(RangeTable, DirectCountersAndIdleTimeoutFollowEntriesAcrossVersions) {
  TableOptions options;
  options.name = "range_state";
  options.size = 64;
  options.pipes = 3;
  options.direct_counters = true;
  options.idle_timeout = true;
  auto t = *Table::Create(options, kFields);
  const EntryHandle web = *t->Add(S(6, 0, 65535, 80, 80, 1), {1, {}}, 10);
  const EntryHandle any = *t->Add(S(6, 0, 65535, 0, 65535, 9), {2, {}}, 10);
  ASSERT_TRUE(t->Commit().ok());
  constexpr uint64_t kMs = 1000000;
  t->SweepIdle(0, [](const Spec&, EntryHandle) { ADD_FAILURE(); });
  for (uint16_t pipe = 0; pipe < 3; ++pipe) {
    t->cells(pipe).Hit(t->Lookup(Pkt(6, 5000, 80))->handle, 100, 8 * kMs);
  }
  t->cells(2).Hit(t->Lookup(Pkt(6, 5000, 443))->handle, 1000, 1 * kMs);
  auto v2 = *t->Clone();
  ASSERT_TRUE(v2->Delete(S(6, 0, 65535, 80, 80, 1)).ok());
  ASSERT_TRUE(v2->Commit().ok());
  v2->cells(0).Hit(v2->Lookup(Pkt(6, 5000, 80))->handle, 10, 2 * kMs);  // now `any`
  EXPECT_EQ(t->ReadCounter(web), (CounterValue{3, 300}));
  EXPECT_EQ(v2->ReadCounter(any), (CounterValue{2, 1010}));
  std::vector<EntryHandle> idle;
  v2->SweepIdle(12 * kMs, [&](const Spec&, EntryHandle h) { idle.push_back(h); });
  EXPECT_EQ(idle, std::vector<EntryHandle>{any});  // last hit at 2 ms
}

TEST(RangeTable, ConcurrentReadersSeeOnlyPublishedVersions) {
  constexpr int kVersions = 24;
  struct Version {
    std::unique_ptr<Table> table;
    NaiveRange model;
  };
  std::vector<Version> versions;
  versions.reserve(kVersions);
  std::vector<const Table*> published(kVersions, nullptr);
  std::atomic<int> count{0};
  std::atomic<const Table*> current{nullptr};
  Generator gen(33);
  versions.push_back({NewTable(), {kFields, {}, {}, 0}});
  auto add = [&](Version& v, const Spec& spec, const Action<Data>& a) {
    if (!v.table->Add(spec, a).ok()) return;
    v.model.entries.push_back({std::vector<uint8_t>(spec.low.bytes, spec.low.bytes + kWidth),
                               std::vector<uint8_t>(spec.high.bytes, spec.high.bytes + kWidth),
                               spec.priority, v.model.next_seq++, a});
  };
  for (int i = 0; i < 200; ++i) add(versions[0], gen.RandomSpec(), gen.RandomAction());
  ASSERT_TRUE(versions[0].table->Commit().ok());
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
    Generator g(seed);
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
        if (samples->size() < 3000 && g.rng() % 8 == 0) {
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
    for (int i = 0; i < 40; ++i) {
      if (i % 3 == 0 && !next.model.entries.empty()) {
        const NaiveRange::Entry& x = next.model.entries[gen.rng() % next.model.entries.size()];
        Spec s;
        std::copy(x.low.begin(), x.low.end(), s.low.bytes);
        std::copy(x.high.begin(), x.high.end(), s.high.bytes);
        s.priority = x.priority;
        ASSERT_TRUE(next.table->Delete(s).ok());
        next.model.entries.erase(next.model.entries.begin() + (&x - next.model.entries.data()));
      } else {
        add(next, gen.RandomSpec(), gen.RandomAction());
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
      const auto want = versions[s.version].model.Lookup(s.key.bytes);
      ASSERT_EQ(s.hit, want.first);
      ASSERT_EQ(s.action, want.second.id);
      ASSERT_EQ(s.data, want.second.data);
      ++checked;
    }
  }
  EXPECT_GT(checked, 200u);
}

}  // namespace
}  // namespace softfino::pipe
