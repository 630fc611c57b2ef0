// Receive-side scaling in software, for NICs that cannot spread flows over
// queues themselves (virtio-net without its RSS feature, af_packet, tap, a
// single-queue VF): the pipe that owns such a port reads its one RX queue,
// hashes each packet as a NIC would with softfino's symmetric Toeplitz key,
// and hands the packets of other pipes to them through one ring per pipe
// (`--sw-rss`).
//
// The hash is the NIC's, bit for bit: Toeplitz over the IPv4 or IPv6
// addresses and, for TCP and UDP (not fragments), the ports, as a NIC
// configured with RTE_ETH_RSS_IP | TCP | UDP hashes them; other packets
// hash to 0. The pipe is redirection-table entry (hash mod 128), the table
// filled round robin as NICs fill it by default. With the symmetric key
// (0x6d5a repeated) a bit's key window repeats every 16 bits, so the
// Toeplitz hash of a tuple is the Toeplitz hash of the XOR of its 16-bit
// words: two table lookups instead of a loop over 96 bits (and (a, b) and
// (b, a) hash alike, which is why the key is used; it also means there are
// only 65,536 distinct hashes, plenty for a 128-entry table).
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "softfino/pipe/packet_burst.h"

namespace softfino::dataplane {

// Softfino's RSS key (for the NIC and for SoftRss): 0x6d5a repeated, so
// (a, b) and (b, a) hash alike and both directions of a connection reach
// the same pipe (Woo and Park, "Scalable TCP session monitoring with
// symmetric receive-side scaling").
extern const std::array<uint8_t, 40> kSymmetricRssKey;

class SoftRss {
 public:
  static constexpr uint32_t kRetaSize = 128;
  static constexpr unsigned kRingSize = 4096;

  // Spreads port `port`'s packets over `pipes` pipes; `reader` is the pipe
  // that reads the port's queue. `name` makes the rings' names unique.
  static absl::StatusOr<std::unique_ptr<SoftRss>> Create(const std::string& name, uint16_t port,
                                                         uint16_t pipes, uint16_t reader);
  ~SoftRss();  // frees packets still in the rings
  SoftRss(const SoftRss&) = delete;
  SoftRss& operator=(const SoftRss&) = delete;

  // The NIC's RSS hash of a packet starting with an Ethernet header (0 for
  // what is not IPv4 or IPv6, or too short to hold what it hashes).
  uint32_t Hash(const rte_mbuf* pkt) const;
  uint16_t PipeOf(uint32_t hash) const { return reta_[hash & (kRetaSize - 1)]; }

  // Sorts a burst read from the port: records each packet's hash in the
  // mbuf (hash.rss, RTE_MBUF_F_RX_RSS_HASH, as a NIC does), keeps the
  // reader's own packets at the front of `pkts` in order and returns how
  // many; the others go to their pipes' rings in order. What a full ring
  // refuses goes to `refused` (up to n of them), its count to *n_refused.
  uint16_t Spread(rte_mbuf** pkts, uint16_t n, rte_mbuf** refused, uint16_t* n_refused);

  // The ring pipe `p` receives this port's packets from (null for the reader).
  rte_ring* ring(uint16_t p) const { return rings_[p]; }
  uint16_t reader() const { return reader_; }
  uint16_t port() const { return port_; }
  // Whether every ring has room for a whole burst (the reader checks before
  // it reads the port; see PipeWorker's back-pressure).
  bool HasRoom(unsigned burst) const;

 private:
  SoftRss(uint16_t port, uint16_t pipes, uint16_t reader);

  const uint16_t port_;
  const uint16_t reader_;
  std::vector<rte_ring*> rings_;  // per pipe
  struct Staged {  // a burst's packets for one pipe, before they go to its ring
    std::array<rte_mbuf*, pipe::kBurstSize> pkts;
    uint16_t count = 0;
  };
  std::vector<Staged> staged_;  // per pipe
  std::array<uint16_t, kRetaSize> reta_{};
  // The Toeplitz hash of a 16-bit word's high and low byte (the other byte
  // 0): the hash of a tuple is hi_[x >> 8] ^ lo_[x & 0xff], x the XOR of its
  // 16-bit words in network order.
  std::array<uint32_t, 256> hi_{}, lo_{};
};

}  // namespace softfino::dataplane
