#include "softfino/rdma/memory_region.h"

#include <rte_malloc.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::rdma {
namespace {

constexpr uint64_t kHugePageBytes = 2u << 20;

class PageAllocator final : public RegionAllocator {
 public:
  void* Allocate(const std::string&, size_t bytes) override {
    const size_t rounded = Round(bytes);
    if (rounded < bytes) return nullptr;  // wrapped: no such memory anyway
    void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    // Best effort: fewer TLB misses for large tables; the kernel may say no.
    if (rounded >= kHugePageBytes) madvise(p, rounded, MADV_HUGEPAGE);
    // Fault every page in now, on the control path, instead of on the first
    // packet that writes it. The kernel's pages are already zero.
    volatile uint8_t* bytes_p = static_cast<uint8_t*>(p);
    for (size_t off = 0; off < rounded; off += Page()) bytes_p[off] = 0;
    return p;
  }
  void Free(void* p, size_t bytes) override { munmap(p, Round(bytes)); }
  const char* name() const override { return "mmap"; }

 private:
  static size_t Page() {
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return page;
  }
  static size_t Round(size_t bytes) { return (bytes + Page() - 1) & ~(Page() - 1); }
};

class DpdkAllocator final : public RegionAllocator {
 public:
  explicit DpdkAllocator(int socket) : socket_(socket) {}
  void* Allocate(const std::string&, size_t bytes) override {
    return rte_zmalloc_socket("softfino_region", bytes, 64, socket_);
  }
  void Free(void* p, size_t) override { rte_free(p); }
  const char* name() const override { return "rte_zmalloc"; }

 private:
  const int socket_;
};

uint32_t RandomBits() {
  uint32_t v = 0;
  // getrandom never fails for 4 bytes once the pool is initialised; if it
  // did, the rkey would still differ from the slot's last one below.
  if (getrandom(&v, sizeof(v), 0) != static_cast<ssize_t>(sizeof(v))) v = 0x5eed0000u;
  return v;
}

}  // namespace

std::unique_ptr<RegionAllocator> MakePageAllocator() { return std::make_unique<PageAllocator>(); }

std::unique_ptr<RegionAllocator> MakeDpdkAllocator(int socket) {
  return std::make_unique<DpdkAllocator>(socket);
}

