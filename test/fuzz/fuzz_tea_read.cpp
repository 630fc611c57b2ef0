// TEA's READ responses as the switch reads them (tea/layout.h
// FindInWindow): any window bytes from the collector's memory, and a key.
// Input: 16 key bytes, then the window.
//
// Invariant: the value found is that of the first whole entry in the window
// that is occupied and holds the key (checked against a plain scan here),
// and nothing is found when there is none; nothing past the window is read
// (ASan, exact-size copy).
#include <cstring>
#include <vector>

#include "softfino/tea/key.h"
#include "softfino/tea/layout.h"
#include "test/fuzz/fuzz_util.h"

namespace tea = softfino::tea;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < tea::kKeyBytes) return 0;
  tea::Key key;
  std::memcpy(key.data(), data, tea::kKeyBytes);
  const std::vector<uint8_t> window(data + tea::kKeyBytes, data + size);
  const std::optional<uint64_t> found = tea::FindInWindow(window, key);

  std::optional<uint64_t> want;
  for (size_t at = 0; at + tea::kEntryBytes <= window.size(); at += tea::kEntryBytes) {
    const uint8_t* e = window.data() + at;
    if (e[tea::kStateOffset] != tea::kStateOccupied) continue;
    if (!std::equal(key.begin(), key.end(), e)) continue;
    uint64_t v = 0;
    for (size_t i = 0; i < tea::kValueBytes; ++i) v = v << 8 | e[tea::kValueOffset + i];
    want = v;
    break;
  }
  FUZZ_CHECK(found == want);
  return 0;
}
