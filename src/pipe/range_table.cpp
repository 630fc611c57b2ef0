#include "softfino/pipe/range_table.h"

#include <rte_acl.h>
#include <rte_errno.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace softfino::pipe {
namespace {

// rte_acl reads the first input byte alone, then groups of 4 bytes; our
// input is one dummy byte, acl_shift() zero bytes, the key, zeros to the end
// of the last group.
constexpr size_t kMaxAclInput = 1 + 3 + RangeKeyLayout::kMaxKeyWidth + 3;

size_t AclGroups(size_t key_width, uint8_t shift) { return (shift + key_width + 3) / 4; }

uint64_t BigEndian(const uint8_t* p, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v = v << 8 | p[i];
  return v;
}

void SetFieldValue(rte_acl_field* f, size_t width, uint64_t value, uint64_t mask_range) {
  switch (width) {
    case 1:
      f->value.u8 = static_cast<uint8_t>(value);
      f->mask_range.u8 = static_cast<uint8_t>(mask_range);
      break;
    case 2:
      f->value.u16 = static_cast<uint16_t>(value);
      f->mask_range.u16 = static_cast<uint16_t>(mask_range);
      break;
    default:
      f->value.u32 = static_cast<uint32_t>(value);
      f->mask_range.u32 = static_cast<uint32_t>(mask_range);
      break;
  }
}

std::string UniqueAclName(absl::string_view table) {
  static std::atomic<uint32_t> next{0};
  return absl::StrCat("rng_", table.substr(0, 16), "_", next.fetch_add(1));
}

}  // namespace

absl::StatusOr<RangeKeyLayout> RangeKeyLayout::Create(absl::string_view table, size_t key_width,
                                                      const std::vector<MatchField>& fields) {
  RangeKeyLayout layout;
  layout.key_width_ = key_width;
  layout.fields_ = fields;
  layout.exact_mask_.assign(key_width, 0);
  size_t offset = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    const MatchField& f = fields[i];
    if (f.width == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("range table '", table, "': field ", i, " has width 0"));
    }
    if (f.kind == MatchKind::kRange) {
      if (f.width != 1 && f.width != 2 && f.width != 4) {
        return absl::InvalidArgumentError(absl::StrCat(
            "range table '", table, "': range field ", i, " is ", f.width,
            " bytes wide; range fields must be 1, 2 or 4 bytes (split or widen the field)"));
      }
      if (layout.range_count_ == kMaxRangeFields) {
        return absl::InvalidArgumentError(absl::StrCat("range table '", table, "': more than ",
                                                       kMaxRangeFields, " range fields"));
      }
      layout.ranges_[layout.range_count_++] = {static_cast<uint16_t>(offset), f.width};
    } else {
      for (size_t b = 0; b < f.width && offset + b < key_width; ++b) {
        layout.exact_mask_[offset + b] = 0xff;
      }
    }
    offset += f.width;
  }
  if (offset != key_width) {
    return absl::InvalidArgumentError(absl::StrCat("range table '", table, "': its fields are ",
                                                   offset, " bytes wide in all but its key is ",
                                                   key_width, "; make them agree"));
  }
  // The smallest shift that keeps every range field inside one 4-byte group.
  for (uint8_t shift = 0; shift < 4; ++shift) {
    bool fits = true;
    for (size_t r = 0; r < layout.range_count_; ++r) {
      const size_t start = shift + layout.ranges_[r].offset;
      fits &= start / 4 == (start + layout.ranges_[r].width - 1) / 4;
    }
    if (fits) {
      layout.acl_shift_ = shift;
      return layout;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "range table '", table,
      "': its range fields cannot all be aligned to 4-byte groups "
      "for rte_acl; reorder the key so that 4-byte range fields start 4 bytes apart and no "
      "2-byte range field sits an odd number of bytes after a 4-byte one"));
}

bool RangeKeyLayout::IsRangeStart(size_t offset, uint8_t* width) const {
  for (size_t r = 0; r < range_count_; ++r) {
    if (ranges_[r].offset == offset) {
      *width = ranges_[r].width;
      return true;
    }
  }
  return false;
}

