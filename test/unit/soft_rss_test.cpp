// Software RSS (dataplane/soft_rss.h) against DPDK's own Toeplitz
// implementation (rte_softrss, bit by bit over the tuple a NIC hashes) as the
// independent truth for the hash, and the NIC's default redirection table
// for the pipe.
#include "softfino/dataplane/soft_rss.h"

#include <gtest/gtest.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_thash.h>
#include <rte_udp.h>

#include <cstring>
#include <random>
#include <set>
#include <vector>

namespace softfino::dataplane {
namespace {

struct Flow {
  bool v6 = false;
  uint8_t proto = IPPROTO_UDP;
  uint8_t src[16] = {}, dst[16] = {};
  uint16_t sport = 0, dport = 0;
  bool fragment = false;  // IPv4: a later fragment (offset != 0)
  bool vlan = false;

  Flow Reversed() const {
    Flow r = *this;
    std::memcpy(r.src, dst, 16);
    std::memcpy(r.dst, src, 16);
    std::swap(r.sport, r.dport);
    return r;
  }
};

class SoftRssTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pool_ = rte_pktmbuf_pool_create("soft_rss_test", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  static void TearDownTestSuite() { rte_mempool_free(pool_); }

  static rte_mbuf* Packet(const Flow& f) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    EXPECT_NE(m, nullptr);
    const uint16_t l3 = sizeof(rte_ether_hdr) + (f.vlan ? sizeof(rte_vlan_hdr) : 0);
    const uint16_t ip_len = f.v6 ? sizeof(rte_ipv6_hdr) : sizeof(rte_ipv4_hdr);
    const uint16_t len = l3 + ip_len + sizeof(rte_tcp_hdr) + 8;
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
    std::memset(p, 0, len);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
    const uint16_t ip_type = f.v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4;
    if (f.vlan) {
      eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
      reinterpret_cast<rte_vlan_hdr*>(eth + 1)->eth_proto = rte_cpu_to_be_16(ip_type);
    } else {
      eth->ether_type = rte_cpu_to_be_16(ip_type);
    }
    if (f.v6) {
      auto* ip = reinterpret_cast<rte_ipv6_hdr*>(p + l3);
      ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
      ip->proto = f.proto;
      std::memcpy(ip->src_addr, f.src, 16);
      std::memcpy(ip->dst_addr, f.dst, 16);
    } else {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + l3);
      ip->version_ihl = 0x45;
      ip->next_proto_id = f.proto;
      ip->fragment_offset = rte_cpu_to_be_16(f.fragment ? 185 : 0);
      std::memcpy(&ip->src_addr, f.src, 4);
      std::memcpy(&ip->dst_addr, f.dst, 4);
    }
    auto* ports = reinterpret_cast<rte_udp_hdr*>(p + l3 + ip_len);
    ports->src_port = rte_cpu_to_be_16(f.sport);
    ports->dst_port = rte_cpu_to_be_16(f.dport);
    return m;
  }

  // What a NIC computes (RTE_ETH_RSS_IP | TCP | UDP), by DPDK's reference.
  static uint32_t NicHash(const Flow& f) {
    const bool l4 = (f.proto == IPPROTO_TCP || f.proto == IPPROTO_UDP) && !f.fragment;
    rte_thash_tuple t{};
    uint32_t words;
    if (f.v6) {
      rte_ipv6_hdr ip{};
      std::memcpy(ip.src_addr, f.src, 16);
      std::memcpy(ip.dst_addr, f.dst, 16);
      rte_thash_load_v6_addrs(&ip, &t);
      t.v6.sport = f.sport;
      t.v6.dport = f.dport;
      words = l4 ? RTE_THASH_V6_L4_LEN : RTE_THASH_V6_L3_LEN;
    } else {
      uint32_t src, dst;
      std::memcpy(&src, f.src, 4);
      std::memcpy(&dst, f.dst, 4);
      t.v4.src_addr = rte_be_to_cpu_32(src);
      t.v4.dst_addr = rte_be_to_cpu_32(dst);
      t.v4.sport = f.sport;
      t.v4.dport = f.dport;
      words = l4 ? RTE_THASH_V4_L4_LEN : RTE_THASH_V4_L3_LEN;
    }
    return rte_softrss(reinterpret_cast<uint32_t*>(&t), words, kSymmetricRssKey.data());
  }

  static Flow RandomFlow(std::mt19937& rng) {
    Flow f;
    const unsigned kind = rng() % 6;
    f.v6 = kind >= 3;
    f.proto = kind % 3 == 0 ? IPPROTO_TCP : kind % 3 == 1 ? IPPROTO_UDP : IPPROTO_ICMP;
    for (auto& b : f.src) b = static_cast<uint8_t>(rng());
    for (auto& b : f.dst) b = static_cast<uint8_t>(rng());
    f.sport = static_cast<uint16_t>(rng());
    f.dport = static_cast<uint16_t>(rng());
    f.fragment = !f.v6 && rng() % 5 == 0;
    f.vlan = rng() % 4 == 0;
    return f;
  }

  static rte_mempool* pool_;
};

rte_mempool* SoftRssTest::pool_ = nullptr;

