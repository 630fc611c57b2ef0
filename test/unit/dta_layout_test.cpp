// DTA's collector memory layouts (dta/) against independent truths: a
// bit-at-a-time CRC-32 written here (not net::Crc) checked on the CRC RevEng
// catalogue's published values, naive writers that lay out memory as the
// layouts' comments say, and for Key-Write the paper's figures.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "softfino/dta/append.h"
#include "softfino/dta/key_hash.h"
#include "softfino/dta/key_increment.h"
#include "softfino/dta/key_write.h"
#include "softfino/dta/layout.h"
#include "softfino/dta/postcarding.h"
#include "softfino/pipe/hash_unit.h"

namespace softfino::dta {
namespace {

using ::testing::HasSubstr;

// --- The reference CRC ----------------------------------------------------

uint32_t Reverse32(uint32_t v) {
  uint32_t out = 0;
  for (int i = 0; i < 32; ++i) out |= ((v >> i) & 1u) << (31 - i);
  return out;
}

// Reflected CRC-32, init and xor-out 0xFFFFFFFF, one bit at a time: the
// polynomial in normal form is bit-reversed and the register shifts right.
uint32_t RefCrc32(uint32_t poly, const uint8_t* data, size_t len) {
  const uint32_t reflected = Reverse32(poly);
  uint32_t reg = 0xffffffff;
  for (size_t i = 0; i < len; ++i) {
    reg ^= data[i];
    for (int bit = 0; bit < 8; ++bit) reg = (reg & 1) ? (reg >> 1) ^ reflected : reg >> 1;
  }
  return reg ^ 0xffffffff;
}

constexpr uint32_t kCrc32Poly = 0x04c11db7;

// CRC of the key as 4 little-endian bytes, then `extra` bytes.
uint32_t RefKeyCrc(uint32_t poly, uint32_t key, std::initializer_list<uint8_t> extra = {}) {
  std::vector<uint8_t> bytes = {static_cast<uint8_t>(key), static_cast<uint8_t>(key >> 8),
                                static_cast<uint8_t>(key >> 16), static_cast<uint8_t>(key >> 24)};
  bytes.insert(bytes.end(), extra);
  return RefCrc32(poly, bytes.data(), bytes.size());
}

// Copy n's slot as key_hash.h defines it.
uint64_t RefSlot(uint32_t key, uint8_t n, uint64_t slots) {
  return RefKeyCrc(kCopyPolys[n], key, {n}) & (slots - 1);
}

TEST(DtaReferenceCrc, CatalogueCheckValues) {
  const auto* check = reinterpret_cast<const uint8_t*>("123456789");
  EXPECT_EQ(RefCrc32(0x04c11db7, check, 9), 0xcbf43926u);  // CRC-32/ISO-HDLC
  EXPECT_EQ(RefCrc32(0x1edc6f41, check, 9), 0xe3069283u);  // CRC-32/ISCSI
  EXPECT_EQ(RefCrc32(0xa833982b, check, 9), 0x87315576u);  // CRC-32/BASE91-D
  EXPECT_EQ(RefCrc32(0xf4acfb13, check, 9), 0x1697d06au);  // CRC-32/AUTOSAR
  EXPECT_EQ(kCopyPolys, (std::array<uint32_t, 4>{0x04c11db7, 0x1edc6f41, 0xa833982b, 0xf4acfb13}));
}

// Memory as the collector gets it: zeroed, 64-byte aligned.
class Region {
 public:
  explicit Region(uint64_t bytes) : words_((bytes + 7) / 8 + 8, 0), bytes_(bytes) {}
  uint8_t* data() {
    auto p = reinterpret_cast<uintptr_t>(words_.data());
    return reinterpret_cast<uint8_t*>((p + 63) & ~uintptr_t{63});
  }
  std::span<const uint8_t> span() { return {data(), bytes_}; }
  void Fill(std::mt19937_64& rng) {
    for (uint64_t i = 0; i < bytes_; ++i) data()[i] = static_cast<uint8_t>(rng());
  }

