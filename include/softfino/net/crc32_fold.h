// CRC-32/ISO-HDLC (Ethernet's CRC-32: reflected 0x04c11db7, init and
// xor-out all ones) by carry-less multiplication on x86 (PCLMULQDQ; Intel,
// "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", 2009),
// with the constants of that polynomial as zlib's crc32_simd uses them.
//
// The pieces are here for code that reads its data its own way (the
// RoCEv2 ICRC masks fields in registers as it reads the datagram in place):
// a 16-byte chunk is folded into the 128-bit remainder (Fold), and the
// remainder is reduced to the 32-bit register (Reduce). Crc32Of16Bytes is
// the whole CRC of 16 bytes (TEA's bucket hash of a key). DPDK's rte_net_crc
// does the same work, but over one buffer only, and for a length under 32
// it copies the bytes into a zeroed buffer on the stack and reads them back
// in one 16-byte load (a store-forwarding stall a call).
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace softfino::net {

// True when the CPU has PCLMULQDQ and SSE4.1 (every x86-64 server CPU since
// 2010); the fold functions below may run only then.
bool Crc32FoldAvailable();

// CRC-32/ISO-HDLC of the 16 bytes at `p`: by the fold where available,
// by rte_net_crc otherwise.
uint32_t Crc32Of16Bytes(const uint8_t* p);

// The same for `n` blocks of 16 bytes at once (out[i] for blocks[i]): one
// call, the CPU check once, and the blocks' CRCs, each a chain of dependent
// carry-less multiplications, overlapping in one loop where one call each
// made the next wait (TEA's bucket hashes of a burst's keys).
void Crc32Of16ByteBlocks(const uint8_t* const* blocks, uint32_t n, uint32_t* out);

// The same for messages of `len` bytes, 4 <= len <= 16, each the start of a
// block of 16 readable bytes (the bytes past the message are not read into
// the CRC): out[i] is the CRC-32/ISO-HDLC of blocks[i][0..len). In the fold
// the message moves to the block's end, behind 16 - len zero bytes, and the
// register's initial ones go in at its first byte (a zero register stays
// zero over zero bytes). The DTA reporter's 13-byte flow keys.
void Crc32OfShortBlocks(const uint8_t* const* blocks, uint32_t n, uint32_t len, uint32_t* out);

#if defined(__x86_64__)
namespace crc32_fold {

// x^(128+64) and x^128 mod P, bit-reflected, as the two halves of one vector.
[[gnu::target("pclmul,sse4.1")]] inline __m128i K3K4() {
  return _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
}

// The remainder `x` moved 16 bytes on, and the next 16 bytes added.
[[gnu::target("pclmul,sse4.1")]] inline __m128i Fold(__m128i x, __m128i next) {
  const __m128i k3k4 = K3K4();
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k3k4, 0x00), _mm_clmulepi64_si128(x, k3k4, 0x11)),
      next);
}

// The 32-bit CRC register (before xor-out) of a 128-bit remainder: to 64
// bits, to 32, then Barrett's reduction by the polynomial.
[[gnu::target("pclmul,sse4.1")]] inline uint32_t Reduce(__m128i x) {
  const __m128i low32s = _mm_setr_epi32(-1, 0, -1, 0);
  x = _mm_xor_si128(_mm_srli_si128(x, 8), _mm_clmulepi64_si128(x, K3K4(), 0x10));
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
  x = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x, low32s), k5, 0x00), _mm_srli_si128(x, 4));
  const __m128i poly_mu = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x, low32s), poly_mu, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, low32s), poly_mu, 0x00);
  return static_cast<uint32_t>(_mm_extract_epi32(_mm_xor_si128(x, t), 1));
}

}  // namespace crc32_fold
#endif

}  // namespace softfino::net
