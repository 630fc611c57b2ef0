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

#include <algorithm>
#include <cstdint>

namespace softfino::dataplane {

// A copy of `m`'s first `max_len` bytes (all of it: UINT32_MAX) in a fresh
// mbuf from `pool`, with m's metadata (port, offload fields, hash, packet
// type, dynamic fields, flags); nullptr when the pool is empty.
inline rte_mbuf* CopyPacket(const rte_mbuf* m, rte_mempool* pool, uint32_t max_len) {
  const uint32_t len = std::min<uint32_t>(m->data_len, max_len);
  if (m->nb_segs != 1 || len == 0) return rte_pktmbuf_copy(m, pool, 0, max_len);
  // From the pool an mbuf has refcnt 1, no next segment, nb_segs 1.
  rte_mbuf* c = rte_mbuf_raw_alloc(pool);
  if (c == nullptr) return nullptr;
  rte_pktmbuf_reset_headroom(c);
  if (len > uint32_t{c->buf_len} - c->data_off) {  // buffers too small: chained
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

}  // namespace softfino::dataplane
