// The CRC engine behind Tofino's configurable hash (TNA's
// Hash<W>(HashAlgorithm_t.CRC*/CUSTOM), bfrt's dynamic hashing) and RoCEv2's
// ICRC, in the Rocksoft/Williams model that the CRC RevEng
// catalogue uses, so a spec can be checked against published check values.
//
// Per packet everything is inline and table-driven (slicing-by-8, then a
// byte at a time); CRC-32C runs on the CPU's crc32 instruction through
// DPDK's rte_hash_crc. Construction (table building, validation) is control
// path.
#pragma once

#include <rte_byteorder.h>
#include <rte_hash_crc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace softfino::net {

// A CRC in the Rocksoft/Williams model ("A painless guide to CRC error
// detection algorithms"; the CRC RevEng catalogue uses the same fields):
//   width        degree of the polynomial: 8, 16, 32 or 64
//   poly         the polynomial in normal (MSB-first) form without the
//                x^width term, e.g. 0x04c11db7 for CRC-32
//   init         the register before the first input bit, unreflected
//   reflect_in   input bytes are processed least significant bit first
//   reflect_out  the register is bit-reversed before xor_out
//   xor_out      xored into the result
//
// TNA's CRCPolynomial<bit<W>>(coeff, reversed, msb, extended, init, xor)
// maps as follows (see CrcSpecFromTna; derived from bf-p4c and bf-utils'
// dynamic_hash, which compute the hash matrix Tofino is programmed with):
//   width       = W
//   poly        = coeff | 1: the compiler keeps the polynomial in Koopman
//                 form, which has no x^0 bit, so an even coeff silently
//                 becomes odd on hardware
//   reflect_in  = reflect_out = reversed
//   init        = init: xored into the head of the (unreflected) message
//   xor_out     = reversed ? reflect(xor) : xor, because Tofino applies xor
//                 before it reverses the output bits; the two agree for the
//                 usual 0 and all-ones
//   msb, extended are not part of the CRC: they say how the CRC is fitted
//                 to a Hash<bit<N>> of another width (see HashUnit).
struct CrcSpec {
  uint8_t width = 32;
  uint64_t poly = 0;
  uint64_t init = 0;
  bool reflect_in = false;
  bool reflect_out = false;
  uint64_t xor_out = 0;

  bool operator==(const CrcSpec&) const = default;
};

// A named CRC from the catalogue. Names are those of bf-utils/bfrt (crc_8,
// crc_16, crc_32, crc_32c, crc_16_xmodem, ...; TNA's HashAlgorithm_t CRC8,
// CRC16, CRC32 and CRC64 are crc_8, crc_16, crc_32 and crc_64) and of the
// RevEng catalogue (CRC-32/ISO-HDLC, CRC-16/ARC, CRC-32/ISCSI, ...), case
// insensitive. The error lists the valid names.
absl::StatusOr<CrcSpec> CrcSpecByName(absl::string_view name);

// The primary name of each catalogue entry, in catalogue order.
std::vector<std::string> CrcNames();

// Fails unless the spec is usable: a supported width, and poly, init and
// xor_out that fit in it; the error says which field is wrong.
absl::Status ValidateCrcSpec(const CrcSpec& spec);

// The low `width` bits of `value` in reverse order.
constexpr uint64_t ReflectBits(uint64_t value, int width) {
  uint64_t out = 0;
  for (int i = 0; i < width; ++i) out |= ((value >> i) & 1) << (width - 1 - i);
  return out;
}

// The CRC-32C polynomial, which x86 (SSE4.2) computes in hardware.
inline constexpr uint64_t kCrc32cPoly = 0x1edc6f41;

class Crc {
 public:
  // kAuto uses the crc32 instruction (rte_hash_crc) for reflected CRCs over
  // the CRC-32C polynomial (CRC-32C itself, whatever init and xor_out) and
  // the table otherwise; kTable always uses the table (tests, benchmarks).
  enum class Engine { kAuto, kTable };

  // Checks the spec: a supported width, and poly, init and xor_out that fit
  // in it. The error says which field is wrong and what is allowed.
  static absl::StatusOr<Crc> Create(const CrcSpec& spec, Engine engine = Engine::kAuto);

  const CrcSpec& spec() const { return spec_; }
  bool uses_crc32_instruction() const { return hw_crc32c_; }

  // The CRC of `len` bytes, in the low spec().width bits.
  uint64_t Compute(const uint8_t* data, size_t len) const {
    return Finish(Update(Start(), data, len));
  }

  // The same in pieces: Finish(Update(Update(Start(), a), b)) is the CRC of
  // a followed by b. The state is the working register, not a CRC.
  uint64_t Start() const { return register_init_; }
  uint64_t Update(uint64_t reg, const uint8_t* data, size_t len) const {
    if (hw_crc32c_) {
      // rte_hash_crc is the bare register update: no inversion in or out.
      return rte_hash_crc(data, static_cast<uint32_t>(len), static_cast<uint32_t>(reg));
    }
    for (; len >= 8; len -= 8, data += 8) {
      uint64_t x;
      std::memcpy(&x, data, 8);
      reg = UpdateWord(reg, rte_be_to_cpu_64(x));
    }
    if (len >= 4) {  // what is left of a 5-tuple, or a 32-bit key
      uint32_t x;
      std::memcpy(&x, data, 4);
      reg = Update4(reg, rte_be_to_cpu_32(x));
      data += 4;
      len -= 4;
    }
    for (; len > 0; --len) reg = Update1(reg, *data++);
    return reg;
  }

