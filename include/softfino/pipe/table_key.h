// Match keys, action entries and per-entry state (direct counters, idle time)
// shared by the exact, ternary and range tables.
//
// A key is a fixed-width byte string in network order: the match fields
// concatenated in declaration order, as P4 builds a match key. Every field
// takes whole bytes (a bit<9> port takes a U16), so a key compares and hashes
// as plain bytes and a ternary mask is a byte-wise AND.
//
//   const auto key = MakeKey(field::Ipv4(src), field::Ipv4(dst), field::U8(proto));
//   static_assert(sizeof(key.bytes) == 9);
//
// Action data is a template parameter, not a byte array: a program declares
// one trivially copyable struct per table (a union or std::variant when its
// actions take different parameters) and reads it with no decoding and no
// byte swapping per packet. The width is known at compile time, so entries
// live inline in the hash slots and a hit costs one cache miss, not two.
//
// Versions and entry state. The control plane changes a table copy-on-write:
// it clones the published version, changes the clone, publishes it with one
// pointer swap and frees the old version after an RCU grace period. Direct
// counters and idle timestamps must not lose the hits that workers record on
// the old version in the meantime, so they do not live in a version: all
// versions of a table share one EntryStates, indexed by a handle that an
// entry keeps for its whole life across versions. A handle is reused only
// once no version holds it any more (versions reference-count their
// handles), i.e. after the grace period that freed the last version that
// could still count into it.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "softfino/net/address.h"
#include "softfino/pipe/counter_value.h"

namespace softfino::pipe {

// ---------------------------------------------------------------------------
// Keys and masks.

template <size_t N>
struct Key {
  static_assert(N > 0, "a match key needs at least one byte");
  static constexpr size_t kSize = N;
  uint8_t bytes[N] = {};

  friend bool operator==(const Key& a, const Key& b) {
    return std::memcmp(a.bytes, b.bytes, N) == 0;
  }
};

// A ternary mask over a key of the same width: 1 bits take part in the match.
template <size_t N>
struct Mask {
  static constexpr size_t kSize = N;
  uint8_t bytes[N] = {};

  static Mask Exact() {
    Mask m;
    std::memset(m.bytes, 0xff, N);
    return m;
  }
  friend bool operator==(const Mask& a, const Mask& b) {
    return std::memcmp(a.bytes, b.bytes, N) == 0;
  }
};

template <size_t N>
inline Key<N> ApplyMask(const Key<N>& key, const Mask<N>& mask) {
  Key<N> out;
  for (size_t i = 0; i < N; ++i) out.bytes[i] = key.bytes[i] & mask.bytes[i];
  return out;
}

// True when `value` has a 1 bit where `mask` has a 0 bit.
template <size_t N>
inline bool HasBitsOutsideMask(const Key<N>& value, const Mask<N>& mask) {
  uint8_t stray = 0;
  for (size_t i = 0; i < N; ++i) stray |= value.bytes[i] & static_cast<uint8_t>(~mask.bytes[i]);
  return stray != 0;
}

// "0a000001:06" style text of a key or mask, for error messages.
inline std::string BytesToHex(const uint8_t* bytes, size_t n) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes), n));
}
template <size_t N>
std::string ToHex(const Key<N>& key) {
  return BytesToHex(key.bytes, N);
}
template <size_t N>
std::string ToHex(const Mask<N>& mask) {
  return BytesToHex(mask.bytes, N);
}

