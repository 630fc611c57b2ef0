#include "softfino/dta/key_hash.h"

#include <utility>

namespace softfino::dta {

absl::StatusOr<KeyHash> KeyHash::Create() {
  auto tables = std::make_shared<Tables>();
  for (int n = 0; n < kMaxCopies; ++n) {
    // Reflected: the polynomial's bits reversed, the register shifted right.
    uint32_t reflected = 0;
    for (int bit = 0; bit < 32; ++bit) {
      if (kCopyPolys[n] & (1u << bit)) reflected |= 1u << (31 - bit);
    }
    Slices& t = tables->copy[n];
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t reg = b;
      for (int k = 0; k < 8; ++k) reg = (reg & 1) ? (reg >> 1) ^ reflected : reg >> 1;
      t[0][b] = reg;
    }
    for (int k = 1; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
  }
  return KeyHash(std::move(tables));
}

}  // namespace softfino::dta