 private:
  std::vector<uint64_t> words_;
  uint64_t bytes_;
};

// --- Key hashing ----------------------------------------------------------

TEST(DtaKeyHash, MatchesReference) {
  absl::StatusOr<KeyHash> hash = KeyHash::Create();
  ASSERT_TRUE(hash.ok()) << hash.status();
  std::mt19937 rng(5);
  std::vector<uint32_t> keys = {0, 1, 0xffffffff, 0x12345678, 0x80000000};
  for (int i = 0; i < 2000; ++i) keys.push_back(rng());
  for (uint32_t key : keys) {
    EXPECT_EQ(hash->Checksum(key), RefKeyCrc(kCrc32Poly, key)) << key;
    for (uint8_t n = 0; n < kMaxCopies; ++n) {
      EXPECT_EQ(hash->Index(key, n), RefKeyCrc(kCopyPolys[n], key, {n})) << key << " " << int{n};
    }
  }
  // Copy 0 is REFERENCE.md's formula: standard CRC-32 of key LE ++ 0.
  const uint8_t bytes[5] = {0x78, 0x56, 0x34, 0x12, 0};
  EXPECT_EQ(hash->Index(0x12345678, 0), RefCrc32(kCrc32Poly, bytes, 5));
}

// Why copies use different polynomials: with REFERENCE.md's one CRC-32 for
// every copy, copy 1's slot is copy 0's xor a constant for every key, so
// keys that collide in copy 0 collide in copy 1. With key_hash.h's, about
// 1/slots of them do.
TEST(DtaKeyHash, CopiesCollideIndependently) {
  absl::StatusOr<KeyHash> hash = KeyHash::Create();
  ASSERT_TRUE(hash.ok());
  constexpr uint64_t kSlots = 1 << 12;
  std::mt19937 rng(9);
  std::set<uint64_t> same_poly_offsets;
  std::map<uint64_t, std::vector<uint32_t>> by_slot0;
  for (int i = 0; i < 20000; ++i) {
    const uint32_t key = rng();
    same_poly_offsets.insert((RefKeyCrc(kCrc32Poly, key, {0}) ^ RefKeyCrc(kCrc32Poly, key, {1})) &
                             (kSlots - 1));
    by_slot0[hash->Index(key, 0) & (kSlots - 1)].push_back(key);
  }
  EXPECT_EQ(same_poly_offsets.size(), 1u) << "REFERENCE.md's copies are one slot xor a constant";
  uint64_t pairs = 0, also_copy1 = 0;
  for (const auto& [slot, keys] : by_slot0) {
    for (size_t i = 0; i < keys.size(); ++i) {
      for (size_t j = i + 1; j < keys.size(); ++j) {
        ++pairs;
        also_copy1 +=
            (hash->Index(keys[i], 1) & (kSlots - 1)) == (hash->Index(keys[j], 1) & (kSlots - 1));
      }
    }
  }
  std::printf("copy-0 colliding pairs: %lu, also colliding in copy 1: %lu\n",
              static_cast<unsigned long>(pairs), static_cast<unsigned long>(also_copy1));
  ASSERT_GT(pairs, 10000u);
  EXPECT_LT(also_copy1, pairs / 200);
}

// --- Key-Write ------------------------------------------------------------

// The translator as key_write.h describes it, written from the reference.
void NaiveKeyWrite(uint8_t* memory, uint64_t slots, uint32_t key, uint32_t data, uint8_t copies) {
  const uint32_t checksum = RefKeyCrc(kCrc32Poly, key);
  for (uint8_t n = 0; n < copies; ++n) {
    uint8_t* slot = memory + RefSlot(key, n, slots) * 8;
    for (int i = 0; i < 4; ++i) slot[i] = static_cast<uint8_t>(checksum >> (8 * i));
    for (int i = 0; i < 4; ++i) slot[4 + i] = static_cast<uint8_t>(data >> (24 - 8 * i));
  }
}

// A key whose copy `n` lands on `slot`, other than `not_this`.
uint32_t KeyAtSlot(uint64_t slot, uint8_t n, uint64_t slots, uint32_t not_this) {
  for (uint32_t key = 1;; ++key) {
    if (key != not_this && RefSlot(key, n, slots) == slot) return key;
  }
}

TEST(DtaKeyWrite, LayoutAndBytes) {
  EXPECT_FALSE(KeyWriteLayout::Create(0).ok());
  EXPECT_THAT(KeyWriteLayout::Create(1000).status().message(), HasSubstr("power of two"));
  EXPECT_FALSE(KeyWriteLayout::Create(uint64_t{1} << 33).ok());
  absl::StatusOr<KeyWriteLayout> kw = KeyWriteLayout::Create(1 << 10);
  ASSERT_TRUE(kw.ok());
  EXPECT_EQ(kw->bytes(), 8u << 10);
  const uint32_t key = 0xdeadbeef;
  for (uint8_t n = 0; n < kMaxCopies; ++n) {
    EXPECT_EQ(kw->SlotIndex(key, n), RefSlot(key, n, 1 << 10));
    EXPECT_EQ(kw->SlotOffset(key, n), RefSlot(key, n, 1 << 10) * 8);
  }
  const uint32_t checksum = RefKeyCrc(kCrc32Poly, key);
  const std::array<uint8_t, 8> expected = {static_cast<uint8_t>(checksum),
                                           static_cast<uint8_t>(checksum >> 8),
                                           static_cast<uint8_t>(checksum >> 16),
                                           static_cast<uint8_t>(checksum >> 24),
                                           0x01,
                                           0x02,
                                           0x03,
                                           0x04};
  EXPECT_EQ(kw->SlotBytes(key, 0x01020304), expected);

  Region small(100);
  EXPECT_THAT(kw->CheckRegion(small.span()).message(), HasSubstr("8192 bytes"));
  Region region(kw->bytes());
  EXPECT_TRUE(kw->CheckRegion(region.span()).ok());
  Region larger(kw->bytes() + 8);
  EXPECT_THAT(kw->CheckRegion(larger.span().subspan(4)).message(), HasSubstr("aligned"));
}

// A Key-Write store of 4096 slots in fresh memory.
class DtaKeyWriteQuery : public ::testing::Test {
 protected:
  static constexpr uint64_t kSlots = 1 << 12;
  DtaKeyWriteQuery() : kw(KeyWriteLayout::Create(kSlots)), region(kSlots * 8), mem(region.span()) {}
  void SetUp() override { ASSERT_TRUE(kw.ok()); }

  // Queries `key` and expects the answer `data` with these votes and matches.
  void ExpectAnswer(uint32_t key, uint8_t copies, uint8_t threshold, uint32_t data, int votes,
                    int matches) {
    const KeyWriteAnswer ans = kw->Query(mem, key, copies, threshold);
    EXPECT_TRUE(ans.found);
    EXPECT_EQ(ans.data, data);
    EXPECT_EQ(ans.votes, votes);
    EXPECT_EQ(ans.matches, matches);
  }

