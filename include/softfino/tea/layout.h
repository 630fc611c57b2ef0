// The TEA table in a collector memory region: the contract between the
// collector, which inserts and deletes entries (table.h), and the switch,
// which reads them with one RDMA READ per lookup and, in `remote` deferral
// mode, parks the deferred packet in the same memory. Every offset below is
// relative to the region's base: the switch adds the iova the handshake
// gave it (and uses its rkey). Numbers in the header are little-endian (only
// the collector's CPU and tools read them); numbers in buckets are in
// network order (the switch's parser reads them).
//
// Region (one region, one rkey, e.g. "tea.nat"):
//   [0, 64)                      header
//   [table_offset, ...)          bucket_count + 1 buckets of B bytes
//   [shadow_offset, ...)         lanes * bucket_count shadow rows (when on)
// A bucket is S entries ("slots", 1..8, the same for the whole table) of
// 32 bytes: B = 32 * S bytes.
//
// Header (64 bytes):
//   0..7    magic "SFTEATB1"        32..39  u64 shadow_offset (0: no shadow)
//   8..11   u32 format version = 1  40..43  u32 shadow_row_bytes
//   12..15  u32 bucket_bytes B      44..47  u32 shadow_packet_bytes
//   16..23  u64 bucket_count        48..51  u32 shadow_lanes
//   24..31  u64 table_offset = 64   52..55  u32 key_bytes = 16
//                                   56..59  u32 value_bytes = 8
//                                   60..63  u32 slots per bucket S
//
// Entry (32 bytes, 32-aligned, so never across a 64-byte cache line):
//   0..15   key (key.h)
//   16..23  value, network order
//   24      state: 0 empty, 1 occupied (anything else: treat as empty)
//   25..31  zero
//
// Bounded linear probing with a bound of 2: a key lives in one of the S
// entries of bucket h(key) or of bucket h(key) + 1 (key.h gives h), never
// elsewhere, so
//
//   LOOKUP (local deferral, or no deferral): one RDMA READ of
//     W = 2 * B bytes at table_offset + h * B
//   returns buckets h and h+1; the key is present iff one of their 2S
//   entries is occupied and holds it (FindInWindow). The table has one
//   bucket more than bucket_count, the last one reachable only as h + 1 of
//   the last h, so a window never wraps around and the switch computes no
//   modulo.
//
// Shadow table (TEA's "idea #2", remote deferral): the switch cannot hold a
// packet while its lookup is in flight, so it writes the packet next to a
// copy of the key's two buckets and one READ brings both back, buckets
// first, which its parser takes as headers before the packet. For every h
// and every lane l there is a row at
//   row(l, h) = shadow_offset + (l * bucket_count + h) * shadow_row_bytes
//   [row, row + B)              copy of bucket h      (kept by the collector)
//   [row + B, row + W)          copy of bucket h + 1  (kept by the collector)
//   [row + W, row + W + P)      packet area, P = shadow_packet_bytes
//                               (written only by the switch)
// shadow_row_bytes = W + P rounded up to 64. The switch:
//   1. RDMA WRITEs the packet (L <= P bytes) at row(l, h) + W,
//   2. then, on the same queue pair, RDMA READs W + L bytes at row(l, h).
// An RC responder executes a queue pair's requests in order, so the READ
// returns the packet just written. The response is [bucket h | bucket h+1
// | packet]; the packet length is the READ length less W. Keep W + P at
// or below the path MTU for a one-packet response.
//
// Why rows per bucket and not per in-flight lookup: a READ is contiguous,
// so the packet must lie right after a copy of *its key's* buckets; a
// slot indexed by in-flight id would need the switch to copy buckets into
// it, which RDMA cannot do without the READ it is trying to avoid. The
// price is memory: lanes * bucket_count * shadow_row_bytes (2^20 buckets
// of one slot with 256-byte packets: 320 MiB a lane). A row holds one
// packet: the switch must keep at most one deferred packet per (lane, h)
// in flight (e.g. lane = its in-flight slot mod lanes, and a busy bit per
// row hash); more lanes let more packets with the same h wait at once.
//
// Consistency (what a READ may see while the collector changes entries):
//   - Insert writes key and value into a free entry (and its shadow
//     copies), then the state word (bytes 24..31) in one aligned 8-byte
//     store. Delete clears the state word first, in one store. A value
//     change of a present key is one aligned 8-byte store. No entry ever
//     moves, so a present key is in the window throughout.
//   - Soft backend: softfino-collector's soft RNIC and its control requests
//     run on one thread, requests between bursts, so a READ sees the table
//     before or after an operation, never during one.
//   - Verbs backend: we rely on the NIC reading a 64-byte cache line as one
//     coherent snapshot (what FaRM-style RDMA stores also rely on) and on
//     x86 stores becoming visible in program order: an entry lies in one
//     line, so its snapshot shows a prefix of the stores above, and
//     "occupied" implies the key and value are whole. (Regions are 64-byte
//     aligned, the table starts at 64 and shadow rows are multiples of 64,
//     so every entry and every copy is 32-byte aligned.)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "softfino/tea/key.h"

