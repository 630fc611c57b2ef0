// What every DTA structure needs of its region: the checks of a region's
// geometry, and how the collector's CPU reads memory that a NIC (or the
// soft RNIC on another lcore) writes at the same time.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace softfino::dta {

// OK when `slots` is a power of two no larger than 2^32: slot indexes are a
// 32-bit hash masked with slots - 1. `what` names the setting in the error
// ("Key-Write slots").
absl::Status CheckSlotCount(uint64_t slots, absl::string_view what);

// OK when `memory` can hold a region of `bytes`: long enough, and 8-byte
// aligned so 8-byte slots load whole (LoadU64). `what` names the structure.
absl::Status CheckRegionMemory(std::span<const uint8_t> memory, uint64_t bytes,
                               absl::string_view what);

// The bytes are written by RDMA, outside the C++ object model: reading them
// as uint64_t must not let the compiler assume they cannot alias the bytes.
typedef uint64_t __attribute__((may_alias)) AliasedU64;

// The 8 bytes at `p` in host order, in one load when `p` is 8-byte aligned
// (regions are 64-byte aligned and slots 8-byte strided), so a slot that a
// WRITE or FETCH_ADD of 8 aligned bytes is changing is seen whole, old or
// new, never half of each. A Key-Write slot read torn could pair one key's
// checksum with another key's data: a wrong answer.
inline uint64_t LoadU64(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p) & 7) == 0) [[likely]] {
    return __atomic_load_n(reinterpret_cast<const AliasedU64*>(p), __ATOMIC_RELAXED);
  }
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The same with acquire order, for a published counter: what the writer
// placed before it (in order on one RC queue pair) is visible after it.
inline uint64_t LoadU64Acquire(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p) & 7) == 0) [[likely]] {
    return __atomic_load_n(reinterpret_cast<const AliasedU64*>(p), __ATOMIC_ACQUIRE);
  }
  uint64_t v;
  std::memcpy(&v, p, 8);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  return v;
}

}  // namespace softfino::dta
