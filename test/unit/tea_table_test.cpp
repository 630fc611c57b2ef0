// TEA's table in collector memory (tea/) against independent truths: a
// bit-at-a-time CRC-32 written here (checked on the catalogue's value), a
// std::unordered_map holding what should be present, and memory read at the
// offsets layout.h documents, computed here from the formulas, not from
// Layout: the contract the switch relies on.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "softfino/tea/key.h"
#include "softfino/tea/layout.h"
#include "softfino/tea/table.h"

namespace softfino::tea {
namespace {

using ::testing::HasSubstr;

// CRC-32/ISO-HDLC a bit at a time: reflected, polynomial 0xedb88320
// reversed, init and xor-out all ones.
uint32_t ReferenceCrc32(const uint8_t* data, size_t len) {
  uint32_t crc = 0xffffffff;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320u : 0);
  }
  return ~crc;
}

uint64_t H(const Key& k, uint64_t buckets) {
  return ReferenceCrc32(k.data(), k.size()) & (buckets - 1);
}

struct KeyHasher {
  size_t operator()(const Key& k) const {
    return std::hash<std::string>()(std::string(k.begin(), k.end()));
  }
};
using Reference = std::unordered_map<Key, uint64_t, KeyHasher>;

// Zeroed, 64-byte aligned memory, as the collector's regions are.
struct Memory {
  explicit Memory(uint64_t bytes)
      : size(bytes), data(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) & ~63ull))) {
    std::memset(data, 0, size);
  }
  ~Memory() { std::free(data); }
  std::span<uint8_t> span() { return {data, size}; }
  uint64_t size;
  uint8_t* data;
};

uint64_t Le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t Be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// The documented geometry, written out here: S slots of 32 bytes a bucket.
uint64_t Round64(uint64_t n) { return (n + 63) / 64 * 64; }
uint64_t DocBucketOffset(uint64_t b, uint32_t slots = 1) { return 64 + 32 * slots * b; }
uint64_t DocRowBytes(uint32_t packet, uint32_t slots = 1) { return Round64(64 * slots + packet); }
uint64_t DocShadowOffset(uint64_t buckets, uint32_t slots = 1) {
  return Round64(64 + (buckets + 1) * 32 * slots);
}
uint64_t DocRowOffset(uint64_t buckets, uint32_t packet, uint32_t lane, uint64_t h,
                      uint32_t slots = 1) {
  return DocShadowOffset(buckets, slots) + (lane * buckets + h) * DocRowBytes(packet, slots);
}

// A bucket decoded from raw bytes as layout.h describes it.
struct RawBucket {
  bool occupied;
  Key key;
  uint64_t value;
};
RawBucket Decode(const uint8_t* p) {
  RawBucket b;
  b.occupied = p[24] == 1;
  std::copy(p, p + 16, b.key.begin());
  b.value = Be(p + 16, 8);
  return b;
}

Key RandomKey(std::mt19937_64& rng) {
  Key k;
  for (auto& byte : k) byte = static_cast<uint8_t>(rng());
  return k;
}

absl::StatusOr<Table> MakeTable(Memory& m, uint64_t buckets, uint32_t packet = 0,
                                uint32_t lanes = 1, uint32_t slots = 1) {
  TableConfig c;
  c.name = "tea.test";
  c.buckets = buckets;
  c.slots = slots;
  c.shadow_packet_bytes = packet;
  c.shadow_lanes = lanes;
  absl::StatusOr<Layout> layout = Layout::Create(c);
  if (!layout.ok()) return layout.status();
  return Table::Create(*layout, m.span());
}

