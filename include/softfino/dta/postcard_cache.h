// The translator's Postcarding aggregation cache (the DTA paper's design):
// postcards of a flow arrive one per hop, from different switches, and the
// translator gathers them so that a flow's whole path costs one WRITE per
// copy instead of one per hop.
//
// Rows are indexed by a CRC-32C of the key (another polynomial than the
// collector's slot hashes, so flows that share a row do not also share
// slots). A row holds one flow: its key, which hops have arrived (a bit
// each) and their values already encoded for the collector (EncodeHop), so
// emitting a path is a copy. A postcard for the row's flow fills its hop (a
// hop sent twice keeps the newer value); when every hop 1..path_length is
// in, the path is emitted and the row freed. A postcard for another flow
// evicts the row's flow: its partial path is emitted (missing hops blank)
// and the row starts over with the newcomer, as the paper does on a
// collision. The collector then reads a short path; a later postcard of the
// evicted flow starts a new partial path, whose write may overwrite the
// older one: the newest evidence wins.
//
// Fast path: fixed memory, no allocation; one owner (the pipe running the
// collector port's egress).
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "softfino/dta/postcarding.h"
#include "softfino/net/crc.h"

namespace softfino::dta {

struct PostcardPath {
  uint32_t key = 0;
  PostcardHops encoded{};  // EncodeHop'd values, blanks encoded too
};

class PostcardCache {
 public:
  enum class Outcome : uint8_t {
    kCached,    // held; nothing to write yet
    kComplete,  // the flow's path is whole: *out is it, the row is free
    kEvicted,   // another flow held the row: *out is its partial path
  };

  // `rows`: a power of two, 1..2^24. `path_length`: hops per path, 1..5.
  static absl::StatusOr<PostcardCache> Create(const PostcardingLayout& layout, uint32_t rows,
                                              uint8_t path_length);

  // Adds the postcard of `key` for hop `hop` (1..path_length, checked by
  // the caller) carrying `value`.
  Outcome Add(uint32_t key, uint8_t hop, uint32_t value, PostcardPath* out);

  uint32_t rows() const { return mask_ + 1; }
  uint8_t path_length() const { return path_length_; }
  // Rows holding a partial path.
  uint32_t occupied() const { return occupied_; }

 private:
  struct Row {
    uint32_t key = 0;
    uint8_t hops_in = 0;  // bit h-1 for hop h; 0: the row is free
    PostcardHops encoded{};
  };

  PostcardCache(const PostcardingLayout& layout, net::Crc row_hash, uint32_t rows,
                uint8_t path_length);
  void Start(Row& row, uint32_t key);

  const PostcardingLayout* layout_;
  net::Crc row_hash_;
  std::unique_ptr<Row[]> rows_;
  uint32_t mask_;
  uint8_t path_length_;
  uint8_t full_;  // hops_in when every hop is in
  uint32_t occupied_ = 0;
};

}  // namespace softfino::dta
