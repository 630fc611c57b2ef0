// TEA's table spec (softfino-collector --region "NAME:buckets=N,...",
// tea/layout.h ParseTableSpec) and the hex keys of TEA's JSON requests
// (tea/key.h KeyFromHex).
//
// Invariants: an accepted spec has slots in range; a Layout built from it
// has a power-of-two bucket count and fits in the largest region with every
// offset inside it; a key that parses formats (KeyToHex) and parses back to
// the same key.
#include <string>

#include "absl/strings/string_view.h"
#include "softfino/tea/key.h"
#include "softfino/tea/layout.h"
#include "test/fuzz/fuzz_util.h"

namespace tea = softfino::tea;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto c = tea::ParseTableSpec(text); c.ok()) {
    // The spec checks each setting alone; the bucket count is Layout's.
    FUZZ_CHECK(c->slots >= 1 && c->slots <= tea::kMaxSlots);
    if (auto layout = tea::Layout::Create(*c); layout.ok()) {
      FUZZ_CHECK(c->buckets >= 1 && c->buckets <= tea::kMaxBuckets);
      FUZZ_CHECK((c->buckets & (c->buckets - 1)) == 0);
      FUZZ_CHECK(layout->bytes() <= tea::kMaxRegionBytes);
      const uint64_t last = layout->bucket_count() - 1;
      // The last window (buckets h and h+1, with h+1 one past the table's
      // end: the spare bucket) lies in the region.
      FUZZ_CHECK(layout->WindowOffset(last) + layout->window_bytes() <= layout->bytes());
      if (layout->has_shadow()) {
        const uint32_t lane = layout->shadow_lanes() - 1;
        FUZZ_CHECK(layout->ShadowPacketOffset(lane, last) + layout->shadow_packet_bytes() <=
                   layout->bytes());
      }
    }
  }
  if (auto key = tea::KeyFromHex(text); key.ok()) {
    auto again = tea::KeyFromHex(tea::KeyToHex(*key));
    FUZZ_CHECK(again.ok() && *again == *key);
  }
  return 0;
}