// Everything the memory says agrees with the reference: each key of the
// reference in bucket h or h+1 with its value, no other occupied entry,
// and every shadow row equal to its two buckets.
void ExpectMemoryMatches(const Memory& m, uint64_t buckets, uint32_t packet, uint32_t lanes,
                         uint32_t slots, const Reference& ref) {
  uint64_t occupied = 0;
  for (uint64_t b = 0; b <= buckets; ++b) {
    for (uint32_t s = 0; s < slots; ++s) {
      const RawBucket raw = Decode(m.data + DocBucketOffset(b, slots) + 32 * s);
      if (!raw.occupied) continue;
      ++occupied;
      auto it = ref.find(raw.key);
      ASSERT_NE(it, ref.end()) << "bucket " << b << " holds a key the reference lacks";
      EXPECT_EQ(raw.value, it->second);
      const uint64_t h = H(raw.key, buckets);
      EXPECT_TRUE(b == h || b == h + 1) << "key in bucket " << b << ", h " << h;
    }
  }
  EXPECT_EQ(occupied, ref.size());
  for (uint32_t lane = 0; packet != 0 && lane < lanes; ++lane) {
    for (uint64_t h = 0; h < buckets; ++h) {
      const uint8_t* row = m.data + DocRowOffset(buckets, packet, lane, h, slots);
      ASSERT_EQ(std::memcmp(row, m.data + DocBucketOffset(h, slots), 64 * slots), 0)
          << "shadow row " << h << " of lane " << lane << " differs from buckets h, h+1";
    }
  }
}

TEST(TeaKeyTest, HashIsCrc32OfTheKeyBytes) {
  const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  ASSERT_EQ(ReferenceCrc32(check, 9), 0xcbf43926u);  // the catalogue's check value
  absl::StatusOr<KeyHash> hash = KeyHash::Create();
  ASSERT_TRUE(hash.ok());
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const Key k = RandomKey(rng);
    ASSERT_EQ((*hash)(k), ReferenceCrc32(k.data(), k.size()));
  }
}

TEST(TeaKeyTest, FiveTupleForm) {
  FiveTuple t{0x0a000001, 0xc0a80102, 1234, 80, 6};
  const Key expected = {10, 0, 0, 1, 192, 168, 1, 2, 0x04, 0xd2, 0x00, 0x50, 6, 0, 0, 0};
  EXPECT_EQ(KeyOfFiveTuple(t), expected);
  EXPECT_EQ(KeyToHex(expected), "0x0a000001c0a8010204d2005006000000");
  absl::StatusOr<Key> back = KeyFromHex("0a000001c0a8010204d2005006000000");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, expected);
  EXPECT_THAT(KeyFromHex("0x1234").status().message(), HasSubstr("32 hex digits"));
  EXPECT_FALSE(KeyFromHex("0x0a000001c0a8010204d200500600000g").ok());
}

TEST(TeaLayoutTest, HeaderAndGeometryAsDocumented) {
  Memory m(DocShadowOffset(1024) + 2 * 1024 * DocRowBytes(100));
  absl::StatusOr<Table> t = MakeTable(m, 1024, 100, 2);
  ASSERT_TRUE(t.ok()) << t.status();
  const Layout& l = t->layout();
  EXPECT_EQ(l.bytes(), m.size);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(m.data), 8), "SFTEATB1");
  EXPECT_EQ(Le(m.data + 8, 4), 1u);
  EXPECT_EQ(Le(m.data + 12, 4), 32u);
  EXPECT_EQ(Le(m.data + 16, 8), 1024u);
  EXPECT_EQ(Le(m.data + 24, 8), 64u);
  EXPECT_EQ(Le(m.data + 32, 8), DocShadowOffset(1024));
  EXPECT_EQ(Le(m.data + 40, 4), 192u);  // 64 + 100 rounded up to 64
  EXPECT_EQ(Le(m.data + 44, 4), 100u);
  EXPECT_EQ(Le(m.data + 48, 4), 2u);
  EXPECT_EQ(Le(m.data + 52, 4), 16u);
  EXPECT_EQ(Le(m.data + 56, 4), 8u);
  EXPECT_EQ(Le(m.data + 60, 4), 1u);
  for (uint64_t h : {0ull, 1ull, 511ull, 1023ull}) {
    EXPECT_EQ(l.WindowOffset(h), DocBucketOffset(h));
    EXPECT_EQ(l.ShadowRowOffset(1, h), DocRowOffset(1024, 100, 1, h));
    EXPECT_EQ(l.ShadowPacketOffset(0, h), DocRowOffset(1024, 100, 0, h) + 64);
  }
}

