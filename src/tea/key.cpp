#include "softfino/tea/key.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace softfino::tea {

Key KeyOfFiveTuple(const FiveTuple& t) {
  Key k{};
  const auto put32 = [&k](int at, uint32_t v) {
    for (int i = 0; i < 4; ++i) k[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  put32(0, t.src_ip);
  put32(4, t.dst_ip);
  k[8] = static_cast<uint8_t>(t.src_port >> 8);
  k[9] = static_cast<uint8_t>(t.src_port);
  k[10] = static_cast<uint8_t>(t.dst_port >> 8);
  k[11] = static_cast<uint8_t>(t.dst_port);
  k[12] = t.protocol;
  return k;
}

std::string KeyToHex(const Key& key) {
  return absl::StrCat("0x", absl::BytesToHexString(absl::string_view(
                                reinterpret_cast<const char*>(key.data()), key.size())));
}

absl::StatusOr<Key> KeyFromHex(absl::string_view text) {
  absl::string_view digits = text;
  if (absl::StartsWith(digits, "0x") || absl::StartsWith(digits, "0X")) digits.remove_prefix(2);
  bool hex = digits.size() == 2 * kKeyBytes;
  for (char c : digits) hex = hex && absl::ascii_isxdigit(c);
  if (!hex) {
    return absl::InvalidArgumentError(
        absl::StrCat("key '", text, "' is not ", 2 * kKeyBytes,
                     " hex digits; write the 16 key bytes in memory order, e.g. "
                     "\"0x0a0000010a00000204d2005006000000\", or give a 5-tuple"));
  }
  Key key;
  const std::string bytes = absl::HexStringToBytes(digits);
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

}  // namespace softfino::tea