namespace softfino::tea {

inline constexpr uint64_t kHeaderBytes = 64;
inline constexpr uint64_t kEntryBytes = 32;
inline constexpr uint32_t kMaxSlots = 8;  // entries per bucket
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr char kMagic[8] = {'S', 'F', 'T', 'E', 'A', 'T', 'B', '1'};
// Offsets within an entry.
inline constexpr uint64_t kValueOffset = 16;
inline constexpr uint64_t kStateOffset = 24;
inline constexpr uint8_t kStateEmpty = 0;
inline constexpr uint8_t kStateOccupied = 1;

// The largest table: the hash is 32 bits.
inline constexpr uint64_t kMaxBuckets = uint64_t{1} << 32;
inline constexpr uint32_t kMaxShadowPacketBytes = 9216;  // a jumbo frame
inline constexpr uint32_t kMaxShadowLanes = 64;
// The largest region, as --region allows.
inline constexpr uint64_t kMaxRegionBytes = uint64_t{1} << 40;

struct TableConfig {
  std::string name = "tea.table";    // the region's name
  uint64_t buckets = 0;              // a power of two, 1 .. 2^32
  uint32_t slots = 1;                // entries per bucket, 1 .. kMaxSlots
  uint32_t shadow_packet_bytes = 0;  // 0: no shadow table (local deferral only)
  uint32_t shadow_lanes = 1;         // rows per h, when the shadow is on
};

// "NAME:buckets=N[,slots=S][,packet=P][,lanes=L]", N with an optional K, M
// or G (powers of 1024), e.g. "tea.nat:buckets=1M,packet=256". The error says
// what to write instead.
absl::StatusOr<TableConfig> ParseTableSpec(absl::string_view text);

class Layout {
 public:
  // Checks the configuration (powers of two, ranges, the region's size).
  static absl::StatusOr<Layout> Create(const TableConfig& config);

  const TableConfig& config() const { return config_; }
  uint64_t bucket_count() const { return config_.buckets; }
  uint64_t mask() const { return config_.buckets - 1; }
  uint32_t slots() const { return config_.slots; }
  uint64_t bucket_bytes() const { return kEntryBytes * config_.slots; }
  uint64_t window_bytes() const { return 2 * bucket_bytes(); }  // W: one READ
  bool has_shadow() const { return config_.shadow_packet_bytes != 0; }
  uint32_t shadow_packet_bytes() const { return config_.shadow_packet_bytes; }
  uint32_t shadow_lanes() const { return has_shadow() ? config_.shadow_lanes : 0; }
  uint64_t shadow_row_bytes() const { return shadow_row_bytes_; }

  static constexpr uint64_t table_offset() { return kHeaderBytes; }
  uint64_t shadow_offset() const { return shadow_offset_; }  // 0 without a shadow
  uint64_t bytes() const { return bytes_; }                  // the whole region

  // Where things are, for a bucket index h < bucket_count (the window) or
  // h <= bucket_count (a bucket).
  uint64_t BucketOffset(uint64_t bucket) const { return kHeaderBytes + bucket * bucket_bytes(); }
  uint64_t EntryOffset(uint64_t bucket, uint32_t slot) const {
    return BucketOffset(bucket) + slot * kEntryBytes;
  }
  uint64_t WindowOffset(uint64_t h) const { return BucketOffset(h); }
  uint64_t ShadowRowOffset(uint32_t lane, uint64_t h) const {
    return shadow_offset_ + (uint64_t{lane} * bucket_count() + h) * shadow_row_bytes_;
  }
  uint64_t ShadowPacketOffset(uint32_t lane, uint64_t h) const {
    return ShadowRowOffset(lane, h) + window_bytes();
  }

  // The 64 header bytes this layout writes at offset 0.
  void WriteHeader(uint8_t* out) const;

 private:
  Layout(TableConfig config, uint64_t shadow_row_bytes, uint64_t shadow_offset, uint64_t bytes)
      : config_(std::move(config)),
        shadow_row_bytes_(shadow_row_bytes),
        shadow_offset_(shadow_offset),
        bytes_(bytes) {}

  TableConfig config_;
  uint64_t shadow_row_bytes_;
  uint64_t shadow_offset_;
  uint64_t bytes_;
};

// The switch's side of a READ response: the value of `key` in a window
// [bucket h | bucket h+1] (W bytes, or the first W bytes of a shadow row),
// or nothing when no entry of it is occupied by the key. Every whole
// 32-byte entry of `window` is looked at.
std::optional<uint64_t> FindInWindow(std::span<const uint8_t> window, const Key& key);

}  // namespace softfino::tea