TEST(TeaLayoutTest, MemoryMathForTensOfMillions) {
  TableConfig c;
  c.buckets = uint64_t{1} << 25;  // 33.5M buckets
  absl::StatusOr<Layout> plain = Layout::Create(c);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->bytes(), DocShadowOffset(c.buckets));  // ~1 GiB
  c.shadow_packet_bytes = 256;
  absl::StatusOr<Layout> shadow = Layout::Create(c);
  ASSERT_TRUE(shadow.ok());
  EXPECT_EQ(shadow->bytes(), DocShadowOffset(c.buckets) + c.buckets * 320);  // ~11 GiB
  c.buckets = uint64_t{1} << 32;
  c.shadow_packet_bytes = 9216;
  c.shadow_lanes = 64;
  EXPECT_THAT(Layout::Create(c).status().message(), HasSubstr("more than a region may have"));
  c.buckets = 1000;
  EXPECT_THAT(Layout::Create(c).status().message(), HasSubstr("power of two"));
}

TEST(TeaLayoutTest, ParseTableSpec) {
  absl::StatusOr<TableConfig> c = ParseTableSpec("tea.nat:buckets=1M,packet=256,lanes=4");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "tea.nat");
  EXPECT_EQ(c->buckets, uint64_t{1} << 20);
  EXPECT_EQ(c->shadow_packet_bytes, 256u);
  EXPECT_EQ(c->shadow_lanes, 4u);
  EXPECT_THAT(ParseTableSpec("tea.nat").status().message(), HasSubstr("NAME:settings"));
  EXPECT_THAT(ParseTableSpec("tea.nat:packet=64").status().message(), HasSubstr("buckets="));
  EXPECT_THAT(ParseTableSpec("tea.nat:buckets=8,size=3").status().message(),
              HasSubstr("unknown setting 'size'"));
  EXPECT_THAT(ParseTableSpec("tea.nat:buckets=8,lanes=0").status().message(), HasSubstr("lanes=0"));
}

TEST(TeaTableTest, RefusesShortOrMisalignedMemory) {
  Memory m(4096);
  EXPECT_THAT(MakeTable(m, 1024).status().message(), HasSubstr("needs a region of"));
  std::span<uint8_t> odd(m.data + 1, 1000);
  TableConfig c;
  c.buckets = 4;
  EXPECT_THAT(Table::Create(*Layout::Create(c), odd).status().message(), HasSubstr("aligned"));
}