  absl::StatusOr<KeyWriteLayout> kw;
  Region region;
  std::span<const uint8_t> mem;
};

TEST_F(DtaKeyWriteQuery, VoteAndThreshold) {
  const uint32_t a = 0x0a000001;

  EXPECT_FALSE(kw->Query(mem, a, 2, 1).found) << "never written";
  NaiveKeyWrite(region.data(), kSlots, a, 111, 2);
  ExpectAnswer(a, 2, 2, 111, 2, 2);

  // A newer write of the same key replaces both copies.
  NaiveKeyWrite(region.data(), kSlots, a, 222, 2);
  EXPECT_EQ(kw->Query(mem, a, 2, 2).data, 222u);

  // Another key overwrites copy 0: one vote left.
  const uint32_t b = KeyAtSlot(RefSlot(a, 0, kSlots), 0, kSlots, a);
  NaiveKeyWrite(region.data(), kSlots, b, 333, 1);
  ExpectAnswer(a, 2, 1, 222, 1, 1);
  KeyWriteAnswer ans = kw->Query(mem, a, 2, 2);
  EXPECT_FALSE(ans.found) << "threshold 2 with one surviving copy";
  EXPECT_EQ(ans.data, 0u);
  EXPECT_EQ(ans.votes, 1);
  ExpectAnswer(b, 1, 1, 333, 1, 1);

  // And copy 1: no answer, never b's data.
  const uint32_t c = KeyAtSlot(RefSlot(a, 1, kSlots), 0, kSlots, a);
  NaiveKeyWrite(region.data(), kSlots, c, 444, 1);
  ans = kw->Query(mem, a, 2, 1);
  EXPECT_FALSE(ans.found);
  EXPECT_EQ(ans.matches, 0);

  // Redundancy out of range, threshold above N, short memory.
  const uint32_t d = 77;
  NaiveKeyWrite(region.data(), kSlots, d, 5, 4);
  EXPECT_TRUE(kw->Query(mem, d, 4, 4).found);
  EXPECT_TRUE(kw->Query(mem, d, 4, 0).found) << "threshold 0 counts as 1";
  EXPECT_FALSE(kw->Query(mem, d, 4, 5).found);
  EXPECT_FALSE(kw->Query(mem, d, 0, 1).found);
  EXPECT_FALSE(kw->Query(mem, d, 5, 1).found);
  EXPECT_FALSE(kw->Query(mem.first(mem.size() - 8), d, 4, 1).found);
}

TEST_F(DtaKeyWriteQuery, PluralityAndTies) {
  const uint32_t key = 0x01020304;
  ASSERT_EQ(std::set<uint64_t>(
                {RefSlot(key, 0, kSlots), RefSlot(key, 1, kSlots), RefSlot(key, 2, kSlots)})
                .size(),
            3u);
  // Stale copies (as a lost WRITE would leave): copies 0 and 1 say 7, copy 2 says 8.
  NaiveKeyWrite(region.data(), kSlots, key, 8, 3);
  NaiveKeyWrite(region.data(), kSlots, key, 7, 2);
  ExpectAnswer(key, 3, 2, 7, 2, 3);
  EXPECT_FALSE(kw->Query(mem, key, 3, 3).found);
  // Two copies, two values: a tie is no answer.
  EXPECT_TRUE(kw->Query(mem, key, 2, 2).found);
  std::memcpy(region.data() + RefSlot(key, 1, kSlots) * 8 + 4, "\0\0\0\x09", 4);
  const KeyWriteAnswer ans = kw->Query(mem, key, 2, 1);
  EXPECT_FALSE(ans.found);
  EXPECT_EQ(ans.votes, 1);
  EXPECT_EQ(ans.matches, 2);
}

// The key whose checksum is 0, by solving CRC(k) = 0 over GF(2): over 4
// bytes CRC(k) = M k ^ CRC(0) with M invertible (a bijection).
uint32_t KeyWithZeroChecksum() {
  const uint32_t c0 = RefKeyCrc(kCrc32Poly, 0);
  // Rows of the augmented system [M | CRC(0)], one per output bit.
  std::array<uint64_t, 32> rows{};
  for (int in = 0; in < 32; ++in) {
    const uint32_t column = RefKeyCrc(kCrc32Poly, 1u << in) ^ c0;
    for (int out = 0; out < 32; ++out) rows[out] |= uint64_t{(column >> out) & 1} << in;
  }
  for (int out = 0; out < 32; ++out) rows[out] |= uint64_t{(c0 >> out) & 1} << 32;
  for (int col = 0; col < 32; ++col) {
    int pivot = col;
    while (((rows[pivot] >> col) & 1) == 0) ++pivot;
    std::swap(rows[col], rows[pivot]);
    for (int r = 0; r < 32; ++r) {
      if (r != col && ((rows[r] >> col) & 1)) rows[r] ^= rows[col];
    }
  }
  uint32_t key = 0;
  for (int bit = 0; bit < 32; ++bit) key |= static_cast<uint32_t>((rows[bit] >> 32) & 1) << bit;
  return key;
}

TEST(DtaKeyWrite, EmptySlotsNeverVote) {
  const uint32_t key = KeyWithZeroChecksum();
  ASSERT_EQ(RefKeyCrc(kCrc32Poly, key), 0u) << key;
  absl::StatusOr<KeyWriteLayout> kw = KeyWriteLayout::Create(1 << 8);
  ASSERT_TRUE(kw.ok());
  Region region(kw->bytes());
  EXPECT_FALSE(kw->Query(region.span(), key, 4, 1).found) << "an empty store has no answers";
  NaiveKeyWrite(region.data(), 1 << 8, key, 42, 2);
  EXPECT_EQ(kw->Query(region.span(), key, 2, 2).data, 42u);
}

// The paper's figures (REFERENCE.md: at load factor 0.1, no answer 9.5% at
// N=1, < 3.3% at N=2, 1.2% at N=4; wrong answers <= 1.6e-11). Load factor
// here: distinct keys / slots, each key written once (N copies) in random
// order, then every key queried.
struct Rates {
  double no_answer = 0;
  uint64_t wrong = 0;
};

template <typename SlotFn, typename QueryFn>
Rates Simulate(uint8_t copies, uint64_t slots, const std::vector<uint32_t>& keys, SlotFn slot_of,
               QueryFn query) {
  // Per slot the 8 bytes of key_write.h as a little-endian (x86) uint64_t:
  // the checksum, then the data in network order.
  std::vector<uint64_t> memory(slots, 0);
  std::mt19937 rng(copies);
  absl::flat_hash_map<uint32_t, uint32_t> latest;
  for (uint32_t key : keys) {
    const uint32_t data = rng() | 1;
    latest[key] = data;
    for (uint8_t n = 0; n < copies; ++n) {
      memory[slot_of(key, n)] = RefKeyCrc(kCrc32Poly, key) | uint64_t{__builtin_bswap32(data)}
                                                                 << 32;
    }
  }
  Rates rates;
  uint64_t unanswered = 0;
  for (uint32_t key : keys) {
    const std::optional<uint32_t> answer = query(memory, key);
    if (!answer) {
      ++unanswered;
    } else if (*answer != latest[key]) {
      ++rates.wrong;
    }
  }
  rates.no_answer = static_cast<double>(unanswered) / static_cast<double>(keys.size());
  return rates;
}

TEST(DtaKeyWrite, PaperFiguresAtLoadFactorTenth) {
  constexpr uint64_t kSlots = 1 << 20;
  absl::StatusOr<KeyWriteLayout> kw = KeyWriteLayout::Create(kSlots);
  ASSERT_TRUE(kw.ok());
  std::mt19937 rng(2023);
  absl::flat_hash_set<uint32_t> distinct;
  while (distinct.size() < kSlots / 10) distinct.insert(rng());
  std::vector<uint32_t> keys(distinct.begin(), distinct.end());
  // absl's hash order changes from run to run; the write order must not.
  std::sort(keys.begin(), keys.end());
  std::shuffle(keys.begin(), keys.end(), rng);

  std::map<std::pair<int, int>, Rates> measured;
  for (uint8_t copies : {1, 2, 4}) {
    for (uint8_t threshold = 1; threshold <= std::min<int>(copies, 2); ++threshold) {
      // Written by the naive writer's layout, read by KeyWriteLayout::Query
      // over the same bytes.
      const Rates r = Simulate(
          copies, kSlots, keys, [&](uint32_t key, uint8_t n) { return RefSlot(key, n, kSlots); },
          [&](const std::vector<uint64_t>& memory, uint32_t key) -> std::optional<uint32_t> {
            const KeyWriteAnswer a =
                kw->Query(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(memory.data()),
                                                   memory.size() * 8),
                          key, copies, threshold);
            if (!a.found) return std::nullopt;
            return a.data;
          });
      measured[{copies, threshold}] = r;
      std::printf("Key-Write N=%d threshold=%d load 0.1 (%zu keys): no answer %.2f%%, wrong %lu\n",
                  copies, threshold, keys.size(), 100 * r.no_answer,
                  static_cast<unsigned long>(r.wrong));
    }
  }
  // REFERENCE.md's formula (CRC-32 for every copy) with the same plurality.
  const Rates same_poly = Simulate(
      2, kSlots, keys,
      [&](uint32_t key, uint8_t n) { return RefKeyCrc(kCrc32Poly, key, {n}) & (kSlots - 1); },
      [&](const std::vector<uint64_t>& memory, uint32_t key) -> std::optional<uint32_t> {
        for (uint8_t n = 0; n < 2; ++n) {
          const uint64_t slot = memory[RefKeyCrc(kCrc32Poly, key, {n}) & (kSlots - 1)];
          if (static_cast<uint32_t>(slot) == RefKeyCrc(kCrc32Poly, key)) {
            return __builtin_bswap32(static_cast<uint32_t>(slot >> 32));
          }
        }
        return std::nullopt;
      });
  std::printf("Key-Write N=2 with one CRC-32 for both copies: no answer %.2f%%, wrong %lu\n",
              100 * same_poly.no_answer, static_cast<unsigned long>(same_poly.wrong));