// Field packers. Integers are given in host order and written big-endian;
// Be16/Be32 take a field straight from a header (already network order) and
// save the two byte swaps. MakeKey(...) deduces the key width from the
// fields, so a key whose fields do not add up cannot compile.
namespace field {

struct U8 {
  static constexpr size_t kSize = 1;
  uint8_t value;
  void Write(uint8_t* p) const { p[0] = value; }
};
struct U16 {
  static constexpr size_t kSize = 2;
  uint16_t value;
  void Write(uint8_t* p) const {
    p[0] = static_cast<uint8_t>(value >> 8);
    p[1] = static_cast<uint8_t>(value);
  }
};
struct U32 {
  static constexpr size_t kSize = 4;
  uint32_t value;
  void Write(uint8_t* p) const {
    const uint32_t be = __builtin_bswap32(value);
    std::memcpy(p, &be, 4);
  }
};
struct U64 {
  static constexpr size_t kSize = 8;
  uint64_t value;
  void Write(uint8_t* p) const {
    const uint64_t be = __builtin_bswap64(value);
    std::memcpy(p, &be, 8);
  }
};
// An IPv4 address in host order, as net::Ipv4Prefix::addr holds it.
struct Ipv4 {
  static constexpr size_t kSize = 4;
  uint32_t value;
  void Write(uint8_t* p) const { U32{value}.Write(p); }
};
// 16 bytes in network order (a header field or net::Ipv6Prefix::addr).
struct Ipv6 {
  static constexpr size_t kSize = 16;
  const uint8_t* bytes;
  explicit Ipv6(const uint8_t* b) : bytes(b) {}
  explicit Ipv6(const std::array<uint8_t, 16>& a) : bytes(a.data()) {}
  void Write(uint8_t* p) const { std::memcpy(p, bytes, 16); }
};
// 6 bytes in network order (a header field or a net::MacAddress).
struct Mac {
  static constexpr size_t kSize = 6;
  const uint8_t* bytes;
  explicit Mac(const uint8_t* b) : bytes(b) {}
  explicit Mac(const net::MacAddress& a) : bytes(a.data()) {}
  void Write(uint8_t* p) const { std::memcpy(p, bytes, 6); }
};
// Header fields already in network order (rte_be16_t, rte_be32_t).
struct Be16 {
  static constexpr size_t kSize = 2;
  uint16_t value;
  void Write(uint8_t* p) const { std::memcpy(p, &value, 2); }
};
struct Be32 {
  static constexpr size_t kSize = 4;
  uint32_t value;
  void Write(uint8_t* p) const { std::memcpy(p, &value, 4); }
};
// M raw bytes, network order.
template <size_t M>
struct Bytes {
  static constexpr size_t kSize = M;
  const uint8_t* bytes;
  void Write(uint8_t* p) const { std::memcpy(p, bytes, M); }
};

}  // namespace field

template <typename... F>
inline constexpr size_t kKeyWidth = (F::kSize + ...);

// Writes `fields` into `out`, which must be exactly as wide as they are.
template <size_t N, typename... F>
inline void PackKey(uint8_t (&out)[N], const F&... fields) {
  static_assert(kKeyWidth<F...> == N, "the fields' widths must add up to the key's width");
  uint8_t* p = out;
  ((fields.Write(p), p += F::kSize), ...);
}

template <typename... F>
inline Key<kKeyWidth<F...>> MakeKey(const F&... fields) {
  Key<kKeyWidth<F...>> key;
  PackKey(key.bytes, fields...);
  return key;
}

// A mask built like a key: MakeMask(field::U32(0xffffff00), field::U8(0)).
template <typename... F>
inline Mask<kKeyWidth<F...>> MakeMask(const F&... fields) {
  Mask<kKeyWidth<F...>> mask;
  PackKey(mask.bytes, fields...);
  return mask;
}

// Hash of a key for the hash tables: CRC32C (one instruction per 8 bytes),
// spread over 64 bits by a multiply so that both the slot index (high bits)
// and the Swiss-table tag (low 7 bits) come out well mixed. As fast as
// absl::Hash here (bench: 4.2 against 4.0 ns a lookup at 1K entries); it
// needs no absl::Hash overload per key type.
#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline uint64_t HashKeyBytes(const uint8_t* p, size_t n) {
  uint64_t crc = 0x5bd1e995u;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    crc = _mm_crc32_u64(crc, w);
  }
  if (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    crc = _mm_crc32_u32(static_cast<uint32_t>(crc), w);
    n -= 4, p += 4;
  }
  for (; n > 0; --n, ++p) crc = _mm_crc32_u8(static_cast<uint32_t>(crc), *p);
  return crc * 0x9e3779b97f4a7c15ull;
}
#else
inline uint64_t HashKeyBytes(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a final mix
  for (; n > 0; --n, ++p) h = (h ^ *p) * 0x100000001b3ull;
  h ^= h >> 33;
  return h * 0x9e3779b97f4a7c15ull;
}
#endif

struct KeyHash {
  template <size_t N>
  size_t operator()(const Key<N>& key) const {
    return HashKeyBytes(key.bytes, N);
  }
};

// ---------------------------------------------------------------------------
// Actions and lookup results.

// Action data wider than this would make every slot span several cache
// lines; keep an index into another table (or a register) instead.
inline constexpr size_t kMaxActionDataBytes = 64;

template <typename Data>
inline constexpr bool kIsActionData =
    std::is_trivially_copyable_v<Data>&& std::is_default_constructible_v<Data> &&
    sizeof(Data) <= kMaxActionDataBytes;

// What a program gives an entry (or a table's default_action).
template <typename Data>
struct Action {
  uint16_t id = 0;
  Data data{};
};

// Order among the entries of a ternary or range table: the lower priority
// value wins ($MATCH_PRIORITY, as bfrt defines it), then the earlier-added
// entry (`seq`, kept across Modify and Clone), so ties never depend on how
// the table happens to be laid out.
struct EntryRank {
  uint32_t priority = 0;
  uint64_t seq = 0;
  friend bool operator<(const EntryRank& a, const EntryRank& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.seq < b.seq;
  }
  friend bool operator==(const EntryRank&, const EntryRank&) = default;
};

