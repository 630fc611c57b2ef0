// Internet checksum helpers (RFC 1071, RFC 1624).
#pragma once

#include <bit>
#include <cstdint>

namespace softfino::net {

// Updates a one's complement checksum for one 16-bit word that changed from
// `old_word` to `new_word`, per RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
// Byte order does not matter as long as all three values use the same one, so
// callers pass the raw words exactly as they sit in the packet.
constexpr uint16_t ChecksumUpdate16(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~checksum);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Several words changed: their differences summed first (WordChange for
// each), then one update, RFC 1624 eqn. 3 for a sum of changes:
// HC' = ~(~HC + sum(~m + m')). One's complement addition is associative,
// so this is ChecksumUpdate16 word by word, with one carry fold at the end
// instead of two per word. At most 7 changes: the sum then fits the two
// folds.
constexpr uint32_t WordChange(uint16_t old_word, uint16_t new_word) {
  return uint32_t{static_cast<uint16_t>(~old_word)} + new_word;
}
constexpr uint16_t ChecksumUpdate(uint16_t checksum, uint32_t changes) {
  uint32_t sum = static_cast<uint16_t>(~checksum) + changes;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// ChecksumUpdate16 for an IPv4 TTL decremented from more than 1. The TTL
// and protocol word, as it sits in the packet, then drops by exactly the
// raw value of bytes {1, 0} (no borrow out of the TTL byte), so
// ~old_word + new_word is the same for every packet and the update needs
// neither word: fewer instructions on every routed packet.
constexpr uint16_t ChecksumAfterTtlDecrement(uint16_t checksum) {
  constexpr uint16_t kTtlOne = std::endian::native == std::endian::little ? 0x0001 : 0x0100;
  return ChecksumUpdate16(checksum, kTtlOne, 0);
}

}  // namespace softfino::net
