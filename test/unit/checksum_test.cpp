#include "softfino/net/checksum.h"

#include <cstring>
#include <random>

#include "gtest/gtest.h"
#include "test/unit/reference_checksum.h"

namespace softfino::net {
namespace {

// Fills a 20-byte IPv4 header with random bytes and a valid checksum.
void RandomHeader(std::mt19937& rng, uint8_t* h) {
  for (int i = 0; i < 20; ++i) h[i] = static_cast<uint8_t>(rng());
  h[0] = 0x45;
  if (h[8] == 0) h[8] = 1;  // a TTL that can be decremented
  h[10] = h[11] = 0;
  const uint16_t c = testing::ReferenceChecksum(h, 20);
  h[10] = c >> 8;
  h[11] = c & 0xff;
}

TEST(ChecksumUpdate, TtlDecrementMatchesFullRecomputation) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 100000; ++trial) {
    uint8_t h[20];
    RandomHeader(rng, h);
    uint16_t old_word, new_word, csum;
    std::memcpy(&old_word, h + 8, 2);
    std::memcpy(&csum, h + 10, 2);
    --h[8];
    std::memcpy(&new_word, h + 8, 2);
    const uint16_t updated = ChecksumUpdate16(csum, old_word, new_word);
    h[10] = h[11] = 0;
    const uint16_t expected = testing::ReferenceChecksum(h, 20);
    uint8_t got[2];
    std::memcpy(got, &updated, 2);
    ASSERT_EQ(got[0], expected >> 8) << "trial " << trial;
    ASSERT_EQ(got[1], expected & 0xff) << "trial " << trial;
  }
}

// The shortcut gives ChecksumUpdate16's result for every checksum and
// every TTL/protocol word with a TTL above 1.
TEST(ChecksumUpdate, TtlDecrementShortcutMatchesUpdate) {
  for (uint32_t ttl = 2; ttl < 256; ++ttl) {
    for (uint32_t proto : {0u, 1u, 6u, 17u, 0x80u, 0xffu}) {
      const uint8_t before[2] = {static_cast<uint8_t>(ttl), static_cast<uint8_t>(proto)};
      const uint8_t after[2] = {static_cast<uint8_t>(ttl - 1), static_cast<uint8_t>(proto)};
      uint16_t old_word, new_word;
      std::memcpy(&old_word, before, 2);
      std::memcpy(&new_word, after, 2);
      for (uint32_t csum = 0; csum < 0x10000; ++csum) {
        ASSERT_EQ(ChecksumAfterTtlDecrement(static_cast<uint16_t>(csum)),
                  ChecksumUpdate16(static_cast<uint16_t>(csum), old_word, new_word))
            << "ttl " << ttl << " proto " << proto << " checksum " << csum;
      }
    }
  }
}

TEST(ChecksumUpdate, AnyWordChangeMatchesFullRecomputation) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 100000; ++trial) {
    uint8_t h[20];
    RandomHeader(rng, h);
    int word = static_cast<int>(rng() % 10);
    if (word == 5) word = 4;  // not the checksum itself
    uint16_t old_word, new_word, csum;
    std::memcpy(&old_word, h + 2 * word, 2);
    std::memcpy(&csum, h + 10, 2);
    h[2 * word] = static_cast<uint8_t>(rng());
    h[2 * word + 1] = static_cast<uint8_t>(rng());
    std::memcpy(&new_word, h + 2 * word, 2);
    const uint16_t updated = ChecksumUpdate16(csum, old_word, new_word);
    h[10] = h[11] = 0;
    const uint16_t expected = testing::ReferenceChecksum(h, 20);
    uint8_t got[2];
    std::memcpy(got, &updated, 2);
    ASSERT_EQ((got[0] << 8) | got[1], expected) << "trial " << trial;
  }
}

// Up to 7 words changed at once (WordChange summed, one ChecksumUpdate):
// the checksum the header would have from scratch.
TEST(ChecksumUpdate, SeveralWordChangesMatchFullRecomputation) {
  std::mt19937 rng(23);
  for (int trial = 0; trial < 100000; ++trial) {
    uint8_t h[20];
    RandomHeader(rng, h);
    uint16_t csum;
    std::memcpy(&csum, h + 10, 2);
    const int changes = 1 + static_cast<int>(rng() % 7);
    uint32_t sum_of_changes = 0;
    for (int k = 0; k < changes; ++k) {
      int word = static_cast<int>(rng() % 10);
      if (word == 5) word = 4;  // not the checksum itself
      uint16_t old_word, new_word;
      std::memcpy(&old_word, h + 2 * word, 2);
      h[2 * word] = static_cast<uint8_t>(rng());
      h[2 * word + 1] = static_cast<uint8_t>(rng());
      std::memcpy(&new_word, h + 2 * word, 2);
      sum_of_changes += WordChange(old_word, new_word);
    }
    const uint16_t updated = ChecksumUpdate(csum, sum_of_changes);
    h[10] = h[11] = 0;
    const uint16_t expected = testing::ReferenceChecksum(h, 20);
    uint8_t got[2];
    std::memcpy(got, &updated, 2);
    ASSERT_EQ((got[0] << 8) | got[1], expected) << "trial " << trial << ", " << changes;
  }
}

}  // namespace
}  // namespace softfino::net