  for (const auto& [config, r] : measured) EXPECT_EQ(r.wrong, 0u) << config.first;
  const auto no_answer = [&](int copies, int threshold) {
    return measured[{copies, threshold}].no_answer;
  };
  EXPECT_LT(no_answer(1, 1), 0.095);
  EXPECT_LT(no_answer(2, 1), 0.033);
  EXPECT_LT(no_answer(4, 1), 0.012);
  EXPECT_LT(no_answer(2, 1), no_answer(1, 1) / 2);
  EXPECT_LT(no_answer(4, 1), no_answer(2, 1));
  // Threshold 2 needs both copies: more keys go unanswered, still none wrong.
  EXPECT_GT(no_answer(2, 2), no_answer(2, 1));
  EXPECT_GT(same_poly.no_answer, 2 * no_answer(2, 1));
}

// --- Key-Increment --------------------------------------------------------

TEST(DtaKeyIncrement, LayoutAndOffsets) {
  EXPECT_THAT(KeyIncrementLayout::Create(0, 16).status().message(), HasSubstr("rows is 0"));
  EXPECT_FALSE(KeyIncrementLayout::Create(5, 16).ok());
  EXPECT_FALSE(KeyIncrementLayout::Create(2, 24).ok());
  absl::StatusOr<KeyIncrementLayout> ki = KeyIncrementLayout::Create(3, 1 << 10);
  ASSERT_TRUE(ki.ok());
  EXPECT_EQ(ki->bytes(), 3u * 8 * 1024);
  std::mt19937 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t key = rng();
    for (uint8_t r = 0; r < 3; ++r) {
      const uint64_t off = ki->SlotOffset(key, r);
      EXPECT_EQ(off % 8, 0u);
      EXPECT_EQ(off, (r * 1024 + RefSlot(key, r, 1024)) * 8);
    }
  }
}

