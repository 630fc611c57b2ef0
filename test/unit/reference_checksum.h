// A plain RFC 1071 checksum, written the slow obvious way, as the truth that
// the switch's checksum code is tested against.
#pragma once

#include <cstddef>
#include <cstdint>

namespace softfino::testing {

// The checksum to store in a header whose checksum field is zero.
inline uint16_t ReferenceChecksum(const uint8_t* data, size_t len) {
  uint64_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t{data[i]} << 8) | data[i + 1];
  if (len % 2) sum += uint32_t{data[len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);  // host order: write it big-endian
}

}  // namespace softfino::testing
