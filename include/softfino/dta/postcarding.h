// DTA Postcarding: a flow's per-hop values (INT postcards, up to 5 hops)
// gathered by the translator and written as one path per flow, N times,
// encoded so the collector can tell a hop's value from garbage; and the
// collector's query.
//
// Region ("dta.postcarding"): `slots` (a power of two) path slots of 32
// bytes (a power of two, so the translator turns a slot index into an
// offset with a shift, as DTA's Tofino translator does). Copy n (0-based,
// n < copies, 1..4) of a key's path is at slot
//   KeyHash::Index(key, n) & (slots - 1)           (see key_hash.h)
// Bytes 0..19 hold hops 1..5, 4 bytes each in network order, hop h's as
//   value XOR CRC_h(key as 4 little-endian bytes)
// bytes 20..31 are never written (one WRITE of 20 bytes per copy).
// CRC_h is a reflected CRC-32 with init and xor-out 0xFFFFFFFF and the
// polynomial of DTA's translator for that hop (kHopPolyCoefficients) with
// the x^0 bit set: those are the coefficients of TNA CRCPolynomials, which
// Tofino always computes with x^0 (see net/crc.h), so softfino and a Tofino
// running the P4 counterpart write the same bytes. The key is hashed
// little-endian like Key-Write's, one convention for every structure.
//
// Short paths: hops a flow did not report (the path is shorter than 5, or a
// postcard was lost before the translator wrote the path) carry kBlankHop,
// encoded like any value. kBlankHop is reserved: no hop may report it.
//
// Validity (the paper's design): the collector knows the set of values a
// hop can take (typically switch IDs, far fewer than 2^32). A copy is valid
// when every hop decodes to a known value or to kBlankHop and at least one
// hop is not blank. Another key's path, never-written memory or a torn read
// decodes each hop to an essentially random 32-bit value, which passes with
// probability (|set| + 1) / 2^32 per hop, to the fifth power per copy. Why
// not a checksum in the spare 12 bytes: it would say a copy is some write
// for this key but nothing about each hop, costs the translator another
// hash and 4 more bytes per WRITE, and the value set is needed anyway to
// make sense of the values. When values are not from a small set, accept
// every value: copies are then told apart only by the vote below.
//
// Query: decode the N copies, keep the valid ones, and vote on whole paths
// as Key-Write does (plurality, each slot once, at least `threshold`
// votes, no tie).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "softfino/dta/key_hash.h"
#include "softfino/net/crc.h"

namespace softfino::dta {

inline constexpr int kPostcardHops = 5;
inline constexpr uint64_t kPostcardSlotBytes = 32;
inline constexpr uint64_t kPostcardPathBytes = kPostcardHops * 4;  // what a WRITE carries
inline constexpr uint32_t kBlankHop = 0xffffffff;

// Hop h's (1..5) CRCPolynomial coefficient in DTA's translator, at h - 1.
inline constexpr std::array<uint32_t, kPostcardHops> kHopPolyCoefficients = {
    0x1e12a700, 0x65b96595, 0x49cf878b, 0x36518f0d, 0x7a40a908};

// A path's values, hop 1 at [0]; kBlankHop where a hop is absent.
using PostcardHops = std::array<uint32_t, kPostcardHops>;

// One copy, decoded.
struct PostcardCopy {
  bool valid = false;
  PostcardHops hops{};  // decoded whether valid or not
  int length = 0;       // 1 + the last hop that is not blank (0: all blank)
};

struct PostcardAnswer {
  bool found = false;
  PostcardHops hops{};  // kBlankHop everywhere unless found
  int length = 0;
  uint8_t votes = 0;         // slots that voted for the winner
  uint8_t valid_copies = 0;  // copies that decoded to known values
};

class PostcardingLayout {
 public:
  // `slots`: a power of two, at most 2^32; `copies`: 1..kMaxCopies.
  static absl::StatusOr<PostcardingLayout> Create(uint64_t slots, uint8_t copies);

  uint64_t slots() const { return mask_ + 1; }
  uint8_t copies() const { return copies_; }
  uint64_t bytes() const { return slots() * kPostcardSlotBytes; }

  // The spec of hop `hop`'s CRC (0-based: hop 1 is 0).
  static net::CrcSpec HopCrcSpec(int hop);

  // Translator side: where copy `copy` (< copies()) goes, and the 20 bytes
  // every copy's WRITE carries. A translator that caches encoded hops (as
  // DTA's does) uses EncodeHop when a postcard arrives and PutEncodedPath
  // on the cached values; kBlankHop's encoding is EncodeHop(key, h,
  // kBlankHop). `hop` is 0-based here: a report's hop h is h - 1.
  uint64_t SlotIndex(uint32_t key, uint8_t copy) const { return hash_.Index(key, copy) & mask_; }
  uint64_t SlotOffset(uint32_t key, uint8_t copy) const {
    return SlotIndex(key, copy) * kPostcardSlotBytes;
  }
  uint32_t HopMask(uint32_t key, int hop) const {
    const net::Crc& crc = hop_crcs_[hop];
    return static_cast<uint32_t>(
        crc.Finish(crc.UpdateTail(crc.Start(), __builtin_bswap32(key), 4)));
  }
  uint32_t EncodeHop(uint32_t key, int hop, uint32_t value) const {
    return value ^ HopMask(key, hop);
  }
  static void PutEncodedPath(const PostcardHops& encoded, uint8_t* out);  // 20 bytes
  std::array<uint8_t, kPostcardPathBytes> PathBytes(uint32_t key, const PostcardHops& hops) const;

  // Collector side: as KeyWriteLayout::CheckRegion.
  absl::Status CheckRegion(std::span<const uint8_t> memory) const;

  // One copy's 20 bytes at `slot`, decoded for `key`; `known` says whether
  // a value can be a hop's.
  PostcardCopy Decode(const uint8_t* slot, uint32_t key,
                      absl::FunctionRef<bool(uint32_t)> known) const;

  // `copies`: the N the path was written with (1..copies()); `threshold`:
  // votes needed (0 counts as 1). Out-of-range copies or short memory
  // answer not found.
  PostcardAnswer Query(std::span<const uint8_t> memory, uint32_t key, uint8_t copies,
                       absl::FunctionRef<bool(uint32_t)> known, uint8_t threshold = 1) const;

 private:
  PostcardingLayout(KeyHash hash, std::vector<net::Crc> hop_crcs, uint64_t mask, uint8_t copies)
      : hash_(std::move(hash)), hop_crcs_(std::move(hop_crcs)), mask_(mask), copies_(copies) {}

  KeyHash hash_;
  std::vector<net::Crc> hop_crcs_;  // kPostcardHops
  uint64_t mask_;
  uint8_t copies_;
};

}  // namespace softfino::dta