TEST(DtaKeyIncrement, MinimumNeverUnderestimates) {
  constexpr uint64_t kSlots = 1 << 8;
  constexpr uint8_t kRows = 3;
  absl::StatusOr<KeyIncrementLayout> ki = KeyIncrementLayout::Create(kRows, kSlots);
  ASSERT_TRUE(ki.ok());
  for (int keys_count : {40, 600}) {
    Region region(ki->bytes());
    std::mt19937 rng(keys_count);
    std::vector<uint32_t> keys(keys_count);
    for (uint32_t& k : keys) k = rng();
    absl::flat_hash_map<uint32_t, uint64_t> truth;
    // Who shares each counter (row, slot).
    std::map<std::pair<int, uint64_t>, std::set<uint32_t>> sharers;
    for (int i = 0; i < 20000; ++i) {
      const uint32_t key = keys[rng() % keys.size()];
      const uint64_t add = rng() % 1500 + 1;  // bytes of a packet, say
      truth[key] += add;
      // A FETCH_ADD as the soft RNIC does it: a host-order uint64_t.
      for (uint8_t r = 0; r < kRows; ++r) {
        const uint64_t slot = RefSlot(key, r, kSlots);
        uint8_t* counter = region.data() + (r * kSlots + slot) * 8;
        uint64_t v;
        std::memcpy(&v, counter, 8);
        v += add;
        std::memcpy(counter, &v, 8);
        sharers[{r, slot}].insert(key);
      }
    }
    int exact = 0, expected_exact = 0;
    for (const auto& [key, count] : truth) {
      const std::optional<uint64_t> estimate = ki->Query(region.span(), key, kRows);
      ASSERT_TRUE(estimate.has_value());
      EXPECT_GE(*estimate, count);
      bool alone_somewhere = false;
      for (uint8_t r = 0; r < kRows; ++r) {
        alone_somewhere |= sharers[{r, RefSlot(key, r, kSlots)}].size() == 1;
      }
      if (alone_somewhere) {
        ++expected_exact;
        EXPECT_EQ(*estimate, count) << key;
      }
      exact += *estimate == count;
    }
    std::printf("Key-Increment %d keys in %d rows of %lu: %d exact, %d with a counter to itself\n",
                static_cast<int>(truth.size()), kRows, static_cast<unsigned long>(kSlots), exact,
                expected_exact);
    EXPECT_GE(exact, expected_exact);
    EXPECT_GT(expected_exact, static_cast<int>(truth.size()) / (keys_count == 40 ? 2 : 8));
  }
  Region region(ki->bytes());
  EXPECT_FALSE(ki->Query(region.span(), 1, 0).has_value());
  EXPECT_FALSE(ki->Query(region.span(), 1, 4).has_value());
  EXPECT_FALSE(ki->Query(region.span().first(8), 1, 1).has_value());
  EXPECT_EQ(ki->Query(region.span(), 1, 2), 0u);
}

// --- Append ---------------------------------------------------------------

// The translator as append.h describes it: batches at the position, then
// (every head_interval batches) the position into the list's head.
class NaiveAppender {
 public:
  NaiveAppender(uint8_t* memory, uint32_t lists, uint64_t entries, uint32_t batch,
                uint32_t interval)
      : memory_(memory),
        lists_(lists),
        entries_(entries),
        batch_(batch),
        interval_(interval),
        position_(lists, 0) {}

  void Batch(uint32_t list, const std::vector<uint32_t>& values) {
    const uint64_t heads = (lists_ * 8 + 63) / 64 * 64;
    uint64_t& pos = position_[list];
    uint8_t* at = memory_ + heads + list * entries_ * 4 + (pos % entries_) * 4;
    for (uint32_t v : values) {
      const uint32_t be = __builtin_bswap32(v);
      __atomic_store_n(reinterpret_cast<uint32_t*>(at), be, __ATOMIC_RELAXED);
      at += 4;
    }
    pos += batch_;
    if ((pos / batch_) % interval_ == 0) {
      Publish(list, pos);
      // Later entries must not become visible before this head: a reader
      // that sees them overwritten then also sees a head that says so (the
      // NIC places WRITEs of one queue pair in order).
      __atomic_thread_fence(__ATOMIC_RELEASE);
    }
  }
  void Publish(uint32_t list, uint64_t head) {
    __atomic_store_n(reinterpret_cast<uint64_t*>(memory_ + list * 8), head, __ATOMIC_RELEASE);
  }
  uint64_t position(uint32_t list) const { return position_[list]; }

 private:
  uint8_t* memory_;
  uint32_t lists_;
  uint64_t entries_;
  uint32_t batch_;
  uint32_t interval_;
  std::vector<uint64_t> position_;
};

// Entry values a reader can check: what position p of list l must hold.
uint32_t Expected(uint32_t list, uint64_t p) {
  return static_cast<uint32_t>((p + 1) * 2654435761u) ^ (list << 24);
}

