// The copies the traffic manager makes (multicast members, mirror sessions):
// what rte_pktmbuf_copy(m, pool, 0, max_len) makes, with a short path for
// the usual packet, one segment that fits one buffer. rte_pktmbuf_copy,
// a call into the library, resets the new mbuf field by field, then walks
// segments and tailroom in a loop and copies with a length it only knows at
// run time; for a 64-byte packet that was ~144 instructions of the DTA
// reporter's ~1,200 per packet, which copies every packet it reports on.
#pragma once

#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstdint>

namespace softfino::dataplane {

// Fills `c`, an mbuf fresh from `pool` (refcnt 1, no next segment), with a
// copy of `m`'s first `max_len` bytes and m's metadata, and returns it; for
// a packet this short path does not take (a chain, or too long for one
// buffer) it gives `c` back and returns rte_pktmbuf_copy's copy, nullptr
// when that fails.
inline rte_mbuf* CopyPacketInto(rte_mbuf* c, const rte_mbuf* m, rte_mempool* pool,
                                uint32_t max_len) {
  const uint32_t len = std::min<uint32_t>(m->data_len, max_len);
  rte_pktmbuf_reset_headroom(c);
  if (m->nb_segs != 1 || len == 0 || len > uint32_t{c->buf_len} - c->data_off) {
    rte_mbuf_raw_free(c);
    return rte_pktmbuf_copy(m, pool, 0, max_len);
  }
  __rte_pktmbuf_copy_hdr(c, m);
  c->ol_flags = m->ol_flags & ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL);
  c->data_len = static_cast<uint16_t>(len);
  c->pkt_len = len;
  rte_memcpy(rte_pktmbuf_mtod(c, void*), rte_pktmbuf_mtod(m, const void*), len);
  return c;
}

// A copy of `m`'s first `max_len` bytes (all of it: UINT32_MAX) in a fresh
// mbuf from `pool`, with m's metadata (port, offload fields, hash, packet
// type, dynamic fields, flags); nullptr when the pool is empty.
inline rte_mbuf* CopyPacket(const rte_mbuf* m, rte_mempool* pool, uint32_t max_len) {
  if (m->nb_segs != 1 || std::min<uint32_t>(m->data_len, max_len) == 0) {
    return rte_pktmbuf_copy(m, pool, 0, max_len);
  }
  rte_mbuf* c = rte_mbuf_raw_alloc(pool);
  return c == nullptr ? nullptr : CopyPacketInto(c, m, pool, max_len);
}

// CopyPacket for each of `n` packets: the copies, in order, go to `out`,
// and the count made is returned (one the pool cannot give is left out).
// The mbufs come in one bulk get and each header is prefetched before any
// is written: taken one at a time, each copy waited on its mbuf's header
// line (nearly a quarter of the DTA reporter's multicast time).
inline uint16_t CopyPackets(rte_mbuf* const* pkts, uint16_t n, rte_mempool* pool, uint32_t max_len,
                            rte_mbuf** out) {
  uint16_t made = 0;
  if (rte_mempool_get_bulk(pool, reinterpret_cast<void**>(out), n) != 0) {
    for (uint16_t i = 0; i < n; ++i) {  // too few left for all: one by one
      if (rte_mbuf* c = CopyPacket(pkts[i], pool, max_len)) out[made++] = c;
    }
    return made;
  }
  for (uint16_t i = 0; i < n; ++i) rte_prefetch0(out[i]);
  // out[i] is read before out[made] (made <= i) is written.
  for (uint16_t i = 0; i < n; ++i) {
    if (rte_mbuf* c = CopyPacketInto(out[i], pkts[i], pool, max_len)) out[made++] = c;
  }
  return made;
}

}  // namespace softfino::dataplane
