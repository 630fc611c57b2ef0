// Where a DTA key's copies (Key-Write, Postcarding) and Count-Min rows
// (Key-Increment) live, and the checksum that tells a key's Key-Write slot
// from another key's. The translator and the collector both call this, so
// the two agree byte for byte.
//
// Copy (or row) n, numbered from 0, goes to
//   CRC_n(key as 4 little-endian bytes ++ n as 1 byte) & (slots - 1)
// where CRC_n is a reflected CRC-32 with init and xor-out 0xFFFFFFFF and the
// polynomial kCopyPolys[n]: copy 0 is the standard CRC-32, exactly the
// formula of DTA's translator and REFERENCE.md.
//
// Why not CRC-32 for every copy, as REFERENCE.md says: a CRC is affine over
// GF(2), so for a fixed message length CRC(key ++ n) = CRC(key ++ 0) ^ c_n
// with c_n the same for every key. Masked to the slot bits, copy n's slot is
// copy 0's slot xor a constant: two keys that collide in copy 0 collide in
// every copy, and N copies protect no better than one. At N = 2 and load
// factor 0.1 (keys / slots) that leaves 9.1% of keys unanswered, worse than
// N = 1's 4.8%, where the paper reports 3.3% (dta_layout_test measures
// both). Polynomials that differ give linear maps with different kernels,
// so a collision in one copy says next to nothing about another: 1.16%
// unanswered. On a Tofino each copy is its own Hash unit with a
// CRCPolynomial; a report has at most 4 copies.
//
// The checksum is CRC-32(key as 4 little-endian bytes). Over 4 bytes a CRC
// with an x^0 term is a bijection, so for DTA's 32-bit keys a matching
// checksum means the same key: a checksum never vouches for another key's
// data.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "softfino/net/crc.h"

namespace softfino::dta {

// Copies per key (Key-Write, Postcarding) and rows (Key-Increment) at most:
// REFERENCE.md's redundancy 1..4.
inline constexpr int kMaxCopies = 4;

// The polynomial of copy n, normal form, all in the CRC RevEng catalogue
// with the same reflection, init and xor-out (so their check values test
// them): CRC-32/ISO-HDLC, CRC-32/ISCSI (CRC-32C, the crc32 instruction),
// CRC-32/BASE91-D, CRC-32/AUTOSAR.
inline constexpr std::array<uint32_t, kMaxCopies> kCopyPolys = {0x04c11db7, 0x1edc6f41, 0xa833982b,
                                                                0xf4acfb13};

class KeyHash {
 public:
  static absl::StatusOr<KeyHash> Create();

  // The unmasked 32-bit hash of copy (or row) n < kMaxCopies.
  uint32_t Index(uint32_t key, uint8_t n) const {
    const Slices& t = tables_->copy[n];
    const uint32_t reg = Update4(t, ~0u, key);
    return ~((reg >> 8) ^ t[0][(reg ^ n) & 0xff]);
  }

  // The slots (Index & mask) of copies 0..copies-1 (copies <= kMaxCopies),
  // each once, in copy order; returns how many. The collector reads each
  // slot once: two copies that share a slot are one piece of evidence.
  int DistinctSlots(uint32_t key, uint8_t copies, uint64_t mask,
                    std::array<uint64_t, kMaxCopies>& out) const {
    int count = 0;
    for (uint8_t n = 0; n < copies; ++n) {
      const uint64_t slot = Index(key, n) & mask;
      if (std::find(out.begin(), out.begin() + count, slot) == out.begin() + count) {
        out[count++] = slot;
      }
    }
    return count;
  }

  // CRC-32(key as 4 little-endian bytes).
  uint32_t Checksum(uint32_t key) const { return ~Update4(tables_->copy[0], ~0u, key); }

 private:
  // Slicing-by-4 tables of one reflected CRC-32: [0] is the byte table,
  // [k][b] the register after byte b and k zero bytes. These CRCs run on
  // every DTA request the translator builds; net::Crc, for any width and
  // reflection, took them through its vector of engines, each engine's
  // table pointer and branches on its spec before the first table load.
  using Slices = uint32_t[4][256];
  struct Tables {
    alignas(64) Slices copy[kMaxCopies];  // copy n's polynomial at n
  };
  explicit KeyHash(std::shared_ptr<const Tables> tables) : tables_(std::move(tables)) {}

  // The register after the 4 bytes of `key`, least significant first.
  static uint32_t Update4(const Slices& t, uint32_t reg, uint32_t key) {
    const uint32_t x = reg ^ key;
    return t[3][x & 0xff] ^ t[2][(x >> 8) & 0xff] ^ t[1][(x >> 16) & 0xff] ^ t[0][x >> 24];
  }

  std::shared_ptr<const Tables> tables_;  // 16 KiB, shared by copies of this KeyHash
};

}  // namespace softfino::dta
