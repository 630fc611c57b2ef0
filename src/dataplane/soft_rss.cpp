#include "softfino/dataplane/soft_rss.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_thash.h>

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "softfino/pipe/packet_burst.h"

namespace softfino::dataplane {

const std::array<uint8_t, 40> kSymmetricRssKey = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

namespace {

// Ring names are short in DPDK (RTE_RING_NAMESIZE): number them.
std::atomic<unsigned> next_ring_id{0};

constexpr uint8_t kTcp = 6, kUdp = 17;

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// XOR of `words` 16-bit words from p (in memory order; byte order is
// fixed once, at the end, since swapping bytes commutes with XOR).
uint16_t Fold(const uint8_t* p, unsigned words) {
  uint16_t x = 0;
  for (unsigned i = 0; i < words; ++i) x ^= Load16(p + 2 * i);
  return x;
}

}  // namespace

SoftRss::SoftRss(uint16_t port, uint16_t pipes, uint16_t reader)
    : port_(port), reader_(reader), rings_(pipes, nullptr), staged_(pipes) {
  for (uint32_t i = 0; i < kRetaSize; ++i) reta_[i] = static_cast<uint16_t>(i % pipes);
  for (uint32_t b = 0; b < 256; ++b) {
    // One 32-bit input word whose first 16 bits are the folded word.
    uint32_t hi_word = (b << 8) << 16, lo_word = b << 16;
    hi_[b] = rte_softrss(&hi_word, 1, kSymmetricRssKey.data());
    lo_[b] = rte_softrss(&lo_word, 1, kSymmetricRssKey.data());
  }
}

absl::StatusOr<std::unique_ptr<SoftRss>> SoftRss::Create(const std::string& name, uint16_t port,
                                                         uint16_t pipes, uint16_t reader) {
  auto rss = std::unique_ptr<SoftRss>(new SoftRss(port, pipes, reader));
  for (uint16_t p = 0; p < pipes; ++p) {
    if (p == reader) continue;
    const std::string ring_name = absl::StrCat("sf_rss", next_ring_id.fetch_add(1));
    rss->rings_[p] = rte_ring_create(ring_name.c_str(), kRingSize, rte_socket_id(),
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rss->rings_[p] == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat(
          name, ": cannot create the software RSS ring of port ", port, " to pipe ", p, ": ",
          rte_strerror(rte_errno), "; give DPDK more memory (EAL -m)"));
    }
  }
  return rss;
}

SoftRss::~SoftRss() {
  for (rte_ring* ring : rings_) {
    if (ring == nullptr) continue;
    void* pkt;
    while (rte_ring_sc_dequeue(ring, &pkt) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(pkt));
    rte_ring_free(ring);
  }
}

uint32_t SoftRss::Hash(const rte_mbuf* pkt) const {
  const auto* p = rte_pktmbuf_mtod(pkt, const uint8_t*);
  const uint32_t len = pkt->data_len;
  uint32_t l3 = sizeof(rte_ether_hdr);
  if (len < l3) return 0;
  uint16_t type = Load16(p + l3 - 2);
  if (type == RTE_BE16(RTE_ETHER_TYPE_VLAN)) {  // one 802.1Q tag, as NICs parse it
    l3 += sizeof(rte_vlan_hdr);
    if (len < l3) return 0;
    type = Load16(p + l3 - 2);
  }
  uint16_t x;
  uint32_t l4;
  bool has_ports;
  if (type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
    if (len < l3 + sizeof(rte_ipv4_hdr)) return 0;
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(p + l3);
    x = Fold(p + l3 + offsetof(rte_ipv4_hdr, src_addr), 4);
    l4 = l3 + rte_ipv4_hdr_len(ip);
    // Fragments hash on the addresses only: only the first one has ports.
    has_ports = (ip->next_proto_id == kTcp || ip->next_proto_id == kUdp) &&
                (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) == 0;
  } else if (type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
    if (len < l3 + sizeof(rte_ipv6_hdr)) return 0;
    const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(p + l3);
    x = Fold(p + l3 + offsetof(rte_ipv6_hdr, src_addr), 16);
    l4 = l3 + sizeof(rte_ipv6_hdr);
    has_ports = ip->proto == kTcp || ip->proto == kUdp;
  } else {
    return 0;
  }
  if (has_ports && len >= l4 + 4) x ^= Fold(p + l4, 2);
  x = rte_be_to_cpu_16(x);
  return hi_[x >> 8] ^ lo_[x & 0xff];
}

bool SoftRss::HasRoom(unsigned burst) const {
  for (rte_ring* ring : rings_) {
    if (ring != nullptr && rte_ring_free_count(ring) < burst) return false;
  }
  return true;
}

uint16_t SoftRss::Spread(rte_mbuf** pkts, uint16_t n, rte_mbuf** refused, uint16_t* n_refused) {
  // The packets' first bytes came from the NIC, not this core's cache.
  for (uint16_t i = 0; i < n; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], const void*));
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    m->hash.rss = Hash(m);
    m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
    const uint16_t p = PipeOf(m->hash.rss);
    if (p == reader_) {
      pkts[kept++] = m;
    } else {
      Staged& s = staged_[p];
      s.pkts[s.count++] = m;
    }
  }
  *n_refused = 0;
  for (uint16_t p = 0; p < rings_.size(); ++p) {
    Staged& s = staged_[p];
    if (s.count == 0) continue;
    const unsigned sent = rte_ring_sp_enqueue_burst(
        rings_[p], reinterpret_cast<void* const*>(s.pkts.data()), s.count, nullptr);
    for (unsigned i = sent; i < s.count; ++i) refused[(*n_refused)++] = s.pkts[i];
    s.count = 0;
  }
  return kept;
}

}  // namespace softfino::dataplane
