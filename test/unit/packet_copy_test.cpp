// CopyPacket against DPDK's own rte_pktmbuf_copy (the truth it replaces):
// the same bytes, lengths, segments and metadata, for whole and cut copies,
// one segment or a chain, and buffers too small to hold a packet whole.
#include "softfino/dataplane/packet_copy.h"

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::dataplane {
namespace {

std::vector<uint8_t> Bytes(const rte_mbuf* m) {
  std::vector<uint8_t> out(m->pkt_len);
  const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, out.data());
  if (p != out.data()) std::memcpy(out.data(), p, m->pkt_len);
  return out;
}

// A packet of `len` bytes (a byte pattern) in segments of at most `seg`,
// with metadata set to values a reset mbuf would not have.
rte_mbuf* MakePacket(rte_mempool* pool, uint32_t len, uint32_t seg, int dyn_offset) {
  rte_mbuf* head = nullptr;
  uint32_t made = 0;
  do {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    const uint32_t n = std::min(seg, len - made);
    auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(n)));
    for (uint32_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>((made + i) * 7 + 3);
    made += n;
    if (head == nullptr) {
      head = m;
    } else {
      EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
    }
  } while (made < len);
  head->port = 3;
  head->vlan_tci = 0x123;
  head->vlan_tci_outer = 0x456;
  head->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4;
  head->hash.rss = 0xdeadbeef;
  head->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
  head->l2_len = 14;
  head->l3_len = 20;
  *RTE_MBUF_DYNFIELD(head, dyn_offset, uint64_t*) = 0x1122334455667788ull;
  return head;
}

void ExpectSameCopy(const rte_mbuf* got, const rte_mbuf* want, int dyn_offset,
                    const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_NE(got, nullptr);
  ASSERT_NE(want, nullptr);
  EXPECT_EQ(got->pkt_len, want->pkt_len);
  EXPECT_EQ(got->data_len, want->data_len);
  EXPECT_EQ(got->nb_segs, want->nb_segs);
  EXPECT_EQ(got->data_off, want->data_off);
  EXPECT_EQ(Bytes(got), Bytes(want));
  EXPECT_EQ(got->port, want->port);
  EXPECT_EQ(got->vlan_tci, want->vlan_tci);
  EXPECT_EQ(got->vlan_tci_outer, want->vlan_tci_outer);
  EXPECT_EQ(got->packet_type, want->packet_type);
  EXPECT_EQ(got->hash.rss, want->hash.rss);
  EXPECT_EQ(got->ol_flags, want->ol_flags);
  EXPECT_EQ(got->tx_offload, want->tx_offload);
  EXPECT_EQ(rte_mbuf_refcnt_read(got), 1);
  EXPECT_EQ(*RTE_MBUF_DYNFIELD(got, dyn_offset, const uint64_t*),
            *RTE_MBUF_DYNFIELD(want, dyn_offset, const uint64_t*));
  EXPECT_EQ(rte_mbuf_check(got, 1, nullptr), 0);
}

// The offset of a 64-bit dynamic field the copies must carry (registering
// the same field again gives the same offset).
int TestDynfield() {
  static const rte_mbuf_dynfield field = {"softfino_packet_copy_test", sizeof(uint64_t),
                                          alignof(uint64_t), 0};
  return rte_mbuf_dynfield_register(&field);
}

