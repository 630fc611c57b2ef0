// The pipes' clocks as the slow path sees them, for control-path work that
// runs on pipe time: idle-timeout sweeps (TNA's idle_timeout tables) judge an
// entry's last hit, which a pipe stamped with its own clock (real, or virtual
// from pcap timestamps), against "now" on that same clock.
//
// Each pipe publishes its clock once per poll (Program::Background, after the
// poll's packets have recorded their hits), with a release store; the slow
// path reads the slowest pipe's clock with an acquire load. So every hit a
// pipe recorded up to the time the slow path reads is visible to it, and a
// sweep never judges an entry at a time some pipe has not reached yet (that
// pipe may still record an earlier hit). A pipe that has no time yet
// (virtual time before its first packet) holds sweeps back: an idle entry is
// then reported late, never one that was about to be hit.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

namespace softfino::pipe {

class PipeClocks {
 public:
  explicit PipeClocks(uint16_t pipes) : pipes_(pipes), slots_(new Slot[pipes == 0 ? 1 : pipes]) {}

  // Pipe `pipe`'s thread, once per poll (or Program::Finish, with the time
  // the switch stopped at): its clock in ns; 0 means no time yet.
  void Advance(uint16_t pipe, uint64_t now_ns) {
    if (now_ns == 0 || pipe >= pipes_) return;
    Slot& s = slots_[pipe];
    if (s.first.load(std::memory_order_relaxed) == 0) {
      s.first.store(now_ns, std::memory_order_relaxed);
    }
    s.now.store(now_ns, std::memory_order_release);
  }

  // Slow path: the time every pipe has reached; 0 until each has a clock.
  uint64_t Now() const {
    uint64_t now = ~uint64_t{0};
    for (uint16_t p = 0; p < pipes_; ++p) {
      now = std::min(now, slots_[p].now.load(std::memory_order_acquire));
    }
    return pipes_ == 0 ? 0 : now;
  }

  // Slow path: the earliest clock any pipe published (when the switch's
  // time began: its first poll in real time, about its first packet in
  // virtual time); 0 until every pipe has a clock.
  uint64_t Start() const {
    if (Now() == 0) return 0;
    uint64_t start = ~uint64_t{0};
    for (uint16_t p = 0; p < pipes_; ++p) {
      start = std::min(start, slots_[p].first.load(std::memory_order_relaxed));
    }
    return start;
  }

  uint16_t pipes() const { return pipes_; }

 private:
  // One cache line per pipe: pipes never write a line another pipe writes.
  struct alignas(64) Slot {
    std::atomic<uint64_t> first{0};
    std::atomic<uint64_t> now{0};
  };
  uint16_t pipes_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace softfino::pipe