TEST_F(SoftRssTest, HashIsTheNicsToeplitzHashAndSymmetric) {
  auto rss = SoftRss::Create("t", 0, 4, 0);
  ASSERT_TRUE(rss.ok()) << rss.status();
  std::mt19937 rng(7);
  std::set<uint32_t> distinct;
  for (int i = 0; i < 2000; ++i) {
    const Flow f = RandomFlow(rng);
    rte_mbuf* m = Packet(f);
    rte_mbuf* r = Packet(f.Reversed());
    const uint32_t expected = NicHash(f);
    distinct.insert(expected);
    EXPECT_EQ((*rss)->Hash(m), expected)
        << "flow " << i << " v6=" << f.v6 << " proto=" << int(f.proto) << " frag=" << f.fragment
        << " vlan=" << f.vlan;
    EXPECT_EQ((*rss)->Hash(r), expected) << "flow " << i << " reversed";
    rte_pktmbuf_free(m);
    rte_pktmbuf_free(r);
  }
  // The reference really hashed (a 16-bit fold: about 30 of 2,000 collide).
  EXPECT_GT(distinct.size(), 1900u);
}

TEST_F(SoftRssTest, NonIpAndTruncatedPacketsHashToZero) {
  auto rss = SoftRss::Create("t", 0, 2, 0);
  ASSERT_TRUE(rss.ok()) << rss.status();
  rte_mbuf* arp = rte_pktmbuf_alloc(pool_);
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(arp, 60));
  std::memset(p, 0xab, 60);
  reinterpret_cast<rte_ether_hdr*>(p)->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  EXPECT_EQ((*rss)->Hash(arp), 0u);
  rte_pktmbuf_free(arp);
  Flow f;
  f.src[0] = 10;
  f.dst[0] = 11;
  rte_mbuf* cut = Packet(f);
  rte_pktmbuf_trim(cut, cut->data_len - sizeof(rte_ether_hdr) - 10);  // half an IPv4 header
  EXPECT_EQ((*rss)->Hash(cut), 0u);
  rte_pktmbuf_free(cut);
}

TEST_F(SoftRssTest, SpreadKeepsTheReadersPacketsAndQueuesTheRestInOrder) {
  constexpr uint16_t kPipes = 3, kReader = 1;
  auto created = SoftRss::Create("t", 5, kPipes, kReader);
  ASSERT_TRUE(created.ok()) << created.status();
  SoftRss& rss = **created;
  EXPECT_EQ(rss.ring(kReader), nullptr);
  std::mt19937 rng(11);
  rte_mbuf* pkts[pipe::kBurstSize];
  std::vector<rte_mbuf*> expected[kPipes];
  for (auto& pkt : pkts) {
    const Flow f = RandomFlow(rng);
    pkt = Packet(f);
    // The NIC's default redirection table: entry i -> queue i mod queues.
    expected[(NicHash(f) % SoftRss::kRetaSize) % kPipes].push_back(pkt);
  }
  rte_mbuf* refused[pipe::kBurstSize];
  uint16_t n_refused = 99;
  const uint16_t kept = rss.Spread(pkts, pipe::kBurstSize, refused, &n_refused);
  EXPECT_EQ(n_refused, 0);
  ASSERT_EQ(kept, expected[kReader].size());
  for (uint16_t i = 0; i < kept; ++i) {
    EXPECT_EQ(pkts[i], expected[kReader][i]);
    EXPECT_TRUE(pkts[i]->ol_flags & RTE_MBUF_F_RX_RSS_HASH);
  }
  for (uint16_t p = 0; p < kPipes; ++p) {
    if (p == kReader) continue;
    std::vector<rte_mbuf*> got(pipe::kBurstSize);
    got.resize(rte_ring_sc_dequeue_burst(rss.ring(p), reinterpret_cast<void**>(got.data()),
                                         got.size(), nullptr));
    EXPECT_EQ(got, expected[p]) << "pipe " << p;
    for (rte_mbuf* m : got) rte_pktmbuf_free(m);
  }
  for (uint16_t i = 0; i < kept; ++i) rte_pktmbuf_free(pkts[i]);
}

TEST_F(SoftRssTest, AFullRingRefusesAndReportsRoom) {
  auto created = SoftRss::Create("t", 0, 2, 0);
  ASSERT_TRUE(created.ok()) << created.status();
  SoftRss& rss = **created;
  // A flow that goes to pipe 1.
  std::mt19937 rng(3);
  Flow f;
  do {
    f = RandomFlow(rng);
  } while ((NicHash(f) % SoftRss::kRetaSize) % 2 != 1);
  EXPECT_TRUE(rss.HasRoom(pipe::kBurstSize));
  // Fill pipe 1's ring to within 3 slots of full.
  const unsigned capacity = rte_ring_get_capacity(rss.ring(1));
  std::vector<rte_mbuf*> filler;
  for (unsigned i = 0; i + 3 < capacity; ++i) filler.push_back(Packet(f));
  ASSERT_EQ(rte_ring_sp_enqueue_burst(rss.ring(1), reinterpret_cast<void**>(filler.data()),
                                      filler.size(), nullptr),
            filler.size());
  EXPECT_FALSE(rss.HasRoom(pipe::kBurstSize));
  rte_mbuf* pkts[5];
  for (auto& pkt : pkts) pkt = Packet(f);
  rte_mbuf* refused[5];
  uint16_t n_refused = 0;
  EXPECT_EQ(rss.Spread(pkts, 5, refused, &n_refused), 0);
  ASSERT_EQ(n_refused, 2);  // 3 fit, in order; the last 2 are refused
  EXPECT_EQ(refused[0], pkts[3]);
  EXPECT_EQ(refused[1], pkts[4]);
  rte_pktmbuf_free(refused[0]);
  rte_pktmbuf_free(refused[1]);
  // The destructor frees what is left in the ring.
}

}  // namespace
}  // namespace softfino::dataplane