TEST(DtaAppend, LayoutOffsets) {
  EXPECT_THAT(AppendLayout::Create(1, 64, 3).status().message(), HasSubstr("batch is 3"));
  EXPECT_FALSE(AppendLayout::Create(0, 64, 4).ok());
  EXPECT_FALSE(AppendLayout::Create(1, 48, 4).ok());
  EXPECT_THAT(AppendLayout::Create(1, 16, 16).status().message(), HasSubstr("above batch"));
  EXPECT_FALSE(AppendLayout::Create(1, 64, 16, 4).ok());
  EXPECT_FALSE(AppendLayout::Create(1, 64, 16, 0).ok());
  absl::StatusOr<AppendLayout> ap = AppendLayout::Create(3, 64, 4, 2);
  ASSERT_TRUE(ap.ok());
  EXPECT_EQ(ap->heads_bytes(), 64u);
  EXPECT_EQ(ap->bytes(), 64u + 3 * 64 * 4);
  EXPECT_EQ(ap->BatchBytes(), 16u);
  EXPECT_EQ(ap->HeadOffset(2), 16u);
  EXPECT_EQ(ap->EntryOffset(0, 0), 64u);
  EXPECT_EQ(ap->EntryOffset(1, 4), 64u + 256 + 16);
  EXPECT_EQ(ap->EntryOffset(2, 64 + 60), 64u + 512 + 240) << "wraps";
  EXPECT_FALSE(ap->PublishesHead(4));
  EXPECT_TRUE(ap->PublishesHead(8));
  EXPECT_EQ(AppendLayout::Create(9, 16, 1)->heads_bytes(), 128u);

  std::array<uint8_t, 8> batch;
  const std::array<uint32_t, 2> values = {0x01020304, 0xa0b0c0d0};
  AppendLayout::PutEntries(values, batch.data());
  EXPECT_EQ(batch, (std::array<uint8_t, 8>{1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0}));
  std::array<uint8_t, 8> head;
  AppendLayout::PutHead(0x0102030405060708, head.data());
  EXPECT_EQ(head, (std::array<uint8_t, 8>{8, 7, 6, 5, 4, 3, 2, 1}));
}

TEST(DtaAppend, ReadsAcrossWrapAndCountsLosses) {
  for (uint32_t batch : {1u, 2u, 4u, 8u, 16u}) {
    SCOPED_TRACE(batch);
    constexpr uint64_t kEntries = 64;
    absl::StatusOr<AppendLayout> ap = AppendLayout::Create(2, kEntries, batch);
    ASSERT_TRUE(ap.ok()) << ap.status();
    Region region(ap->bytes());
    NaiveAppender writer(region.data(), 2, kEntries, batch, 1);
    const auto write = [&](uint32_t list, int batches) {
      for (int b = 0; b < batches; ++b) {
        std::vector<uint32_t> values;
        for (uint32_t i = 0; i < batch; ++i)
          values.push_back(Expected(list, writer.position(list) + i));
        writer.Batch(list, values);
      }
    };
    const auto check = [&](uint32_t list, uint64_t from, const std::vector<uint32_t>& got) {
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], Expected(list, from + i)) << i;
    };
    std::vector<uint32_t> got;
    AppendRead r = ap->ReadSince(region.span(), 0, 0, &got);
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(r.next, 0u);

    // Most of a ring, then across its end.
    write(0, static_cast<int>(48 / batch));
    write(1, 1);
    r = ap->ReadSince(region.span(), 0, 0, &got);
    EXPECT_EQ(r.next, 48u);
    EXPECT_EQ(r.lost, 0u);
    EXPECT_EQ(got.size(), 48u);
    check(0, 0, got);
    write(0, static_cast<int>(32 / batch));
    got.clear();
    r = ap->ReadSince(region.span(), 0, 48, &got);
    EXPECT_EQ(r.next, 80u);
    EXPECT_EQ(r.lost, 0u);
    ASSERT_EQ(got.size(), 32u);
    check(0, 48, got);
    got.clear();
    r = ap->ReadSince(region.span(), 1, 0, &got);
    EXPECT_EQ(got.size(), batch);
    check(1, 0, got);

    // Falling more than a ring behind: what was overwritten is counted.
    write(0, static_cast<int>(200 / batch));
    got.clear();
    r = ap->ReadSince(region.span(), 0, 80, &got);
    const uint64_t head = 80 + 200 / batch * batch;
    EXPECT_EQ(r.next, head);
    // The newest batch may be being written: a ring minus one batch is safe.
    EXPECT_EQ(got.size(), kEntries - batch);
    EXPECT_EQ(r.lost, head - 80 - got.size());
    check(0, head - got.size(), got);

    // The translator restarts the list: the head goes back to 0.
    writer.Publish(0, 0);
    got.clear();
    r = ap->ReadSince(region.span(), 0, head, &got);
    EXPECT_TRUE(r.reset);
    EXPECT_EQ(r.next, 0u);
    EXPECT_TRUE(got.empty());

    // Bad list, short memory: nothing read.
    r = ap->ReadSince(region.span(), 2, 5, &got);
    EXPECT_EQ(r.next, 5u);
    r = ap->ReadSince(region.span().first(10), 0, 5, &got);
    EXPECT_EQ(r.next, 5u);
    EXPECT_TRUE(got.empty());
  }
}

TEST(DtaAppend, HeadIntervalDelaysTheNewestBatches) {
  absl::StatusOr<AppendLayout> ap = AppendLayout::Create(1, 64, 4, 3);
  ASSERT_TRUE(ap.ok());
  Region region(ap->bytes());
  NaiveAppender writer(region.data(), 1, 64, 4, 3);
  for (int b = 0; b < 5; ++b) writer.Batch(0, {1, 2, 3, 4});
  std::vector<uint32_t> got;
  const AppendRead r = ap->ReadSince(region.span(), 0, 0, &got);
  EXPECT_EQ(r.next, 12u) << "published after batch 3; batches 4 and 5 wait for batch 6";
  EXPECT_EQ(got.size(), 12u);
}

