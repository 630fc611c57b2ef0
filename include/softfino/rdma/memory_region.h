// Memory regions the collector hosts for RDMA: DTA's collector structures
// and TEA's tables, written and read by the switch's data plane over RoCEv2.
//
// The control path registers regions (allocating their memory) into a
// MemoryRegionTable; the soft RNIC's fast path checks every RETH/AtomicETH
// against it with Resolve(), which takes no lock and allocates nothing, and
// may run on other lcores while the control path registers more regions.
// The verbs backend registers the same memory with the NIC instead
// (verbs_backend.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace softfino::rdma {

// Remote access rights of a region. The values are those of IBV_ACCESS_*
// (the verbs backend still maps them one by one, so nothing relies on it).
enum Access : uint32_t {
  kAccessLocalWrite = 1u << 0,
  kAccessRemoteWrite = 1u << 1,
  kAccessRemoteRead = 1u << 2,
  kAccessRemoteAtomic = 1u << 3,
};
inline constexpr uint32_t kAccessAllRemote =
    kAccessRemoteWrite | kAccessRemoteRead | kAccessRemoteAtomic;

// "remote_write|remote_read" (or "none"), for messages and dumps.
std::string AccessToString(uint32_t access);

// Why Resolve refused. Every one but kMisaligned is answered with a NAK
// "remote access error" by an RC responder; kMisaligned (an atomic not on
// an 8-byte boundary) with "invalid request" (IBA 9.4.5, o9-28 / C9-191).
enum class ResolveError : uint8_t {
  kNone = 0,
  kUnknownRkey,   // no region has this rkey (never had, or deregistered)
  kOutOfBounds,   // [vaddr, vaddr + len) is not inside the region
  kAccessDenied,  // the region does not allow this operation
  kMisaligned,    // atomic vaddr not 8-byte aligned
};
inline constexpr size_t kResolveErrorCount = 5;
const char* ResolveErrorName(ResolveError error);  // "unknown_rkey", for counters

struct Resolved {
  uint8_t* data = nullptr;  // host address of vaddr; nullptr unless error is kNone
  ResolveError error = ResolveError::kNone;
  bool ok() const { return error == ResolveError::kNone; }
};

// Where region memory comes from. Regions must be zeroed (a collector query
// reads never-written slots as empty) and at least 64-byte aligned (one
// cache line per slot group; 8-byte atomics never straddle lines).
class RegionAllocator {
 public:
  virtual ~RegionAllocator() = default;
  // Zeroed memory of `bytes` bytes, aligned to at least 64; nullptr when
  // none is left.
  virtual void* Allocate(const std::string& name, size_t bytes) = 0;
  virtual void Free(void* p, size_t bytes) = 0;
  virtual const char* name() const = 0;
};

// Anonymous mmap: page-aligned, zeroed by the kernel, faulted in at
// registration (not by the first packet that touches a page), transparent
// huge pages requested for regions of 2 MiB and more. Works without EAL
// (unit tests, the verbs backend, which pins the pages itself).
std::unique_ptr<RegionAllocator> MakePageAllocator();
// rte_zmalloc_socket on `socket` (SOCKET_ID_ANY for any): hugepage memory
// when EAL has hugepages, so the soft RNIC's lookups miss the TLB less.
// EAL must be initialised.
std::unique_ptr<RegionAllocator> MakeDpdkAllocator(int socket);

// 1 to 64 letters, digits, '.', '_' or '-' ("dta.keywrite"): names travel
// in handshake JSON and in error messages.
bool IsValidRegionName(absl::string_view name);
inline constexpr size_t kMaxRegionNameBytes = 64;

// A registered region, as the control path describes it.
struct MemoryRegion {
  std::string name;  // "dta.keywrite"
  uint8_t* base = nullptr;
  uint64_t length = 0;
  uint64_t iova = 0;  // the address requesters put in RETH/AtomicETH for base
  uint32_t rkey = 0;
  uint32_t access = 0;  // Access bits
};

struct RegionOptions {
  uint32_t access = kAccessAllRemote;
  // The remote-visible address of the region's first byte. By default the
  // host address, as ibv_reg_mr does, so both backends publish the same
  // numbers. A chosen iova must be a multiple of 64 (so that 8-byte
  // alignment of vaddr and of the host address agree) and the region must
  // end at or below 2^64.
  std::optional<uint64_t> iova;
};

