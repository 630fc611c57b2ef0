#include "softfino/dta/postcard_cache.h"

#include "absl/strings/str_cat.h"

namespace softfino::dta {

absl::StatusOr<PostcardCache> PostcardCache::Create(const PostcardingLayout& layout,
                                                    uint32_t rows, uint8_t path_length) {
  if (rows == 0 || (rows & (rows - 1)) != 0 || rows > (1u << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "postcard cache rows: ", rows, " is not a power of two in 1..16777216"));
  }
  if (path_length < 1 || path_length > kPostcardHops) {
    return absl::InvalidArgumentError(absl::StrCat("postcarding path length: ", path_length,
                                                   " hops; a path has 1..", kPostcardHops));
  }
  auto crc = net::Crc::Create(net::CrcSpec{32, 0x1edc6f41, 0xffffffff, true, true, 0xffffffff});
  if (!crc.ok()) return crc.status();
  return PostcardCache(layout, *std::move(crc), rows, path_length);
}

PostcardCache::PostcardCache(const PostcardingLayout& layout, net::Crc row_hash, uint32_t rows,
                             uint8_t path_length)
    : layout_(&layout),
      row_hash_(std::move(row_hash)),
      rows_(new Row[rows]),
      mask_(rows - 1),
      path_length_(path_length),
      full_(static_cast<uint8_t>((1u << path_length) - 1)) {}

void PostcardCache::Start(Row& row, uint32_t key) {
  row.key = key;
  row.hops_in = 0;
  for (int h = 0; h < kPostcardHops; ++h) row.encoded[h] = layout_->EncodeHop(key, h, kBlankHop);
}

PostcardCache::Outcome PostcardCache::Add(uint32_t key, uint8_t hop, uint32_t value,
                                          PostcardPath* out) {
  const auto index = static_cast<uint32_t>(
      row_hash_.Finish(row_hash_.UpdateTail(row_hash_.Start(), __builtin_bswap32(key), 4)));
  Row& row = rows_[index & mask_];
  Outcome outcome = Outcome::kCached;
  if (row.hops_in == 0) {
    Start(row, key);
    ++occupied_;
  } else if (row.key != key) {
    out->key = row.key;
    out->encoded = row.encoded;
    outcome = Outcome::kEvicted;
    Start(row, key);
  }
  const int h = hop - 1;
  row.encoded[h] = layout_->EncodeHop(key, h, value);
  row.hops_in |= static_cast<uint8_t>(1u << h);
  if (outcome == Outcome::kCached && (row.hops_in & full_) == full_) {
    out->key = key;
    out->encoded = row.encoded;
    row.hops_in = 0;
    --occupied_;
    return Outcome::kComplete;
  }
  return outcome;
}

}  // namespace softfino::dta
