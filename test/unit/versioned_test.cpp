// Versioned<V> with DPDK's QSBR: a published version is what every later
// read sees, and the old one is freed only once every online reader has
// passed a quiescent state, never while a reader may still hold it.
#include "softfino/pipe/versioned.h"

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::pipe {
namespace {

constexpr uint64_t kMagic = 0x5eed5eed5eed5eedull;
constexpr uint32_t kVersions = 300;

// Which versions have been destroyed, kept outside the versions themselves
// so that a reader can ask about one without touching freed memory.
std::array<std::atomic<bool>, kVersions + 1> destroyed;

struct Version {
  explicit Version(uint32_t id) : id(id) { destroyed[id].store(false); }
  ~Version() {
    magic = 0;
    destroyed[id].store(true);
  }
  uint32_t id;
  uint64_t magic = kMagic;
};

class Qsbr {
 public:
  explicit Qsbr(uint32_t readers) {
    q_ = static_cast<rte_rcu_qsbr*>(
        rte_zmalloc("test_rcu", rte_rcu_qsbr_get_memsize(readers), RTE_CACHE_LINE_SIZE));
    rte_rcu_qsbr_init(q_, readers);
  }
  ~Qsbr() { rte_free(q_); }
  rte_rcu_qsbr* get() const { return q_; }

 private:
  rte_rcu_qsbr* q_;
};

TEST(Versioned, ReadersNeverSeeAFreedVersion) {
  constexpr unsigned kReaders = 2;
  Qsbr qsbr(kReaders);
  Versioned<Version> versions(std::make_unique<const Version>(0));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, reads{0};
  std::atomic<unsigned> online{0};
  std::vector<std::thread> readers;
  for (unsigned r = 0; r < kReaders; ++r) {
    rte_rcu_qsbr_thread_register(qsbr.get(), r);
    readers.emplace_back([&, r] {
      rte_rcu_qsbr_thread_online(qsbr.get(), r);
      online.fetch_add(1);
      uint32_t last = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        // One "burst": hold the version for a while, as a pipe does.
        const Version* v = versions.Acquire();
        const uint32_t id = v->id;
        for (int spin = 0; spin < 50; ++spin) {
          if (destroyed[id].load() || v->magic != kMagic) bad.fetch_add(1);
        }
        if (id < last) bad.fetch_add(1);  // versions only move forward
        last = id;
        reads.fetch_add(1, std::memory_order_relaxed);
        rte_rcu_qsbr_quiescent(qsbr.get(), r);
      }
      rte_rcu_qsbr_thread_offline(qsbr.get(), r);
    });
  }
  // Publish only once every reader is online, and only after readers have
  // read since the last publish: otherwise, on a loaded machine, all the
  // publishes can finish before a reader thread first runs, and the test
  // would check nothing (it once failed with reads == 0 for that reason).
  while (online.load() < kReaders) std::this_thread::yield();
  const RcuDomain rcu{qsbr.get(), RTE_QSBR_THRID_INVALID};
  for (uint32_t id = 1; id <= kVersions; ++id) {
    const uint64_t reads_before = reads.load();
    while (reads.load() < reads_before + kReaders) std::this_thread::yield();
    versions.Publish(std::make_unique<const Version>(id), rcu);
    // Publish returns after the grace period: the previous one is gone.
    ASSERT_TRUE(destroyed[id - 1].load()) << id;
    ASSERT_EQ(versions.current().id, id);
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GE(reads.load(), uint64_t{kReaders} * kVersions);
}

TEST(Versioned, OldVersionOutlivesAReaderHoldingIt) {
  Qsbr qsbr(1);
  rte_rcu_qsbr_thread_register(qsbr.get(), 0);
  Versioned<Version> versions(std::make_unique<const Version>(0));
  std::atomic<bool> holding{false};
  std::atomic<bool> freed_while_held{false};
  std::thread reader([&] {
    rte_rcu_qsbr_thread_online(qsbr.get(), 0);
    const Version* v = versions.Acquire();
    holding = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (destroyed[v->id].load()) freed_while_held = true;
    rte_rcu_qsbr_quiescent(qsbr.get(), 0);
    rte_rcu_qsbr_thread_offline(qsbr.get(), 0);
  });
  while (!holding) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  versions.Publish(std::make_unique<const Version>(1), {qsbr.get(), RTE_QSBR_THRID_INVALID});
  const auto waited = std::chrono::steady_clock::now() - start;
  reader.join();
  EXPECT_FALSE(freed_while_held.load());
  EXPECT_TRUE(destroyed[0].load());
  EXPECT_GE(waited, std::chrono::milliseconds(50));  // it waited for the reader
}

TEST(Versioned, OfflineReadersAndTheCommittingReaderDoNotBlock) {
  Qsbr qsbr(2);
  rte_rcu_qsbr_thread_register(qsbr.get(), 0);
  rte_rcu_qsbr_thread_register(qsbr.get(), 1);
  // Reader 0 is this thread (the pipe on the main lcore); reader 1 is a
  // pipe that has not started. Neither may make the commit wait forever.
  rte_rcu_qsbr_thread_online(qsbr.get(), 0);
  Versioned<Version> versions(std::make_unique<const Version>(0));
  versions.Publish(std::make_unique<const Version>(1), {qsbr.get(), 0});
  EXPECT_TRUE(destroyed[0].load());
  EXPECT_EQ(versions.Acquire()->id, 1u);
  rte_rcu_qsbr_thread_offline(qsbr.get(), 0);
}

}  // namespace
}  // namespace softfino::pipe