// Random inserts (some with replace), deletes and lookups against the
// reference, with the memory checked as the switch would see it; for
// buckets of 1 and of 4 slots.
class TeaRandomTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(TeaRandomTest, RandomOperationsMatchReference) {
  constexpr uint64_t kBuckets = 1024;
  constexpr uint32_t kPacket = 64;
  constexpr uint32_t kLanes = 2;
  const uint32_t slots = GetParam();
  // Enough offered keys to fill the table either way.
  const int steps = 20000 * static_cast<int>(slots);
  Memory m(DocShadowOffset(kBuckets, slots) + kLanes * kBuckets * DocRowBytes(kPacket, slots));
  absl::StatusOr<Table> table = MakeTable(m, kBuckets, kPacket, kLanes, slots);
  ASSERT_TRUE(table.ok()) << table.status();
  Reference ref;
  std::vector<Key> known;
  std::mt19937_64 rng(7);
  uint64_t failures = 0;
  for (int step = 0; step < steps; ++step) {
    const int op = static_cast<int>(rng() % 10);
    // Reuse known keys often so deletes and duplicates happen.
    const Key k = (!known.empty() && rng() % 2) ? known[rng() % known.size()] : RandomKey(rng);
    const uint64_t value = rng();
    if (op < 5) {
      const bool replace = rng() % 4 == 0;
      absl::StatusOr<Entry> e = table->Insert(k, value, replace);
      const uint64_t h = H(k, kBuckets);
      if (ref.count(k)) {
        if (replace) {
          ASSERT_TRUE(e.ok()) << e.status();
          ref[k] = value;
        } else {
          ASSERT_EQ(e.status().code(), absl::StatusCode::kAlreadyExists);
        }
      } else if (e.ok()) {
        EXPECT_TRUE(e->bucket == h || e->bucket == h + 1);
        ref[k] = value;
        known.push_back(k);
      } else {
        // Only when every entry of the window holds another present key.
        ASSERT_EQ(e.status().code(), absl::StatusCode::kResourceExhausted) << e.status();
        ++failures;
        for (uint32_t i = 0; i < 2 * slots; ++i) {
          const RawBucket raw = Decode(m.data + DocBucketOffset(h, slots) + 32 * i);
          ASSERT_TRUE(raw.occupied);
          ASSERT_TRUE(ref.count(raw.key));
          ASSERT_NE(raw.key, k);
        }
      }
    } else if (op < 8) {
      const absl::Status s = table->Delete(k);
      EXPECT_EQ(s.ok(), ref.erase(k) == 1) << s;
    } else {
      const std::optional<Entry> e = table->Lookup(k);
      auto it = ref.find(k);
      ASSERT_EQ(e.has_value(), it != ref.end());
      if (e) {
        EXPECT_EQ(e->value, it->second);
      }
    }
    if (step % 2000 == 0) ExpectMemoryMatches(m, kBuckets, kPacket, kLanes, slots, ref);
  }
  ExpectMemoryMatches(m, kBuckets, kPacket, kLanes, slots, ref);
  EXPECT_EQ(table->counters().entries, ref.size());
  EXPECT_EQ(table->counters().insert_failures, failures);
  EXPECT_GT(failures, 0u);              // the run reached full windows
  EXPECT_GT(ref.size(), kBuckets / 4);  // and filled the table somewhat
}

INSTANTIATE_TEST_SUITE_P(Slots, TeaRandomTest, ::testing::Values(1u, 4u));

// Three keys with one h: the third finds its window full, a counted
// failure that changes nothing; a key of h + 1 then spills to h + 2.
TEST(TeaTableTest, FullProbeWindowIsACountedError) {
  constexpr uint64_t kBuckets = 16;
  Memory m(DocShadowOffset(kBuckets));
  absl::StatusOr<Table> table = MakeTable(m, kBuckets);
  ASSERT_TRUE(table.ok());
  std::mt19937_64 rng(3);
  std::vector<Key> same;
  Key next_h{};
  bool have_next = false;
  while (same.size() < 3 || !have_next) {
    const Key k = RandomKey(rng);
    const uint64_t h = H(k, kBuckets);
    if (h == 5 && same.size() < 3) same.push_back(k);
    if (h == 6 && !have_next) next_h = k, have_next = true;
  }
  ASSERT_TRUE(table->Insert(same[0], 1).ok());
  ASSERT_TRUE(table->Insert(same[1], 2).ok());
  const std::vector<uint8_t> before(m.data, m.data + m.size);
  absl::StatusOr<Entry> third = table->Insert(same[2], 3);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("buckets 5 and 6"));
  EXPECT_THAT(third.status().message(), HasSubstr("more buckets"));
  EXPECT_EQ(table->counters().insert_failures, 1u);
  EXPECT_EQ(std::vector<uint8_t>(m.data, m.data + m.size), before);
  absl::StatusOr<Entry> spill = table->Insert(next_h, 4);
  ASSERT_TRUE(spill.ok());
  EXPECT_EQ(spill->bucket, 7u);
  // A deleted slot is free again.
  ASSERT_TRUE(table->Delete(same[0]).ok());
  absl::StatusOr<Entry> again = table->Insert(same[2], 3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->bucket, 5u);
  EXPECT_EQ(table->Delete(same[0]).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(table->counters().delete_misses, 1u);
}

