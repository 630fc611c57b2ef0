// Table state that pipes read, kept as immutable versions and replaced whole.
//
// Why: a control-plane batch (move 100 routes to another next hop) must reach
// the pipes all at once, never half applied, and a pipe must never read an
// entry while it is being rewritten. So the slow path builds a new version
// aside (clone, apply the batch, validate), publishes it with one release
// store, and frees the old one only after every pipe has passed a quiescent
// state (DPDK's QSBR RCU: each pipe reports one at the end of every poll), by
// which time no pipe can still hold a pointer to it. The fast path pays one
// acquire load per burst (a plain load on x86) and takes no lock.
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <memory>

namespace softfino::pipe {

// Where pipes report quiescent states, and how the committing thread waits
// for a grace period.
struct RcuDomain {
  rte_rcu_qsbr* qsbr = nullptr;  // null: no reader registered, nothing to wait for
  // The committer's own reader id when it is also a pipe (the single pipe run
  // on the main lcore between slow-path ticks): it then reports its own
  // quiescent state before waiting, instead of waiting for itself forever.
  // RTE_QSBR_THRID_INVALID when the committer reads nothing.
  unsigned committer_thread_id = RTE_QSBR_THRID_INVALID;
};

// Waits until every online reader of `rcu` has passed a quiescent state
// begun after this call. Readers report once per poll, so with worker lcores
// this is about one poll (microseconds); a reader that is offline (a pipe
// not started yet, or stopped) is not waited for.
inline void WaitForGracePeriod(const RcuDomain& rcu) {
  if (rcu.qsbr != nullptr) rte_rcu_qsbr_synchronize(rcu.qsbr, rcu.committer_thread_id);
}

// One writer (the slow path), many readers (the pipes). `V` is the whole
// read-side state of a program's tables.
template <typename V>
class Versioned {
 public:
  explicit Versioned(std::unique_ptr<const V> initial) : current_(initial.release()) {}
  // No reader may be left: the switch is gone, or never started.
  ~Versioned() { delete current_.load(std::memory_order_relaxed); }
  Versioned(const Versioned&) = delete;
  Versioned& operator=(const Versioned&) = delete;

  // Fast path: load once per burst and use that version for the whole burst.
  // It stays valid until this reader's next quiescent state.
  const V* Acquire() const { return current_.load(std::memory_order_acquire); }

  // Slow path (the writer): the version readers see now.
  const V& current() const { return *current_.load(std::memory_order_relaxed); }

  // Slow path: makes `next` the version every later burst sees, waits for a
  // grace period, and only then frees the previous version.
  void Publish(std::unique_ptr<const V> next, const RcuDomain& rcu) {
    const V* old = current_.exchange(next.release(), std::memory_order_acq_rel);
    WaitForGracePeriod(rcu);
    delete old;
  }

  // Replaces the version with no reader around (Configure, before the switch
  // starts): no grace period needed.
  void ResetUnshared(std::unique_ptr<const V> next) {
    delete current_.exchange(next.release(), std::memory_order_acq_rel);
  }

 private:
  std::atomic<const V*> current_;
};

}  // namespace softfino::pipe
