// A statistics counter with one writer (the pipe that owns it) and any number
// of readers (slow path, telemetry thread). The writer never needs a locked
// instruction: a relaxed load and store of an aligned 64-bit word is enough
// for readers to see whole values.
#pragma once

#include <atomic>
#include <cstdint>

namespace softfino::pipe {

class Counter {
 public:
  void Add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  // For gauges (e.g. a queue's depth), by the same single writer.
  void Set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace softfino::pipe
