// Counts by reason for a parser's dense error enum (one that ends in kCount),
// so every parser's drops are counted the same way: index kOk (0) counts
// what parsed. One writer (the thread that parses).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace softfino::net {

template <typename Reason>
struct ReasonCounters {
  std::array<uint64_t, static_cast<size_t>(Reason::kCount)> by_reason{};
  void Count(Reason r) { ++by_reason[static_cast<size_t>(r)]; }
  uint64_t operator[](Reason r) const { return by_reason[static_cast<size_t>(r)]; }
};

}  // namespace softfino::net
