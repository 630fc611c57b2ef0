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
// A message of len bytes as the last len bytes of the 128-bit value, the
// ones xored into its first 4 bytes: one shuffle (byte j from byte
// j - (16 - len), or zero) and one xor per block.
[[gnu::target("pclmul,sse4.1")]] void FoldOfShortBlocks(const uint8_t* const* blocks, uint32_t n,
                                                        uint32_t len, uint32_t* out) {
  alignas(16) int8_t shift[16];
  alignas(16) uint8_t ones[16] = {};
  const uint32_t start = 16 - len;
  for (uint32_t j = 0; j < 16; ++j) {
    shift[j] = j < start ? int8_t{-128} : static_cast<int8_t>(j - start);  // -128: a zero byte
  }
  for (uint32_t j = start; j < start + 4; ++j) ones[j] = 0xff;
  const __m128i to_end = _mm_load_si128(reinterpret_cast<const __m128i*>(shift));
  const __m128i init = _mm_load_si128(reinterpret_cast<const __m128i*>(ones));
  for (uint32_t i = 0; i < n; ++i) {
    const __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks[i]));
    out[i] = ~crc32_fold::Reduce(_mm_xor_si128(_mm_shuffle_epi8(m, to_end), init));
  }
}
}  // namespace
#endif

void Crc32OfShortBlocks(const uint8_t* const* blocks, uint32_t n, uint32_t len, uint32_t* out) {
#if defined(__x86_64__)
  if (Crc32FoldAvailable()) {
    FoldOfShortBlocks(blocks, n, len, out);
    return;
  }
#endif
  for (uint32_t i = 0; i < n; ++i) out[i] = rte_net_crc_calc(blocks[i], len, RTE_NET_CRC32_ETH);
}

uint32_t Crc32Of16Bytes(const uint8_t* p) {
#if defined(__x86_64__)
  if (Crc32FoldAvailable()) return FoldOf16Bytes(p);
#endif
  return rte_net_crc_calc(p, 16, RTE_NET_CRC32_ETH);
}

void Crc32Of16ByteBlocks(const uint8_t* const* blocks, uint32_t n, uint32_t* out) {
  Crc32OfShortBlocks(blocks, n, 16, out);
}

}  // namespace softfino::net
