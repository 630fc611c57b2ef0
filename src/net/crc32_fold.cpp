#include "softfino/net/crc32_fold.h"

#include <rte_net_crc.h>

namespace softfino::net {

bool Crc32FoldAvailable() {
#if defined(__x86_64__)
  static const bool available =
      __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return available;
#else
  return false;
#endif
}

#if defined(__x86_64__)
namespace {
// The register starts at all ones: the first 4 bytes inverted, from zero.
[[gnu::target("pclmul,sse4.1")]] uint32_t FoldOf16Bytes(const uint8_t* p) {
  const __m128i x =
      _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), _mm_cvtsi32_si128(-1));
  return ~crc32_fold::Reduce(x);
}
[[gnu::target("pclmul,sse4.1")]] void FoldOf16ByteBlocks(const uint8_t* const* blocks, uint32_t n,
                                                         uint32_t* out) {
  for (uint32_t i = 0; i < n; ++i) out[i] = FoldOf16Bytes(blocks[i]);
}
}  // namespace
#endif

uint32_t Crc32Of16Bytes(const uint8_t* p) {
#if defined(__x86_64__)
  if (Crc32FoldAvailable()) return FoldOf16Bytes(p);
#endif
  return rte_net_crc_calc(p, 16, RTE_NET_CRC32_ETH);
}

void Crc32Of16ByteBlocks(const uint8_t* const* blocks, uint32_t n, uint32_t* out) {
#if defined(__x86_64__)
  if (Crc32FoldAvailable()) {
    FoldOf16ByteBlocks(blocks, n, out);
    return;
  }
#endif
  for (uint32_t i = 0; i < n; ++i) out[i] = rte_net_crc_calc(blocks[i], 16, RTE_NET_CRC32_ETH);
}

}  // namespace softfino::net
