#include "softfino/dta/key_hash.h"

#include <utility>

namespace softfino::dta {

absl::StatusOr<KeyHash> KeyHash::Create() {
  absl::StatusOr<net::CrcSpec> crc32 = net::CrcSpecByName("crc_32");
  if (!crc32.ok()) return crc32.status();
  std::vector<net::Crc> crcs;
  crcs.reserve(kMaxCopies);
  for (uint32_t poly : kCopyPolys) {
    net::CrcSpec spec = *crc32;
    spec.poly = poly;
    absl::StatusOr<net::Crc> crc = net::Crc::Create(spec);
    if (!crc.ok()) return crc.status();
    crcs.push_back(*std::move(crc));
  }
  return KeyHash(std::move(crcs));
}

}  // namespace softfino::dta