  // Input given as integers in wire order, for callers that build it in
  // registers (HashUnit): the 8 bytes of `word`, first byte in the top bits.
  [[gnu::always_inline]] inline uint64_t UpdateWord(uint64_t reg, uint64_t word) const {
    if (hw_crc32c_) {
      return rte_hash_crc_8byte(rte_bswap64(word), static_cast<uint32_t>(reg));
    }
    // Slicing-by-8: 8 bytes cost 8 independent table loads instead of a
    // chain of 8 dependent ones. t[k][b] is the register after byte b and k
    // zero bytes, so the first byte goes through t[7].
    const uint64_t(*t)[256] = tables_->t;
    if (spec_.reflect_in) {
      // The register (low `width` bits) lines up with the first bytes taken
      // least significant first.
      const uint64_t x = rte_bswap64(word) ^ reg;
      return t[7][x & 0xff] ^ t[6][(x >> 8) & 0xff] ^ t[5][(x >> 16) & 0xff] ^
             t[4][(x >> 24) & 0xff] ^ t[3][(x >> 32) & 0xff] ^ t[2][(x >> 40) & 0xff] ^
             t[1][(x >> 48) & 0xff] ^ t[0][x >> 56];
    }
    // The register, moved to the top of 64 bits, lines up with the first bytes.
    const uint64_t x = word ^ (reg << (64 - spec_.width));
    return t[7][x >> 56] ^ t[6][(x >> 48) & 0xff] ^ t[5][(x >> 40) & 0xff] ^
           t[4][(x >> 32) & 0xff] ^ t[3][(x >> 24) & 0xff] ^ t[2][(x >> 16) & 0xff] ^
           t[1][(x >> 8) & 0xff] ^ t[0][x & 0xff];
  }

  // The low `n` bytes (n < 8) of `word`, first byte in bits 8n-1..8n-8.
  [[gnu::always_inline]] inline uint64_t UpdateTail(uint64_t reg, uint64_t word, unsigned n) const {
    if (n >= 4) {
      n -= 4;
      reg = Update4(reg, static_cast<uint32_t>(word >> (8 * n)));
    }
    while (n > 0) {
      --n;
      reg = Update1(reg, static_cast<uint8_t>(word >> (8 * n)));
    }
    return reg;
  }

  uint64_t Finish(uint64_t reg) const {
    // The register holds the CRC reflected iff reflect_in; reflect_out wants
    // it reflected, so only a mismatch needs a (rare, slow) reversal.
    if (spec_.reflect_in != spec_.reflect_out) reg = ReflectBits(reg, spec_.width);
    return reg ^ spec_.xor_out;
  }

 private:
  Crc() = default;

  // 4 bytes, first in the top bits (slicing-by-4 on the same tables).
  [[gnu::always_inline]] inline uint64_t Update4(uint64_t reg, uint32_t word) const {
    if (hw_crc32c_) return rte_hash_crc_4byte(rte_bswap32(word), static_cast<uint32_t>(reg));
    const uint64_t(*t)[256] = tables_->t;
    if (spec_.reflect_in) {
      const uint32_t x = rte_bswap32(word) ^ static_cast<uint32_t>(reg);
      return (spec_.width > 32 ? reg >> 32 : 0) ^ t[3][x & 0xff] ^ t[2][(x >> 8) & 0xff] ^
             t[1][(x >> 16) & 0xff] ^ t[0][x >> 24];
    }
    const uint32_t x = word ^ static_cast<uint32_t>((reg << (64 - spec_.width)) >> 32);
    return (spec_.width > 32 ? (reg << 32) & mask_ : 0) ^ t[3][x >> 24] ^ t[2][(x >> 16) & 0xff] ^
           t[1][(x >> 8) & 0xff] ^ t[0][x & 0xff];
  }
  [[gnu::always_inline]] inline uint64_t Update1(uint64_t reg, uint8_t byte) const {
    if (hw_crc32c_) return rte_hash_crc_1byte(byte, static_cast<uint32_t>(reg));
    const uint64_t* t0 = tables_->t[0];
    if (spec_.reflect_in) return (reg >> 8) ^ t0[(reg ^ byte) & 0xff];
    return ((reg << 8) & mask_) ^ t0[((reg >> top_shift_) ^ byte) & 0xff];
  }

  CrcSpec spec_;
  bool hw_crc32c_ = false;
  uint8_t top_shift_ = 0;  // width - 8: where the next byte meets a normal register
  uint64_t mask_ = 0;      // the low `width` bits
  uint64_t register_init_ = 0;
  // 16 KiB, immutable once built, so copies of a Crc (and of the HashUnits
  // holding one) share them.
  struct Tables {
    alignas(64) uint64_t t[8][256];
  };
  std::shared_ptr<const Tables> tables_;
};

// Picks DPDK's fastest CRC-32/Ethernet (rte_net_crc: PCLMULQDQ where the
// CPU has it), which the ICRC and TEA's key hash use. Call after
// rte_eal_init: before it DPDK allows no SIMD and keeps its byte-at-a-time
// tables (about 4x slower on a 16-byte key), which is also what processes
// without EAL (tests, tools) get: the same values, slower.
void UseFastestCrc32();

}  // namespace softfino::net
