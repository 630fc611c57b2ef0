// Tofino's hash units: TNA's Hash<W>(algo[, CRCPolynomial]) over a field
// list, on top of the CRC engine of net/crc.h.
#pragma once

#include <rte_byteorder.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>

#include "absl/status/statusor.h"
#include "softfino/net/crc.h"

namespace softfino::pipe {

using net::Crc;
using net::CrcNames;
using net::CrcSpec;
using net::CrcSpecByName;
using net::kCrc32cPoly;
using net::ReflectBits;

// The spec a Tofino computes for CRCPolynomial<bit<width>>(coeff, reversed,
// _, _, init, xor); see the mapping above.
absl::StatusOr<CrcSpec> CrcSpecFromTna(int width, uint64_t coeff, bool reversed, uint64_t init,
                                       uint64_t xor_value);

// One field of a hash input: the low `bits` (at most 64) bits of `value`,
// most significant bit first, or with Bytes(), `bits`/8 bytes in wire order
// (for fields wider than 64 bits, such as IPv6 addresses).
struct HashField {
  uint64_t value = 0;
  uint16_t bits = 0;
  const uint8_t* bytes = nullptr;

  static HashField Bytes(const uint8_t* data, uint16_t len) { return {0, uint16_t(len * 8), data}; }
};

// A field of compile-time width N (1..64) for HashUnit::Get(Bits<N>...):
// with the widths known, packing the fields compiles to a few shifts.
template <unsigned N>
struct Bits {
  static_assert(N >= 1 && N <= 64, "a Bits field is 1 to 64 bits; split wider ones");
  uint64_t value;
};

// What P4's Hash<bit<output_bits>>(algo[, poly]).get({f1, f2, ...}) does on
// Tofino: the fields are concatenated bit by bit in order (as the input
// crossbar lays them out), zero-extended at the front to a whole number of
// bytes (as bf-utils' dynamic_hash does), and the CRC of that is fitted to
// output_bits:
//   output_bits <= width: the low bits, or the high bits when msb;
//   output_bits >  width: the CRC repeated when extend, else zero-extended.
// bf-p4c uses msb = false, extend = true for Hash<_>(HashAlgorithm_t.CRC8,
// CRC16, CRC32, CRC64), and the CRCPolynomial's msb and extended for CUSTOM.
// A HashUnit is immutable once created: pipes share one freely.
class HashUnit {
 public:
  static absl::StatusOr<HashUnit> Create(const CrcSpec& crc, int output_bits, bool msb = false,
                                         bool extend = false,
                                         Crc::Engine engine = Crc::Engine::kAuto);

  const Crc& crc() const { return crc_; }
  int output_bits() const { return output_bits_; }

  // The hash of fields already concatenated in wire order.
  uint64_t Get(const uint8_t* data, size_t len) const { return Fit(crc_.Compute(data, len)); }

  // The hash of a field list whose widths are known at compile time, the
  // usual case (P4 field lists are static): the fastest form, e.g.
  //   Get(Bits<32>{src_ip}, Bits<32>{dst_ip}, Bits<16>{sport}, Bits<16>{dport},
  //       Bits<8>{proto})
  template <unsigned... N>
  [[gnu::always_inline]] inline uint64_t Get(Bits<N>... fields) const {
    constexpr unsigned kTotal = (N + ... + 0);
    Gatherer g{crc_, crc_.Start(), 0, (8 - kTotal % 8) % 8};
    (g.Push(fields.value, N), ...);
    return Fit(crc_.Finish(crc_.UpdateTail(g.reg, g.acc, g.acc_bits / 8)));
  }

  // The hash of a field list whose widths are runtime values, e.g.
  // Get({{src_ip, 32}, {dst_ip, 32}, {proto, 8}}). The same result as
  // Bits<N>, but the loop over fields with run-time shifts costs about 3
  // times as much for a 5-tuple (see bench/stateful_bench.cpp). Both gather
  // the fields into 64-bit words in registers and feed the CRC a word at a
  // time, never staging them in memory (a store-then-load of overlapping
  // words would stall store forwarding).
  [[gnu::always_inline]] inline uint64_t Get(std::initializer_list<HashField> fields) const {
    return GetFields(std::span<const HashField>(fields.begin(), fields.size()));
  }
  // The same over a field list built at run time (e.g. from a config).
  uint64_t GetFields(std::span<const HashField> fields) const {
    unsigned total = 0;
    for (const HashField& f : fields)
      total += f.bytes ? f.bits / 8 * 8 : std::min<unsigned>(f.bits, 64);
    // The front padding is made of leading zero bits.
    Gatherer g{crc_, crc_.Start(), 0, (8 - total % 8) % 8};
    for (const HashField& f : fields) {
      if (f.bytes == nullptr) {
        g.Push(f.value, std::min<unsigned>(f.bits, 64));
        continue;
      }
      const uint8_t* p = f.bytes;
      unsigned n = f.bits / 8;
      for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        g.Push(rte_be_to_cpu_64(w), 64);
      }
      for (; n > 0; --n) g.Push(*p++, 8);
    }
    // Whole bytes are left, thanks to the padding.
    return Fit(crc_.Finish(crc_.UpdateTail(g.reg, g.acc, g.acc_bits / 8)));
  }

 private:
  // Appends bit strings MSB first to a 64-bit word, feeding each full word
  // to the CRC.
  struct Gatherer {
    const Crc& crc;
    uint64_t reg;       // the CRC register
    uint64_t acc;       // bits not yet a whole word, right-aligned
    unsigned acc_bits;  // how many (< 64)
    [[gnu::always_inline]] inline void Push(uint64_t v, unsigned bits) {
      if (bits < 64) v &= (uint64_t{1} << bits) - 1;
      const unsigned room = 64 - acc_bits;
      if (bits < room) {
        acc = (acc << bits) | v;
        acc_bits += bits;
        return;
      }
      // Fill the word, feed it, keep the rest.
      const unsigned rest = bits - room;
      const uint64_t word = room == 64 ? v : (acc << room) | (v >> rest);
      reg = crc.UpdateWord(reg, word);
      acc = rest == 0 ? 0 : v & ((uint64_t{1} << rest) - 1);
      acc_bits = rest;
    }
  };

  explicit HashUnit(const Crc& crc) : crc_(crc) {}

  uint64_t Fit(uint64_t crc) const {
    if (output_bits_ <= width_) return msb_ ? crc >> (width_ - output_bits_) : crc & out_mask_;
    if (!extend_) return crc;
    uint64_t out = 0;
    for (int shift = 0; shift < output_bits_; shift += width_) out |= crc << shift;
    return out & out_mask_;
  }

  Crc crc_;
  int output_bits_ = 0;
  int width_ = 0;
  bool msb_ = false;
  bool extend_ = false;
  uint64_t out_mask_ = 0;
};

}  // namespace softfino::pipe
