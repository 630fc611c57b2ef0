// TNA's indexed Counter<bit<W>, I>(size, CounterType_t): an array of packet
// and/or byte counts that a packet bumps with count(index) and the control
// plane reads and clears.
//
// Cells are per pipe with one writer each (the pipe), like Counter in
// counter.h: an increment is a load and a store, never a locked
// instruction, and a reader on another thread still sees whole values, and
// the packet and byte counts of one moment (see Raw). The control plane sums
// the pipes, or reads one. Counts are 64 bits whatever W is (bfrt, too,
// reports counters from wide software shadows).
//
// Clearing never writes a cell, since the pipe's load-add-store could undo
// a concurrent zeroing: Clear remembers the current counts as a baseline
// that reads subtract. Control-path calls must come from one thread at a
// time (the slow path).
//
// The index wraps as Register's does (masked to the array rounded up to a
// power of two; see register.h for why).
#pragma once

#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "softfino/pipe/counter_value.h"

namespace softfino::pipe {

// CounterType_t.
enum class CounterType : uint8_t { kPackets, kBytes, kPacketsAndBytes };

class CounterArray {
 public:
  static absl::StatusOr<std::unique_ptr<CounterArray>> Create(absl::string_view name, uint32_t size,
                                                              CounterType type, uint16_t pipes,
                                                              int socket = SOCKET_ID_ANY) {
    if (size == 0 || size > (1u << 31)) {
      return absl::InvalidArgumentError(absl::StrCat("counter '", name, "': size ", size,
                                                     " is out of range; give 1 to 2^31 cells"));
    }
    if (pipes == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("counter '", name, "': needs at least one pipe"));
    }
    std::unique_ptr<CounterArray> c(new CounterArray(name, size, type, pipes));
    const size_t bytes = size_t{c->mask_ + 1} * sizeof(Cell);
    for (uint16_t p = 0; p < pipes; ++p) {
      void* mem = rte_malloc_socket(c->name_.c_str(), bytes, RTE_CACHE_LINE_SIZE, socket);
      if (mem == nullptr) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "counter '", name, "': cannot allocate ", bytes, " bytes for pipe ", p,
            "; give DPDK more memory (EAL -m or more hugepages) or make the counter smaller"));
      }
      c->cells_[p] = static_cast<Cell*>(mem);
      for (uint32_t i = 0; i <= c->mask_; ++i) new (&c->cells_[p][i]) Cell{};
    }
    return c;
  }

  ~CounterArray() {
    for (Cell* cells : cells_) rte_free(cells);
  }
  CounterArray(const CounterArray&) = delete;
  CounterArray& operator=(const CounterArray&) = delete;

  const std::string& name() const { return name_; }
  uint32_t size() const { return size_; }
  CounterType type() const { return type_; }
  uint16_t pipes() const { return static_cast<uint16_t>(cells_.size()); }

  // count(index) for a packet of `bytes` bytes, on `pipe` (fast path; the
  // calling thread must be that pipe's worker). Both counts are kept
  // whatever the type: they share a cache line, so the second costs nothing,
  // and reads report only what the type counts.
  void Count(uint16_t pipe, uint32_t index, uint32_t bytes) {
    Cell& c = cells_[pipe][index & mask_];
    // Bytes first, then the packet: the order Raw relies on. Release stores
    // are plain moves on x86.
    c.bytes.store(c.bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_release);
    c.packets.store(c.packets.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // Control path: counts since the last clear, summed over the pipes.
  absl::StatusOr<CounterValue> Read(uint32_t index) const {
    if (absl::Status s = Check(0, index); !s.ok()) return s;
    CounterValue sum;
    for (uint16_t p = 0; p < cells_.size(); ++p) {
      const CounterValue v = PipeValue(p, index);
      sum.packets += v.packets;
      sum.bytes += v.bytes;
    }
    return sum;
  }

  absl::StatusOr<CounterValue> ReadPipe(uint16_t pipe, uint32_t index) const {
    if (absl::Status s = Check(pipe, index); !s.ok()) return s;
    return PipeValue(pipe, index);
  }

  absl::Status Clear(uint32_t index) {
    if (absl::Status s = Check(0, index); !s.ok()) return s;
    for (uint16_t p = 0; p < cells_.size(); ++p) ClearCell(p, index);
    return absl::OkStatus();
  }

  void ClearAll() {
    for (uint16_t p = 0; p < cells_.size(); ++p) {
      for (uint32_t i = 0; i < size_; ++i) ClearCell(p, i);
    }
  }

 private:
  struct alignas(16) Cell {
    std::atomic<uint64_t> packets{0};
    std::atomic<uint64_t> bytes{0};
  };
  static_assert(std::atomic<uint64_t>::is_always_lock_free);

  CounterArray(absl::string_view name, uint32_t size, CounterType type, uint16_t pipes)
      : name_(name),
        size_(size),
        mask_(std::bit_ceil(size) - 1),
        type_(type),
        cells_(pipes, nullptr),
        baseline_(size_t{size} * pipes) {}

  absl::Status Check(uint16_t pipe, uint32_t index) const {
    if (pipe >= cells_.size()) {
      return absl::OutOfRangeError(absl::StrCat("counter '", name_, "': pipe ", pipe,
                                                " does not exist; valid pipes are 0..",
                                                cells_.size() - 1));
    }
    if (index >= size_) {
      return absl::OutOfRangeError(absl::StrCat("counter '", name_, "': index ", index,
                                                " is out of range; valid indices are 0..",
                                                size_ - 1));
    }
    return absl::OkStatus();
  }

  // A snapshot of both counts that the cell really held at one instant:
  // read bytes, packets, bytes, packets until neither moved in between.
  // Reading the two words once each could pair counts taken any time apart
  // (the reading thread may be preempted between them). The instant may
  // fall between Count's two stores, so a snapshot may hold the bytes of one
  // packet whose packet count is not in yet; never more.
  CounterValue Raw(uint16_t pipe, uint32_t index) const {
    const Cell& c = cells_[pipe][index];
    for (;;) {
      const uint64_t b1 = c.bytes.load(std::memory_order_acquire);
      const uint64_t p1 = c.packets.load(std::memory_order_acquire);
      const uint64_t b2 = c.bytes.load(std::memory_order_acquire);
      const uint64_t p2 = c.packets.load(std::memory_order_acquire);
      if (b1 == b2 && p1 == p2) return {p1, b1};
    }
  }

  CounterValue PipeValue(uint16_t pipe, uint32_t index) const {
    const CounterValue raw = Raw(pipe, index);
    const CounterValue& base = baseline_[size_t{pipe} * size_ + index];
    CounterValue v{raw.packets - base.packets, raw.bytes - base.bytes};
    if (type_ == CounterType::kPackets) v.bytes = 0;
    if (type_ == CounterType::kBytes) v.packets = 0;
    return v;
  }

  void ClearCell(uint16_t pipe, uint32_t index) {
    baseline_[size_t{pipe} * size_ + index] = Raw(pipe, index);
  }

  std::string name_;
  uint32_t size_;
  uint32_t mask_;  // capacity - 1
  CounterType type_;
  std::vector<Cell*> cells_;            // one array per pipe
  std::vector<CounterValue> baseline_;  // control side: counts at the last clear, per pipe
};

}  // namespace softfino::pipe