bool IsValidRegionName(absl::string_view name) {
  return !name.empty() && name.size() <= kMaxRegionNameBytes &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

std::string AccessToString(uint32_t access) {
  std::vector<const char*> parts;
  if (access & kAccessLocalWrite) parts.push_back("local_write");
  if (access & kAccessRemoteWrite) parts.push_back("remote_write");
  if (access & kAccessRemoteRead) parts.push_back("remote_read");
  if (access & kAccessRemoteAtomic) parts.push_back("remote_atomic");
  return parts.empty() ? "none" : absl::StrJoin(parts, "|");
}

const char* ResolveErrorName(ResolveError error) {
  switch (error) {
    case ResolveError::kNone:
      return "ok";
    case ResolveError::kUnknownRkey:
      return "unknown_rkey";
    case ResolveError::kOutOfBounds:
      return "out_of_bounds";
    case ResolveError::kAccessDenied:
      return "access_denied";
    case ResolveError::kMisaligned:
      return "misaligned_atomic";
  }
  return "unknown";
}

MemoryRegionTable::MemoryRegionTable(std::unique_ptr<RegionAllocator> allocator)
    : allocator_(std::move(allocator)),
      slots_(new Slot[kMaxRegions]),
      names_(kMaxRegions),
      last_rkey_(kMaxRegions, 0) {}

MemoryRegionTable::~MemoryRegionTable() {
  for (size_t i = 0; i < kMaxRegions; ++i) {
    if (!names_[i].empty()) allocator_->Free(slots_[i].base, slots_[i].length);
  }
}

int MemoryRegionTable::SlotOf(absl::string_view name) const {
  for (size_t i = 0; i < kMaxRegions; ++i) {
    if (!names_[i].empty() && names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

MemoryRegion MemoryRegionTable::Describe(size_t slot) const {
  const Slot& s = slots_[slot];
  return MemoryRegion{
      names_[slot], s.base, s.length, s.iova, s.rkey.load(std::memory_order_relaxed), s.access};
}

absl::StatusOr<MemoryRegion> MemoryRegionTable::Register(absl::string_view name, uint64_t length,
                                                         RegionOptions options) {
  if (!IsValidRegionName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("region name '", name, "' is not valid: use 1 to ", kMaxRegionNameBytes,
                     " letters, digits, '.', '_' or '-', e.g. dta.keywrite"));
  }
  if (SlotOf(name) >= 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("a region named ", name, " is already registered; choose another name"));
  }
  if (length == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("region ", name, " has length 0; give it at least one byte"));
  }
  if ((options.access & ~(kAccessAllRemote | kAccessLocalWrite)) != 0 ||
      (options.access & kAccessAllRemote) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "region ", name, " access 0x", absl::Hex(options.access),
        " must grant some of remote_write, remote_read, remote_atomic and nothing else"));
  }
  if (options.iova) {
    const uint64_t iova = *options.iova;
    if (iova % 64 != 0) {
      return absl::InvalidArgumentError(absl::StrCat("region ", name, " iova 0x", absl::Hex(iova),
                                                     " is not a multiple of 64; align it"));
    }
    // The last byte, iova + length - 1, must not pass 2^64 - 1.
    if (iova != 0 && length > 0 - iova) {
      return absl::InvalidArgumentError(absl::StrCat("region ", name, " at iova 0x",
                                                     absl::Hex(iova), " with length ", length,
                                                     " would end past 2^64; choose a lower iova"));
    }
  }
  size_t slot = 0;
  while (slot < kMaxRegions && !names_[slot].empty()) ++slot;
  if (slot == kMaxRegions) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot register region ", name, ": all ",
                                                     kMaxRegions, " region slots are in use (",
                                                     Names(), "); deregister one first"));
  }
  void* memory = allocator_->Allocate(std::string(name), length);
  if (memory == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot allocate ", length, " bytes for region ", name, " (", allocator_->name(),
        " failed); make the region smaller or give the collector more memory (EAL -m or "
        "--socket-mem, hugepages)"));
  }
  uint32_t rkey = 0;
  while (rkey == 0 || rkey == last_rkey_[slot] || (rkey >> kSlotBits) == 0) {
    rkey = (RandomBits() & ~(kMaxRegions - 1)) | static_cast<uint32_t>(slot);
  }
  Slot& s = slots_[slot];
  s.base = static_cast<uint8_t*>(memory);
  s.length = length;
  s.iova = options.iova.value_or(reinterpret_cast<uintptr_t>(memory));
  s.access = options.access;
  names_[slot] = std::string(name);
  last_rkey_[slot] = rkey;
  ++count_;
  s.rkey.store(rkey, std::memory_order_release);  // publish: Resolve may match it from now on
  return Describe(slot);
}

absl::Status MemoryRegionTable::Deregister(absl::string_view name) {
  const int slot = SlotOf(name);
  if (slot < 0) {
    return absl::NotFoundError(
        absl::StrCat("no region named ", name, " to deregister; it has ", Names()));
  }
  Slot& s = slots_[slot];
  s.rkey.store(0, std::memory_order_release);
  allocator_->Free(s.base, s.length);
  s.base = nullptr;
  s.length = 0;
  names_[slot].clear();
  --count_;
  return absl::OkStatus();
}

absl::StatusOr<MemoryRegion> MemoryRegionTable::Find(absl::string_view name) const {
  const int slot = SlotOf(name);
  if (slot < 0)
    return absl::NotFoundError(absl::StrCat("no region named ", name, "; it has ", Names()));
  return Describe(static_cast<size_t>(slot));
}

std::vector<MemoryRegion> MemoryRegionTable::List() const {
  std::vector<MemoryRegion> regions;
  for (size_t i = 0; i < kMaxRegions; ++i) {
    if (!names_[i].empty()) regions.push_back(Describe(i));
  }
  std::sort(regions.begin(), regions.end(),
            [](const MemoryRegion& a, const MemoryRegion& b) { return a.name < b.name; });
  return regions;
}

std::string MemoryRegionTable::Names() const {
  if (count_ == 0) return "none";
  std::vector<std::string> names;
  for (const MemoryRegion& r : List()) names.push_back(r.name);
  return absl::StrJoin(names, ", ");
}

}  // namespace softfino::rdma