absl::Status RangeKeyLayout::CheckSpec(absl::string_view table, const uint8_t* low,
                                       const uint8_t* high) const {
  size_t offset = 0;
  for (size_t i = 0; i < fields_.size(); ++i) {
    const MatchField& f = fields_[i];
    const int order = std::memcmp(low + offset, high + offset, f.width);
    if (f.kind == MatchKind::kExact && order != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("range table '", table, "': field ", i, " is exact, so its low (",
                       BytesToHex(low + offset, f.width), ") and high (",
                       BytesToHex(high + offset, f.width), ") must be equal"));
    }
    if (f.kind == MatchKind::kRange && order > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("range table '", table, "': range field ", i, " has low ",
                       BytesToHex(low + offset, f.width), " above high ",
                       BytesToHex(high + offset, f.width), "; swap them"));
    }
    offset += f.width;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RangeAcl>> RangeAcl::Build(absl::string_view table,
                                                          const RangeKeyLayout& layout,
                                                          const uint8_t* lows, const uint8_t* highs,
                                                          size_t n) {
  const size_t width = layout.key_width();
  const uint8_t shift = layout.acl_shift();
  const size_t groups = AclGroups(width, shift);
  if (n == 0 || n >= RTE_ACL_MAX_PRIORITY) {
    return absl::InvalidArgumentError(
        absl::StrCat("range table '", table, "': cannot classify ", n, " entries with rte_acl"));
  }

  // Field definitions, and for each the key bytes it covers (key_offset < 0:
  // padding, matched as a wildcard). Every byte of every group is covered.
  struct Covered {
    int key_offset;
    uint8_t width;
    bool range;
  };
  rte_acl_config config{};
  std::vector<Covered> covered;
  config.num_categories = 1;
  config.defs[0] = {RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, 0};  // the dummy first byte
  covered.push_back({-1, 1, false});
  for (size_t g = 0; g < groups; ++g) {
    size_t pos = 0;
    while (pos < 4) {
      const int key_offset = static_cast<int>(4 * g + pos) - shift;
      uint8_t w = 0;
      bool range = key_offset >= 0 && layout.IsRangeStart(static_cast<size_t>(key_offset), &w);
      if (!range) {
        // A run of exact or padding bytes up to the next range field or the
        // end of the group, cut into 4, 2 and 1 byte pieces.
        size_t run = 0;
        uint8_t ignored;
        while (pos + run < 4) {
          const int k = key_offset + static_cast<int>(run);
          if (run > 0 && k >= 0 && layout.IsRangeStart(static_cast<size_t>(k), &ignored)) break;
          ++run;
        }
        w = run == 4 ? 4 : run >= 2 ? 2 : 1;
      }
      const size_t index = covered.size();
      if (index >= RTE_ACL_MAX_FIELDS) {
        return absl::InvalidArgumentError(
            absl::StrCat("range table '", table, "': its key needs more than ", RTE_ACL_MAX_FIELDS,
                         " rte_acl fields; use fewer, wider fields"));
      }
      config.defs[index] = {
          static_cast<uint8_t>(range ? RTE_ACL_FIELD_TYPE_RANGE : RTE_ACL_FIELD_TYPE_BITMASK), w,
          static_cast<uint8_t>(index), static_cast<uint8_t>(g + 1),
          static_cast<uint32_t>(1 + 4 * g + pos)};
      covered.push_back({key_offset, w, range});
      pos += w;
    }
  }
  config.num_fields = static_cast<uint32_t>(covered.size());

  const std::string acl_name = UniqueAclName(table);
  const size_t rule_size = RTE_ACL_RULE_SZ(covered.size());
  rte_acl_param param{};
  param.name = acl_name.c_str();
  param.socket_id = SOCKET_ID_ANY;
  param.rule_size = static_cast<uint32_t>(rule_size);
  param.max_rule_num = static_cast<uint32_t>(n);
  rte_acl_ctx* ctx = rte_acl_create(&param);
  if (ctx == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("range table '", table, "': cannot create an rte_acl context for ", n,
                     " entries: ", rte_strerror(rte_errno), "; give DPDK more memory (EAL -m)"));
  }
  std::unique_ptr<RangeAcl> acl(new RangeAcl(ctx, width, shift));

  // Rules in chunks, so that the staging buffer stays small.
  constexpr size_t kChunk = 4096;
  std::vector<uint8_t> rules(kChunk * rule_size);
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    std::fill(rules.begin(), rules.end(), 0);
    for (size_t i = 0; i < m; ++i) {
      const size_t rank = base + i;
      auto* rule = reinterpret_cast<rte_acl_rule*>(rules.data() + i * rule_size);
      rule->data.category_mask = 1;
      rule->data.priority = static_cast<int32_t>(RTE_ACL_MAX_PRIORITY - rank);
      rule->data.userdata = static_cast<uint32_t>(rank + 1);
      const uint8_t* low = lows + rank * width;
      const uint8_t* high = highs + rank * width;
      for (size_t f = 1; f < covered.size(); ++f) {
        const Covered& c = covered[f];
        if (c.range) {
          SetFieldValue(&rule->field[f], c.width, BigEndian(low + c.key_offset, c.width),
                        BigEndian(high + c.key_offset, c.width));
          continue;
        }
        uint64_t value = 0, mask = 0;
        for (uint8_t b = 0; b < c.width; ++b) {
          const int k = c.key_offset + b;
          const bool real = k >= 0 && static_cast<size_t>(k) < width;
          value = value << 8 | (real ? low[k] : 0);
          mask = mask << 8 | (real ? 0xff : 0);
        }
        SetFieldValue(&rule->field[f], c.width, value, mask);
      }
    }
    const int rc = rte_acl_add_rules(ctx, reinterpret_cast<const rte_acl_rule*>(rules.data()), m);
    if (rc != 0) {
      return absl::InternalError(absl::StrCat("range table '", table,
                                              "': rte_acl refused the rules: ", rte_strerror(-rc)));
    }
  }
  const int rc = rte_acl_build(ctx, &config);
  if (rc != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "range table '", table, "': cannot build the rte_acl classifier for ", n, " entries: ",
        rte_strerror(-rc), "; give DPDK more memory (EAL -m) or use fewer overlapping ranges"));
  }
  return acl;
}

RangeAcl::~RangeAcl() { rte_acl_free(ctx_); }

void RangeAcl::Classify(const uint8_t* keys, unsigned n, int32_t* results) const {
  constexpr unsigned kChunk = 64;
  alignas(8) uint8_t input[kChunk][kMaxAclInput];
  const uint8_t* data[kChunk];
  uint32_t found[kChunk];
  const size_t input_size = 1 + 4 * AclGroups(key_width_, shift_);
  for (unsigned base = 0; base < n; base += kChunk) {
    const unsigned m = std::min(kChunk, n - base);
    for (unsigned i = 0; i < m; ++i) {
      uint8_t* in = input[i];
      std::memset(in, 0, input_size);
      std::memcpy(in + 1 + shift_, keys + (base + i) * key_width_, key_width_);
      data[i] = in;
    }
    rte_acl_classify(ctx_, data, found, m, 1);
    for (unsigned i = 0; i < m; ++i) results[base + i] = static_cast<int32_t>(found[i]) - 1;
  }
}

}  // namespace softfino::pipe