TEST(PacketCopy, SameAsRtePktmbufCopy) {
  const int dyn = TestDynfield();
  ASSERT_GE(dyn, 0);
  rte_mempool* pool =
      rte_pktmbuf_pool_create("packet_copy", 512, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  // Buffers of 256 bytes (with the 128 of headroom): a 200-byte packet of
  // one segment does not fit one of them whole.
  rte_mempool* small = rte_pktmbuf_pool_create("packet_copy_small", 512, 0, 0,
                                               RTE_PKTMBUF_HEADROOM + 128, 0);
  ASSERT_NE(pool, nullptr);
  ASSERT_NE(small, nullptr);
  struct Case {
    uint32_t len, seg, max_len;
    rte_mempool* copy_pool;
  };
  const Case cases[] = {
      {64, 2048, UINT32_MAX, pool},  {1, 2048, UINT32_MAX, pool},   {1514, 2048, UINT32_MAX, pool},
      {2048, 2048, UINT32_MAX, pool}, {64, 2048, 40, pool},         {1514, 2048, 54, pool},
      {300, 100, UINT32_MAX, pool},  {300, 100, 150, pool},        {200, 2048, UINT32_MAX, small},
      {200, 2048, 100, small},
  };
  for (const Case& c : cases) {
    const std::string what = "len " + std::to_string(c.len) + ", segments of " +
                             std::to_string(c.seg) + ", max_len " + std::to_string(c.max_len) +
                             (c.copy_pool == small ? ", small buffers" : "");
    rte_mbuf* m = MakePacket(pool, c.len, c.seg, dyn);
    // Reused buffers: what a freed mbuf left (its length above all) must
    // not leak into the copy.
    rte_mbuf* got = CopyPacket(m, c.copy_pool, c.max_len);
    rte_mbuf* want = rte_pktmbuf_copy(m, c.copy_pool, 0, c.max_len);
    ExpectSameCopy(got, want, dyn, what);
    rte_pktmbuf_free(got);
    got = CopyPacket(m, c.copy_pool, c.max_len);
    ExpectSameCopy(got, want, dyn, what + ", second copy");
    EXPECT_EQ(Bytes(m).size(), c.len) << "the original is left as it was";
    rte_pktmbuf_free(got);
    rte_pktmbuf_free(want);
    rte_pktmbuf_free(m);
  }
  rte_mempool_free(small);
  rte_mempool_free(pool);
}

// A burst of every case at once, as multicast copies them; then from a
// pool with fewer buffers free than the burst needs (the bulk get fails):
// as many copies as the pool gives, each still the right one, in order.
TEST(PacketCopy, BurstSameAsRtePktmbufCopyInOrder) {
  const int dyn = TestDynfield();
  ASSERT_GE(dyn, 0);
  rte_mempool* pool =
      rte_pktmbuf_pool_create("packet_copy_burst", 512, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  ASSERT_NE(pool, nullptr);
  const uint32_t lens[] = {64, 1, 1514, 2048, 300, 80, 64, 1000};
  const uint32_t segs[] = {2048, 2048, 2048, 2048, 100, 2048, 30, 2048};
  constexpr uint16_t kN = 8;
  rte_mbuf* pkts[kN];
  for (uint16_t i = 0; i < kN; ++i) pkts[i] = MakePacket(pool, lens[i], segs[i], dyn);
  for (const uint32_t max_len : {UINT32_MAX, 100u}) {
    rte_mbuf* got[kN];
    ASSERT_EQ(CopyPackets(pkts, kN, pool, max_len, got), kN);
    for (uint16_t i = 0; i < kN; ++i) {
      rte_mbuf* want = rte_pktmbuf_copy(pkts[i], pool, 0, max_len);
      ExpectSameCopy(got[i], want, dyn,
                     "packet " + std::to_string(i) + ", max_len " + std::to_string(max_len));
      rte_pktmbuf_free(want);
      rte_pktmbuf_free(got[i]);
    }
  }
  // Hold all but 5 free buffers (the pool has no per-lcore cache): 5
  // one-segment copies fit, the burst of 8 not.
  rte_mbuf* one_segment[kN];
  for (uint16_t i = 0; i < kN; ++i) {
    one_segment[i] = MakePacket(pool, 1, 2048, dyn);
    rte_pktmbuf_mtod(one_segment[i], uint8_t*)[0] = static_cast<uint8_t>(0xa0 + i);
  }
  std::vector<rte_mbuf*> held;
  while (rte_mempool_avail_count(pool) > 5) held.push_back(rte_pktmbuf_alloc(pool));
  rte_mbuf* got[kN];
  const uint16_t made = CopyPackets(one_segment, kN, pool, UINT32_MAX, got);
  EXPECT_EQ(made, 5);
  for (uint16_t i = 0; i < made; ++i) {
    EXPECT_EQ(rte_pktmbuf_mtod(got[i], const uint8_t*)[0], 0xa0 + i) << "copy " << i;
    rte_pktmbuf_free(got[i]);
  }
  for (rte_mbuf* m : held) rte_pktmbuf_free(m);
  for (rte_mbuf* m : one_segment) rte_pktmbuf_free(m);
  for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
  rte_mempool_free(pool);
}

TEST(PacketCopy, EmptyPoolGivesNull) {
  rte_mempool* pool = rte_pktmbuf_pool_create("packet_copy_one", 2, 0, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  ASSERT_NE(pool, nullptr);
  rte_mbuf* a = rte_pktmbuf_alloc(pool);
  ASSERT_NE(rte_pktmbuf_append(a, 64), nullptr);
  rte_mbuf* b = CopyPacket(a, pool, UINT32_MAX);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(CopyPacket(a, pool, UINT32_MAX), nullptr);
  rte_pktmbuf_free(b);
  rte_pktmbuf_free(a);
  rte_mempool_free(pool);
}

}  // namespace
}  // namespace softfino::dataplane
