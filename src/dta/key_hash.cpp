#include "softfino/dta/key_hash.h"

#include <utility>

#include "softfino/net/crc.h"

namespace softfino::dta {

absl::StatusOr<KeyHash> KeyHash::Create() {
  absl::StatusOr<net::CrcSpec> crc32 = net::CrcSpecByName("crc_32");
  if (!crc32.ok()) return crc32.status();
  auto tables = std::make_shared<Tables>();
  for (int n = 0; n < kMaxCopies; ++n) {
    net::CrcSpec spec = *crc32;
    spec.poly = kCopyPolys[n];
    absl::StatusOr<net::Crc> crc = net::Crc::Create(spec, net::Crc::Engine::kTable);
    if (!crc.ok()) return crc.status();
    // The byte table is net::Crc's register after each byte from zero; the
    // slices follow from it.
    Slices& t = tables->copy[n];
    for (uint32_t b = 0; b < 256; ++b) {
      const uint8_t byte = static_cast<uint8_t>(b);
      t[0][b] = static_cast<uint32_t>(crc->Update(0, &byte, 1));
    }
    for (int k = 1; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
  }
  return KeyHash(std::move(tables));
}

}  // namespace softfino::dta