// A stable name for an entry across table versions: it indexes the entry's
// direct counter and idle cells. The default action has a handle too
// (EntryStates::default_handle()), so a miss can be counted like a hit.
using EntryHandle = uint32_t;

// What a lookup returns: the action to run and its data. Lives inside the
// table version, so the pointer a lookup returns stays valid for as long as
// the version does (until the grace period after it is replaced).
template <typename Data>
struct MatchResult {
  uint16_t action_id = 0;
  bool hit = false;  // false: the table's default action (a miss)
  EntryHandle handle = 0;
  Data data{};
};

// ---------------------------------------------------------------------------
// Table-wide options, shared by the three table kinds.

struct TableOptions {
  std::string name = "table";    // names the table in error messages
  uint32_t size = 1024;          // most entries, as P4's `size`
  uint16_t pipes = 1;            // direct-state cells per entry: one per pipe (worker)
  bool direct_counters = false;  // TNA DirectCounter (packets and bytes)
  bool idle_timeout = false;     // TNA idle_timeout = true: entries take a TTL
};

// One pipe's direct counter and idle cells. A worker takes it from the table
// version it is using and records its hits through it; the pipe is its only
// writer, so a relaxed load and store is enough (as in pipe::Counter).
class DirectCells {
 public:
  DirectCells() = default;