// The last h spills into the extra trailing bucket, inside the region: a
// window never wraps.
TEST(TeaTableTest, LastWindowUsesTheTrailingBucket) {
  constexpr uint64_t kBuckets = 8;
  Memory m(DocShadowOffset(kBuckets) + kBuckets * DocRowBytes(32));
  absl::StatusOr<Table> table = MakeTable(m, kBuckets, 32);
  ASSERT_TRUE(table.ok());
  std::mt19937_64 rng(5);
  std::vector<Key> last;
  while (last.size() < 2) {
    const Key k = RandomKey(rng);
    if (H(k, kBuckets) == kBuckets - 1) last.push_back(k);
  }
  ASSERT_TRUE(table->Insert(last[0], 10).ok());
  absl::StatusOr<Entry> e = table->Insert(last[1], 11);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->bucket, kBuckets);
  const RawBucket raw = Decode(m.data + DocBucketOffset(kBuckets));
  EXPECT_TRUE(raw.occupied);
  EXPECT_EQ(raw.key, last[1]);
  // The last shadow row copies buckets 7 and 8.
  EXPECT_EQ(std::memcmp(m.data + DocRowOffset(kBuckets, 32, 0, kBuckets - 1),
                        m.data + DocBucketOffset(kBuckets - 1), 64),
            0);
  EXPECT_LE(DocBucketOffset(kBuckets) + 32, DocShadowOffset(kBuckets));
}

// The switch's view: one READ of 64 bytes at 64 + 32 h finds every present
// key; FindInWindow decodes it; absent keys are not found.
TEST(TeaTableTest, OneReadAtTheComputedOffsetFindsTheKey) {
  constexpr uint64_t kBuckets = 256;
  Memory m(DocShadowOffset(kBuckets));
  absl::StatusOr<Table> table = MakeTable(m, kBuckets);
  ASSERT_TRUE(table.ok());
  std::mt19937_64 rng(11);
  Reference ref;
  while (ref.size() < 150) {
    const Key k = RandomKey(rng);
    const uint64_t v = rng();
    if (table->Insert(k, v).ok()) ref[k] = v;
  }
  for (const auto& [k, v] : ref) {
    const uint8_t* window = m.data + 64 + 32 * H(k, kBuckets);  // the READ
    std::optional<uint64_t> found = FindInWindow({window, 64}, k);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, v);
    // And by hand, without FindInWindow.
    const RawBucket a = Decode(window), b = Decode(window + 32);
    EXPECT_TRUE((a.occupied && a.key == k && a.value == v) ||
                (b.occupied && b.key == k && b.value == v));
  }
  for (int i = 0; i < 1000; ++i) {
    const Key k = RandomKey(rng);
    if (ref.count(k)) continue;
    EXPECT_FALSE(FindInWindow({m.data + 64 + 32 * H(k, kBuckets), 64}, k).has_value());
  }
}

// Remote deferral: the switch WRITEs a packet at row + 64 and READs
// 64 + L bytes at row: buckets h, h+1 then the packet. Inserts and deletes
// after the WRITE keep the copies fresh and never touch the packet.
TEST(TeaTableTest, ShadowRowReturnsBucketsThenPacket) {
  constexpr uint64_t kBuckets = 64;
  constexpr uint32_t kPacket = 128;
  constexpr uint32_t kLanes = 3;
  Memory m(DocShadowOffset(kBuckets) + kLanes * kBuckets * DocRowBytes(kPacket));
  absl::StatusOr<Table> table = MakeTable(m, kBuckets, kPacket, kLanes);
  ASSERT_TRUE(table.ok());
  std::mt19937_64 rng(13);
  const Key k = RandomKey(rng);
  const uint64_t h = H(k, kBuckets);
  const uint32_t lane = 2;
  std::vector<uint8_t> packet(100);
  for (auto& b : packet) b = static_cast<uint8_t>(rng());
  const uint64_t row = DocRowOffset(kBuckets, kPacket, lane, h);
  std::memcpy(m.data + row + 64, packet.data(), packet.size());  // the WRITE
  ASSERT_TRUE(table->Insert(k, 0x0a0000010050abcd).ok());
  const std::vector<uint8_t> read(m.data + row, m.data + row + 64 + packet.size());  // the READ
  std::optional<uint64_t> v = FindInWindow({read.data(), 64}, k);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 0x0a0000010050abcdu);
  EXPECT_TRUE(std::equal(packet.begin(), packet.end(), read.begin() + 64));
  ASSERT_TRUE(table->Delete(k).ok());
  EXPECT_FALSE(FindInWindow({m.data + row, 64}, k).has_value());
  EXPECT_EQ(std::memcmp(m.data + row + 64, packet.data(), packet.size()), 0);
}