// A writer thread laps a small ring while a reader follows: every entry read
// must be the one written at its position, and read + lost must add up.
TEST(DtaAppend, ConcurrentReaderSeesNoOverwrittenEntry) {
  constexpr uint64_t kEntries = 64;
  constexpr uint32_t kBatch = 4, kInterval = 2;
  constexpr uint64_t kBatches = 200000;
  absl::StatusOr<AppendLayout> ap = AppendLayout::Create(1, kEntries, kBatch, kInterval);
  ASSERT_TRUE(ap.ok());
  Region region(ap->bytes());
  std::atomic<bool> done{false};
  std::thread writer_thread([&] {
    NaiveAppender writer(region.data(), 1, kEntries, kBatch, kInterval);
    for (uint64_t b = 0; b < kBatches; ++b) {
      std::vector<uint32_t> values;
      for (uint32_t i = 0; i < kBatch; ++i) values.push_back(Expected(0, b * kBatch + i));
      writer.Batch(0, values);
      // Slow enough that the reader keeps up at times, not always.
      for (int spin = 0; spin < 50; ++spin) __builtin_ia32_pause();
    }
    done.store(true, std::memory_order_release);
  });
  uint64_t position = 0, read = 0, lost = 0, reads = 0;
  std::vector<uint32_t> got;
  bool wrong = false;
  while (true) {
    const bool last = done.load(std::memory_order_acquire);
    got.clear();
    const AppendRead r = ap->ReadSince(region.span(), 0, position, &got);
    wrong |= r.reset;
    const uint64_t first = r.next - got.size();
    for (size_t i = 0; i < got.size(); ++i) wrong |= got[i] != Expected(0, first + i);
    read += got.size();
    lost += r.lost;
    position = r.next;
    ++reads;
    if (last) break;
  }
  writer_thread.join();
  std::printf("Append race: %lu entries read, %lu lost, in %lu reads\n",
              static_cast<unsigned long>(read), static_cast<unsigned long>(lost),
              static_cast<unsigned long>(reads));
  EXPECT_FALSE(wrong);
  EXPECT_EQ(position, kBatches * kBatch);
  EXPECT_EQ(read + lost, kBatches * kBatch);
}

// --- Postcarding ----------------------------------------------------------

TEST(DtaPostcarding, HopCrcsAreTofinos) {
  absl::StatusOr<PostcardingLayout> pc = PostcardingLayout::Create(1 << 10, 2);
  ASSERT_TRUE(pc.ok());
  std::mt19937 rng(3);
  for (int hop = 0; hop < kPostcardHops; ++hop) {
    // What a Tofino computes for the translator's CRCPolynomial<bit<32>>(
    // coeff, reversed=true, msb=false, extended=false, 0xFFFFFFFF, 0xFFFFFFFF).
    absl::StatusOr<net::CrcSpec> tofino =
        pipe::CrcSpecFromTna(32, kHopPolyCoefficients[hop], true, 0xffffffff, 0xffffffff);
    ASSERT_TRUE(tofino.ok());
    EXPECT_EQ(PostcardingLayout::HopCrcSpec(hop), *tofino);
    for (int i = 0; i < 200; ++i) {
      const uint32_t key = rng();
      EXPECT_EQ(pc->HopMask(key, hop), RefKeyCrc(kHopPolyCoefficients[hop] | 1, key));
    }
  }
}

// The translator as postcarding.h describes it.
void NaivePostcard(uint8_t* memory, uint64_t slots, uint32_t key, const PostcardHops& hops,
                   uint8_t copies) {
  for (uint8_t n = 0; n < copies; ++n) {
    uint8_t* slot = memory + RefSlot(key, n, slots) * 32;
    for (int h = 0; h < kPostcardHops; ++h) {
      const uint32_t encoded = hops[h] ^ RefKeyCrc(kHopPolyCoefficients[h] | 1, key);
      for (int i = 0; i < 4; ++i) slot[4 * h + i] = static_cast<uint8_t>(encoded >> (24 - 8 * i));
    }
  }
}