class MemoryRegionTable {
 public:
  // At most this many regions at once: the low bits of an rkey pick the
  // slot, so Resolve is one indexed load and a compare.
  static constexpr uint32_t kSlotBits = 6;
  static constexpr uint32_t kMaxRegions = 1u << kSlotBits;

  explicit MemoryRegionTable(std::unique_ptr<RegionAllocator> allocator);
  ~MemoryRegionTable();  // frees every region
  MemoryRegionTable(const MemoryRegionTable&) = delete;
  MemoryRegionTable& operator=(const MemoryRegionTable&) = delete;

  // Allocates `length` zeroed bytes and publishes them under a fresh rkey:
  // random, non-zero, never the rkey the slot had before, so a requester
  // holding a stale rkey (from an earlier registration or an earlier run)
  // is refused rather than writing into someone else's memory. Control path
  // only (one thread); Resolve may run concurrently.
  absl::StatusOr<MemoryRegion> Register(absl::string_view name, uint64_t length,
                                        RegionOptions options = {});
  // Revokes the rkey and frees the memory. The caller must know that no
  // fast-path thread is inside Resolve or still using a pointer it returned
  // (after an rte_rcu_qsbr grace period, or with the RNIC stopped).
  absl::Status Deregister(absl::string_view name);

  // By name, for the handshake: "no region named X; it has a, b" when absent.
  absl::StatusOr<MemoryRegion> Find(absl::string_view name) const;
  std::vector<MemoryRegion> List() const;  // by name
  std::string Names() const;               // "dta.append, tea.nat" or "none"
  size_t size() const { return count_; }
  const RegionAllocator& allocator() const { return *allocator_; }

  // The responder's check of one request: rkey known, the `len` bytes at
  // `vaddr` inside the region, every bit of `access` allowed. len == 0 is
  // checked like any other (vaddr may then be the region's end); note that
  // an RC responder skips the check for zero-length READ/WRITE (IBA C9-88).
  // Overflow-safe for any vaddr and len.
  Resolved Resolve(uint32_t rkey, uint64_t vaddr, uint32_t len, uint32_t access) const {
    const Slot& s = slots_[rkey & (kMaxRegions - 1)];
    // Acquire pairs with Register's release: a matching rkey means the
    // fields below are the ones written for it.
    if (rkey == 0 || s.rkey.load(std::memory_order_acquire) != rkey) {
      return {nullptr, ResolveError::kUnknownRkey};
    }
    if ((s.access & access) != access) return {nullptr, ResolveError::kAccessDenied};
    // offset <= length and len <= length - offset: no sum can wrap.
    const uint64_t offset = vaddr - s.iova;
    if (vaddr < s.iova || offset > s.length || len > s.length - offset) {
      return {nullptr, ResolveError::kOutOfBounds};
    }
    return {s.base + offset, ResolveError::kNone};
  }

  // FETCH_ADD / CMP_SWAP: 8 bytes at an 8-byte aligned vaddr, atomic access.
  Resolved ResolveAtomic(uint32_t rkey, uint64_t vaddr) const {
    if (!IsAtomicAligned(vaddr)) return {nullptr, ResolveError::kMisaligned};
    return Resolve(rkey, vaddr, 8, kAccessRemoteAtomic);
  }
  static constexpr bool IsAtomicAligned(uint64_t vaddr) { return (vaddr & 7) == 0; }

 private:
  // What Resolve reads, one cache line-friendly 32 bytes per slot.
  struct Slot {
    std::atomic<uint32_t> rkey{0};  // 0: free
    uint32_t access = 0;
    uint64_t iova = 0;
    uint64_t length = 0;
    uint8_t* base = nullptr;
  };
  static_assert(sizeof(Slot) == 32);

  std::unique_ptr<RegionAllocator> allocator_;
  std::unique_ptr<Slot[]> slots_;
  // Control path side, by slot: the name ("" when free), and the last rkey
  // the slot had (kept after deregistration, so the next one differs).
  std::vector<std::string> names_;
  std::vector<uint32_t> last_rkey_;
  size_t count_ = 0;

  int SlotOf(absl::string_view name) const;  // -1 when absent
  MemoryRegion Describe(size_t slot) const;
};

}  // namespace softfino::rdma
