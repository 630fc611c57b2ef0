#include "softfino/pipe/hash_unit.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace softfino::pipe {

absl::StatusOr<CrcSpec> CrcSpecFromTna(int width, uint64_t coeff, bool reversed, uint64_t init,
                                       uint64_t xor_value) {
  if (width != 8 && width != 16 && width != 32 && width != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRCPolynomial<bit<", width,
                     ">> is not supported; use bit<8>, bit<16>, bit<32> or bit<64>"));
  }
  CrcSpec spec;
  spec.width = static_cast<uint8_t>(width);
  spec.poly = coeff | 1;
  spec.init = init;
  spec.reflect_in = spec.reflect_out = reversed;
  spec.xor_out = reversed ? ReflectBits(xor_value, width) : xor_value;
  if (absl::Status s = net::ValidateCrcSpec(spec); !s.ok()) return s;
  return spec;
}

absl::StatusOr<HashUnit> HashUnit::Create(const CrcSpec& spec, int output_bits, bool msb,
                                          bool extend, Crc::Engine engine) {
  absl::StatusOr<Crc> crc = Crc::Create(spec, engine);
  if (!crc.ok()) return crc.status();
  if (output_bits < 1 || output_bits > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hash output width ", output_bits, " is not supported; use Hash<bit<N>> with N in 1..64"));
  }
  HashUnit unit(*crc);
  unit.output_bits_ = output_bits;
  unit.width_ = spec.width;
  unit.msb_ = msb;
  unit.extend_ = extend;
  unit.out_mask_ = (output_bits == 64 ? ~uint64_t{0} : (uint64_t{1} << output_bits) - 1);
  return unit;
}

}  // namespace softfino::pipe