  // Counts one packet of `bytes` on the entry; no-op without direct counters.
  void Count(EntryHandle handle, uint32_t bytes) const {
    if (counters_ == nullptr) return;
    Cell& c = counters_[handle];
    c.packets.store(c.packets.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    c.bytes.store(c.bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
  }
  // Records a hit at `now_ns` (real or virtual time); no-op without idle
  // timeout. Keeps the latest time: a program may handle a burst's packets
  // out of arrival order (l3fwd: the IPv4 ones, then the IPv6 ones).
  void Touch(EntryHandle handle, uint64_t now_ns) const {
    if (last_hit_ == nullptr) return;
    std::atomic<uint64_t>& last = last_hit_[handle];
    if (now_ns > last.load(std::memory_order_relaxed)) last.store(now_ns, std::memory_order_relaxed);
  }
  void Hit(EntryHandle handle, uint32_t bytes, uint64_t now_ns) const {
    Count(handle, bytes);
    Touch(handle, now_ns);
  }

 private:
  friend class EntryStates;
  struct Cell {
    std::atomic<uint64_t> packets{0};
    std::atomic<uint64_t> bytes{0};
  };
  DirectCells(Cell* counters, std::atomic<uint64_t>* last_hit)
      : counters_(counters), last_hit_(last_hit) {}
  Cell* counters_ = nullptr;
  std::atomic<uint64_t>* last_hit_ = nullptr;
};

// The state all versions of one table share: entry handles (reference
// counted by the versions that hold them), and per pipe and per handle the
// direct counters and last-hit times, one array per pipe so that pipes
// hitting the same entry never share a cache line. Everything but cells() is
// control path, called from one thread; only Ref/Unref may also come from
// another (where old versions are freed), so they take a lock.
//
// There are 2 x size handles (+1 for the default action): a batch that
// replaces every entry of a full table needs new handles while the published
// version still holds the old ones.
class EntryStates {
 public:
  static absl::StatusOr<std::shared_ptr<EntryStates>> Create(const TableOptions& options) {
    if (options.size == 0 || options.size > (1u << 30)) {
      return absl::InvalidArgumentError(
          absl::StrCat("table '", options.name, "': size ", options.size, " must be in 1..2^30"));
    }
    if (options.pipes == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("table '", options.name, "': pipes must be at least 1"));
    }
    return std::shared_ptr<EntryStates>(new EntryStates(options));
  }

  const TableOptions& options() const { return options_; }
  const std::string& name() const { return options_.name; }
  EntryHandle default_handle() const { return handles_; }

  DirectCells cells(uint16_t pipe) const {
    return DirectCells(counters_.empty() ? nullptr : counters_[pipe].get(),
                       last_hit_.empty() ? nullptr : last_hit_[pipe].get());
  }

  // A fresh handle with zeroed counters and idle state, referenced once.
  // Safe to zero: no version holds the handle, so no worker writes its cells.
  absl::StatusOr<EntryHandle> Acquire() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "table '", name(), "': all ", handles_,
          " entry handles are held by live versions of the table; free old versions (after "
          "their RCU grace period) before committing more changes"));
    }
    const EntryHandle h = free_.back();
    free_.pop_back();
    refs_[h] = 1;
    for (auto& pipe : counters_) {
      pipe[h].packets.store(0, std::memory_order_relaxed);
      pipe[h].bytes.store(0, std::memory_order_relaxed);
    }
    for (auto& pipe : last_hit_) pipe[h].store(0, std::memory_order_relaxed);
    if (!counter_base_.empty()) counter_base_[h] = {};
    if (!idle_start_.empty()) idle_start_[h] = kUnset, reported_[h] = kUnset;
    return h;
  }

  // A version takes (Ref) or drops (Unref) its handles; `n` handles at once.
  void Ref(const EntryHandle* handles, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < n; ++i) ++refs_[handles[i]];
  }
  void Unref(const EntryHandle* handles, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      if (--refs_[handles[i]] == 0) free_.push_back(handles[i]);
    }
  }

  // Sum over pipes, less what ClearCounter took away.
  CounterValue ReadCounter(EntryHandle h) const {
    CounterValue v;
    for (const auto& pipe : counters_) {
      v.packets += pipe[h].packets.load(std::memory_order_relaxed);
      v.bytes += pipe[h].bytes.load(std::memory_order_relaxed);
    }
    if (!counter_base_.empty()) {
      v.packets -= counter_base_[h].packets;
      v.bytes -= counter_base_[h].bytes;
    }
    return v;
  }
  // Resets the counter as the control plane sees it. The pipes stay the only
  // writers of their cells: we remember the sum and subtract it on reads.
  void ClearCounter(EntryHandle h) {
    if (counter_base_.empty()) return;
    counter_base_[h] = {};
    counter_base_[h] = ReadCounter(h);
  }

  // Latest hit over all pipes (0: never hit).
  uint64_t LastHit(EntryHandle h) const {
    uint64_t last = 0;
    for (const auto& pipe : last_hit_)
      last = std::max(last, pipe[h].load(std::memory_order_relaxed));
    return last;
  }

  // True once per idle period: when the entry has had no hit for `ttl_ms`.
  // The idle clock of a new entry starts at the first sweep that sees it (or
  // its first hit), so a sweep every T ms reports within ttl + T. Reported
  // entries are not reported again until they are hit again.
  bool CheckIdle(EntryHandle h, uint32_t ttl_ms, uint64_t now_ns) const {
    if (idle_start_.empty() || ttl_ms == 0) return false;
    if (idle_start_[h] == kUnset) idle_start_[h] = now_ns;
    const uint64_t last = std::max(LastHit(h), idle_start_[h]);
    if (now_ns < last || now_ns - last < uint64_t{ttl_ms} * 1000000u) return false;
    if (reported_[h] == last) return false;
    reported_[h] = last;
    return true;
  }

  absl::Status CheckTtl(uint32_t ttl_ms) const {
    if (ttl_ms != 0 && !options_.idle_timeout) {
      return absl::InvalidArgumentError(
          absl::StrCat("table '", name(),
                       "' has no idle timeout: declare it with "
                       "idle_timeout = true, or give its entries a TTL of 0"));
    }
    return absl::OkStatus();
  }

 private:
  static constexpr uint64_t kUnset = ~uint64_t{0};

  explicit EntryStates(const TableOptions& options)
      : options_(options), handles_(2 * options.size) {
    const size_t cells = size_t{handles_} + 1;  // + the default action
    refs_.assign(cells, 0);
    refs_[handles_] = 1;  // the default action's handle is never freed
    free_.reserve(handles_);
    for (EntryHandle h = handles_; h-- > 0;) free_.push_back(h);  // lowest handles first
    for (uint16_t p = 0; options.direct_counters && p < options.pipes; ++p) {
      counters_.push_back(std::make_unique<DirectCells::Cell[]>(cells));
    }
    if (options.direct_counters) counter_base_.assign(cells, CounterValue{});
    for (uint16_t p = 0; options.idle_timeout && p < options.pipes; ++p) {
      last_hit_.push_back(std::make_unique<std::atomic<uint64_t>[]>(cells));
    }
    if (options.idle_timeout) {
      idle_start_.assign(cells, kUnset);
      reported_.assign(cells, kUnset);
    }
  }

  const TableOptions options_;
  const EntryHandle handles_;
  std::mutex mu_;  // refs_ and free_: versions may be freed off the control thread
  std::vector<uint32_t> refs_;
  std::vector<EntryHandle> free_;
  std::vector<std::unique_ptr<DirectCells::Cell[]>> counters_;      // [pipe][handle]
  std::vector<std::unique_ptr<std::atomic<uint64_t>[]>> last_hit_;  // [pipe][handle]
  std::vector<CounterValue> counter_base_;
  // Control-path idle bookkeeping; mutable so that a sweep can run on the
  // published (const) version.
  mutable std::vector<uint64_t> idle_start_;
  mutable std::vector<uint64_t> reported_;
};

}  // namespace softfino::pipe
