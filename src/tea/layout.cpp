#include "softfino/tea/layout.h"

#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace softfino::tea {
namespace {

uint64_t RoundUp64(uint64_t n) { return (n + 63) & ~uint64_t{63}; }

void PutLe(uint8_t* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

// "1M" -> 2^20; false when not a number.
bool ParseCount(absl::string_view text, uint64_t* out) {
  uint64_t unit = 1;
  if (!text.empty()) {
    switch (absl::ascii_toupper(text.back())) {
      case 'K':
        unit = uint64_t{1} << 10;
        break;
      case 'M':
        unit = uint64_t{1} << 20;
        break;
      case 'G':
        unit = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (unit != 1) text.remove_suffix(1);
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n > (uint64_t{1} << 40) / unit) return false;
  *out = n * unit;
  return true;
}

}  // namespace

absl::StatusOr<TableConfig> ParseTableSpec(absl::string_view text) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("TEA table '", text, "': ", why,
                     "; write NAME:buckets=N[,slots=S][,packet=BYTES][,lanes=L], e.g. "
                     "tea.nat:buckets=1M,packet=256"));
  };
  const std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits(':', 1));
  if (parts.size() != 2 || parts[0].empty()) return bad("expected NAME:settings");
  TableConfig config;
  config.name = std::string(parts[0]);
  bool have_buckets = false;
  for (absl::string_view setting : absl::StrSplit(parts[1], ',')) {
    const std::vector<absl::string_view> kv = absl::StrSplit(setting, absl::MaxSplits('=', 1));
    uint64_t n = 0;
    if (kv.size() != 2 || !ParseCount(kv[1], &n)) {
      return bad(absl::StrCat("'", setting, "' is not KEY=NUMBER"));
    }
    if (kv[0] == "buckets") {
      config.buckets = n;
      have_buckets = true;
    } else if (kv[0] == "slots") {
      if (n == 0 || n > kMaxSlots) {
        return bad(absl::StrCat("slots=", n, " is not 1 to ", kMaxSlots));
      }
      config.slots = static_cast<uint32_t>(n);
    } else if (kv[0] == "packet") {
      if (n > kMaxShadowPacketBytes) {
        return bad(absl::StrCat("packet=", n, " is above ", kMaxShadowPacketBytes));
      }
      config.shadow_packet_bytes = static_cast<uint32_t>(n);
    } else if (kv[0] == "lanes") {
      if (n == 0 || n > kMaxShadowLanes) {
        return bad(absl::StrCat("lanes=", n, " is not 1 to ", kMaxShadowLanes));
      }
      config.shadow_lanes = static_cast<uint32_t>(n);
    } else {
      return bad(absl::StrCat("unknown setting '", kv[0], "' (buckets, slots, packet, lanes)"));
    }
  }
  if (!have_buckets) return bad("buckets= is missing");
  return config;
}

absl::StatusOr<Layout> Layout::Create(const TableConfig& config) {
  const uint64_t n = config.buckets;
  if (n == 0 || (n & (n - 1)) != 0 || n > kMaxBuckets) {
    return absl::InvalidArgumentError(
        absl::StrCat("TEA table ", config.name, ": buckets is ", n,
                     "; use a power of two from 1 to 2^32 (the bucket is a 32-bit CRC masked with "
                     "buckets - 1)"));
  }
  if (config.slots == 0 || config.slots > kMaxSlots) {
    return absl::InvalidArgumentError(absl::StrCat("TEA table ", config.name, ": slots ",
                                                   config.slots, " is not 1 to ", kMaxSlots));
  }
  if (config.shadow_packet_bytes > kMaxShadowPacketBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("TEA table ", config.name, ": shadow packet bytes ",
                     config.shadow_packet_bytes, " is above ", kMaxShadowPacketBytes));
  }
  if (config.shadow_lanes == 0 || config.shadow_lanes > kMaxShadowLanes) {
    return absl::InvalidArgumentError(absl::StrCat("TEA table ", config.name, ": shadow lanes ",
                                                   config.shadow_lanes, " is not 1 to ",
                                                   kMaxShadowLanes));
  }
  const uint64_t bucket_bytes = kEntryBytes * config.slots;
  const uint64_t table_end = RoundUp64(kHeaderBytes + (n + 1) * bucket_bytes);
  uint64_t row = 0;
  uint64_t shadow_offset = 0;
  uint64_t bytes = table_end;
  if (config.shadow_packet_bytes != 0) {
    row = RoundUp64(2 * bucket_bytes + config.shadow_packet_bytes);
    shadow_offset = table_end;
    // n <= 2^32, row < 2^14, lanes <= 64: no overflow in 64 bits.
    bytes += uint64_t{config.shadow_lanes} * n * row;
  }
  if (bytes > kMaxRegionBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TEA table ", config.name, " needs ", bytes, " bytes (", bytes >> 30,
        " GiB), more than a region may have (1 TiB); use fewer buckets, a smaller packet= or "
        "fewer lanes="));
  }
  return Layout(config, row, shadow_offset, bytes);
}

void Layout::WriteHeader(uint8_t* out) const {
  std::memset(out, 0, kHeaderBytes);
  std::memcpy(out, kMagic, sizeof(kMagic));
  PutLe(out + 8, kFormatVersion, 4);
  PutLe(out + 12, bucket_bytes(), 4);
  PutLe(out + 16, bucket_count(), 8);
  PutLe(out + 24, table_offset(), 8);
  PutLe(out + 32, shadow_offset_, 8);
  PutLe(out + 40, shadow_row_bytes_, 4);
  PutLe(out + 44, config_.shadow_packet_bytes, 4);
  PutLe(out + 48, shadow_lanes(), 4);
  PutLe(out + 52, kKeyBytes, 4);
  PutLe(out + 56, kValueBytes, 4);
  PutLe(out + 60, slots(), 4);
}

std::optional<uint64_t> FindInWindow(std::span<const uint8_t> window, const Key& key) {
  for (uint64_t e = 0; (e + 1) * kEntryBytes <= window.size(); ++e) {
    const uint8_t* entry = window.data() + e * kEntryBytes;
    if (entry[kStateOffset] != kStateOccupied) continue;
    if (std::memcmp(entry, key.data(), kKeyBytes) != 0) continue;
    uint64_t value = 0;
    for (uint64_t i = 0; i < kValueBytes; ++i) value = (value << 8) | entry[kValueOffset + i];
    return value;
  }
  return std::nullopt;
}

}  // namespace softfino::tea
