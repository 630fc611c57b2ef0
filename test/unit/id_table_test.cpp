// tm::IdTable against std::map, the obvious reference, over random adds,
// replacements and deletes across the whole 16-bit id range.
#include "softfino/tm/id_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>

namespace softfino::tm {
namespace {

TEST(IdTable, AgreesWithAMapOverRandomChanges) {
  IdTable<int> table;
  std::map<uint16_t, int> reference;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    // Mostly low ids, as configs use; sometimes anywhere, 0 and 65535 too.
    const uint16_t id = step % 10 == 0 ? static_cast<uint16_t>(rng()) : rng() % 64;
    if (rng() % 3 == 0) {
      table.erase(id);
      reference.erase(id);
    } else {
      table.Set(id, step);
      reference[id] = step;
    }
    const uint16_t probe = static_cast<uint16_t>(rng());
    ASSERT_EQ(table.contains(probe), reference.contains(probe)) << probe;
    ASSERT_EQ(table.contains(id), reference.contains(id)) << id;
    ASSERT_EQ(table.Find(id) == nullptr, !reference.contains(id)) << id;
    if (reference.contains(id)) {
      ASSERT_EQ(*table.Find(id), reference.at(id));
    }
    ASSERT_EQ(table.size(), reference.size());
  }
  std::vector<uint16_t> ids;
  for (const auto& [id, value] : reference) {
    ids.push_back(id);
    EXPECT_EQ(table.at(id), value);
  }
  EXPECT_EQ(table.Ids(), ids);
}

TEST(IdTable, EndsOfTheRangeAndMissingIds) {
  IdTable<int> table;
  EXPECT_EQ(table.Find(0), nullptr);
  EXPECT_EQ(table.Find(65535), nullptr);
  table.Set(65535, 1);
  table.Set(0, 2);
  EXPECT_EQ(*table.Find(65535), 1);
  EXPECT_EQ(*table.Find(0), 2);
  EXPECT_EQ(table.Find(65534), nullptr);
  EXPECT_THROW(table.at(65534), std::exception);
  table.erase(65535);
  table.erase(65535);  // twice: no change
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Ids(), std::vector<uint16_t>{0});
}

}  // namespace
}  // namespace softfino::tm