// How full BLP with a bound of 2 gets before the first refused insert, on
// random keys (TEA trades space for one READ), by slots per bucket:
// printed for the README.
TEST(TeaTableTest, LoadAtFirstFailure) {
  constexpr uint64_t kBuckets = 1 << 14;
  for (uint32_t slots : {1u, 2u, 4u, 8u}) {
    const uint64_t capacity = kBuckets * slots;
    Memory m(DocShadowOffset(kBuckets, slots));
    absl::StatusOr<Table> table = MakeTable(m, kBuckets, 0, 1, slots);
    ASSERT_TRUE(table.ok());
    std::mt19937_64 rng(17);
    uint64_t first = 0;
    for (uint64_t i = 0; i < capacity; ++i) {
      if (!table->Insert(RandomKey(rng), i).ok() && first == 0) {
        first = table->counters().entries;
      }
    }
    const double placed = static_cast<double>(table->counters().entries) / capacity;
    std::printf(
        "BLP bound 2, %llu buckets x %u slots (READ %u B): first refusal at load %.3f; "
        "offering one key per entry places %.1f%%\n",
        static_cast<unsigned long long>(kBuckets), slots, 64 * slots,
        static_cast<double>(first) / capacity, 100.0 * placed);
    EXPECT_GT(table->counters().insert_failures, 0u);
    EXPECT_EQ(table->counters().entries + table->counters().insert_failures, capacity);
  }
}

// Two slots a bucket: a window is 4 entries, 128 bytes, and the shadow
// row copies both buckets whole.
TEST(TeaTableTest, MultiSlotWindowAndShadow) {
  constexpr uint64_t kBuckets = 32;
  constexpr uint32_t kSlots = 2;
  constexpr uint32_t kPacket = 80;
  Memory m(DocShadowOffset(kBuckets, kSlots) + kBuckets * DocRowBytes(kPacket, kSlots));
  absl::StatusOr<Table> table = MakeTable(m, kBuckets, kPacket, 1, kSlots);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->layout().window_bytes(), 128u);
  EXPECT_EQ(Le(m.data + 12, 4), 64u);
  EXPECT_EQ(Le(m.data + 60, 4), 2u);
  std::mt19937_64 rng(19);
  std::vector<Key> same;
  while (same.size() < 5) {
    const Key k = RandomKey(rng);
    if (H(k, kBuckets) == 9) same.push_back(k);
  }
  for (uint32_t i = 0; i < 4; ++i) {
    absl::StatusOr<Entry> e = table->Insert(same[i], 100 + i);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->bucket, 9 + i / 2);
    EXPECT_EQ(e->slot, i % 2);
  }
  EXPECT_EQ(table->Insert(same[4], 5).status().code(), absl::StatusCode::kResourceExhausted);
  const uint64_t row = DocRowOffset(kBuckets, kPacket, 0, 9, kSlots);
  EXPECT_EQ(table->layout().ShadowRowOffset(0, 9), row);
  EXPECT_EQ(table->layout().ShadowPacketOffset(0, 9), row + 128);
  for (uint32_t i = 0; i < 4; ++i) {
    std::optional<uint64_t> v = FindInWindow({m.data + row, 128}, same[i]);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, 100 + i);
    const RawBucket raw = Decode(m.data + DocBucketOffset(9, kSlots) + 32 * i);
    EXPECT_EQ(raw.key, same[i]);
  }
}

}  // namespace
}  // namespace softfino::tea