TEST(DtaPostcarding, RoundTripShortPathsAndOverwrites) {
  constexpr uint64_t kSlots = 1 << 10;
  EXPECT_FALSE(PostcardingLayout::Create(kSlots, 0).ok());
  EXPECT_FALSE(PostcardingLayout::Create(kSlots, 5).ok());
  EXPECT_FALSE(PostcardingLayout::Create(1000, 2).ok());
  absl::StatusOr<PostcardingLayout> pc = PostcardingLayout::Create(kSlots, 2);
  ASSERT_TRUE(pc.ok());
  EXPECT_EQ(pc->bytes(), kSlots * 32);
  Region region(pc->bytes());
  const auto mem = region.span();
  // Switch IDs 1..1000.
  const auto known = [](uint32_t v) { return v >= 1 && v <= 1000; };

  const uint32_t a = 0xc0a80001;
  const PostcardHops full = {11, 22, 33, 44, 55};
  EXPECT_EQ(pc->PathBytes(a, full).size(), 20u);
  NaivePostcard(region.data(), kSlots, a, full, 2);
  for (uint8_t n = 0; n < 2; ++n) {
    EXPECT_EQ(pc->SlotOffset(a, n), RefSlot(a, n, kSlots) * 32);
    const auto bytes = pc->PathBytes(a, full);
    EXPECT_EQ(std::memcmp(bytes.data(), region.data() + pc->SlotOffset(a, n), 20), 0);
  }
  PostcardAnswer ans = pc->Query(mem, a, 2, known, 2);
  EXPECT_TRUE(ans.found);
  EXPECT_EQ(ans.hops, full);
  EXPECT_EQ(ans.length, 5);
  EXPECT_EQ(ans.votes, 2);

  // A 3-hop path: blanks after hop 3.
  const uint32_t b = 0xc0a80002;
  const PostcardHops short_path = {7, 8, 9, kBlankHop, kBlankHop};
  NaivePostcard(region.data(), kSlots, b, short_path, 2);
  ans = pc->Query(mem, b, 2, known);
  EXPECT_TRUE(ans.found);
  EXPECT_EQ(ans.hops, short_path);
  EXPECT_EQ(ans.length, 3);

  // Another flow overwrites a's copy 0: that copy decodes to garbage.
  const uint32_t c = KeyAtSlot(RefSlot(a, 0, kSlots), 0, kSlots, a);
  NaivePostcard(region.data(), kSlots, c, {100, 200, kBlankHop, kBlankHop, kBlankHop}, 1);
  EXPECT_FALSE(pc->Decode(region.data() + pc->SlotOffset(a, 0), a, known).valid);
  ans = pc->Query(mem, a, 2, known, 1);
  EXPECT_TRUE(ans.found);
  EXPECT_EQ(ans.hops, full);
  EXPECT_EQ(ans.votes, 1);
  EXPECT_EQ(ans.valid_copies, 1);
  EXPECT_FALSE(pc->Query(mem, a, 2, known, 2).found);
  // Accepting every value, the two copies disagree: a tie, no answer.
  EXPECT_FALSE(pc->Query(mem, a, 2, [](uint32_t) { return true; }).found);

  // Never written; copies out of range; short memory.
  ans = pc->Query(mem, 0x0badf00d, 2, known);
  EXPECT_FALSE(ans.found);
  EXPECT_EQ(ans.valid_copies, 0);
  EXPECT_EQ(ans.hops, (PostcardHops{kBlankHop, kBlankHop, kBlankHop, kBlankHop, kBlankHop}));
  EXPECT_FALSE(pc->Query(mem, b, 3, known).found);
  EXPECT_FALSE(pc->Query(mem, b, 0, known).found);
  EXPECT_FALSE(pc->Query(mem.first(64), b, 2, known).found);

  // An all-blank copy is not a path.
  NaivePostcard(region.data(), kSlots, 99, {kBlankHop, kBlankHop, kBlankHop, kBlankHop, kBlankHop},
                1);
  EXPECT_FALSE(pc->Decode(region.data() + pc->SlotOffset(99, 0), 99, known).valid);
}

TEST(DtaPostcarding, GarbageIsDetected) {
  constexpr uint64_t kSlots = 1 << 12;
  absl::StatusOr<PostcardingLayout> pc = PostcardingLayout::Create(kSlots, 2);
  ASSERT_TRUE(pc.ok());
  Region region(pc->bytes());
  std::mt19937_64 rng(17);
  region.Fill(rng);
  const auto known = [](uint32_t v) { return v < 1000; };
  int valid_copies = 0, hops_passing = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint32_t key = static_cast<uint32_t>(rng());
    const PostcardAnswer ans = pc->Query(region.span(), key, 2, known);
    EXPECT_FALSE(ans.found);
    valid_copies += ans.valid_copies;
    const PostcardCopy copy = pc->Decode(region.data() + pc->SlotOffset(key, 0), key, known);
    for (uint32_t v : copy.hops) hops_passing += v == kBlankHop || known(v);
  }
  std::printf("Postcarding on random memory: %d valid copies, %d of 100000 hops in the set\n",
              valid_copies, hops_passing);
  EXPECT_EQ(valid_copies, 0);
  EXPECT_LT(hops_passing, 5) << "a hop passes with probability ~1001/2^32";
}

// --- Layout ---------------------------------------------------------------

TEST(DtaLayout, RegionsFromConfig) {
  absl::StatusOr<Layout> none = Layout::Create({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->Regions().empty());

  LayoutConfig config;
  config.keywrite_slots = 1 << 20;
  config.keyincrement_rows = 2;
  config.keyincrement_slots = 1 << 16;
  config.append_lists = 4;
  config.append_entries = 1 << 12;
  config.append_batch = 16;
  config.postcarding_slots = 1 << 10;
  config.postcarding_copies = 2;
  absl::StatusOr<Layout> layout = Layout::Create(config);
  ASSERT_TRUE(layout.ok()) << layout.status();
  const std::vector<RegionSize> regions = layout->Regions();
  ASSERT_EQ(regions.size(), 4u);
  EXPECT_EQ(regions[0].name, "dta.keywrite");
  EXPECT_EQ(regions[0].bytes, 8u << 20);
  EXPECT_EQ(regions[1].name, "dta.keyincrement");
  EXPECT_EQ(regions[1].bytes, 2u * 8 << 16);
  EXPECT_EQ(regions[2].name, "dta.append");
  EXPECT_EQ(regions[2].bytes, 64u + 4 * 4 * 4096);
  EXPECT_EQ(regions[3].name, "dta.postcarding");
  EXPECT_EQ(regions[3].bytes, 32u << 10);

  config.append_batch = 5;
  EXPECT_THAT(Layout::Create(config).status().message(), HasSubstr("Append batch is 5"));
  config.append_batch = 16;
  config.keywrite_slots = 3;
  EXPECT_THAT(Layout::Create(config).status().message(), HasSubstr("Key-Write slots is 3"));
}

}  // namespace
}  // namespace softfino::dta
