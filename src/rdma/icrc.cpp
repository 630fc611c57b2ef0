#include "softfino/rdma/icrc.h"

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_net_crc.h>
#include <rte_udp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "softfino/net/crc.h"
#include "softfino/net/roce.h"

namespace softfino::rdma {
namespace {

constexpr uint32_t kMaxIpv4Header = 60;
constexpr uint32_t kMaskedBytesMax = kMaxIpv4Header + sizeof(rte_udp_hdr) + sizeof(net::Bth);
constexpr uint32_t kPseudoLrhBytes = 8;  // all ones, in place of the LRH
// Datagrams up to this (a 4,096-byte path MTU and its headers) are CRCed in
// one piece by DPDK; larger ones (jumbo frames seen by the parser) by the
// table engine.
constexpr uint32_t kLinearMax = 4096 + 256;

struct Engine {
  net::Crc crc;
  // The register after the 8 0xff bytes of the pseudo LRH: the same for
  // every packet, so it is computed once (rxe hard-codes the same value).
  uint64_t after_lrh;
};

Engine MakeEngine() {
  auto spec = net::CrcSpecByName("crc_32");
  auto crc = spec.ok() ? net::Crc::Create(*spec, net::Crc::Engine::kTable)
                       : absl::StatusOr<net::Crc>(spec.status());
  if (!crc.ok()) {
    // The catalogue is compiled in, so this is a build defect, not a user error.
    std::fprintf(stderr, "softfino: cannot build the ICRC engine: %s\n",
                 crc.status().ToString().c_str());
    std::abort();
  }
  static constexpr uint8_t kPseudoLrh[kPseudoLrhBytes] = {0xff, 0xff, 0xff, 0xff,
                                                          0xff, 0xff, 0xff, 0xff};
  const uint64_t reg = crc->Update(crc->Start(), kPseudoLrh, sizeof(kPseudoLrh));
  return Engine{*std::move(crc), reg};
}

const Engine& GetEngine() {
  static const Engine engine = MakeEngine();
  return engine;
}

// Where the IPv4 datagram of an Ethernet frame lies, with the length checks
// the ICRC needs (IHL, UDP, BTH and ICRC inside the total length, the total
// length inside the frame).
IcrcStatus LocateDatagram(std::span<const uint8_t> frame, uint32_t* l3, uint32_t* len) {
  if (frame.size() < sizeof(rte_ether_hdr)) return IcrcStatus::kTruncated;
  uint32_t off = sizeof(rte_ether_hdr);
  uint16_t type = static_cast<uint16_t>((frame[12] << 8) | frame[13]);
  if (type == RTE_ETHER_TYPE_VLAN) {
    if (frame.size() < off + sizeof(rte_vlan_hdr)) return IcrcStatus::kTruncated;
    type = static_cast<uint16_t>((frame[16] << 8) | frame[17]);
    off += sizeof(rte_vlan_hdr);
  }
  if (type == RTE_ETHER_TYPE_IPV6) return IcrcStatus::kIpv6Unsupported;
  if (type != RTE_ETHER_TYPE_IPV4) return IcrcStatus::kNotIpv4;
  if (frame.size() < off + sizeof(rte_ipv4_hdr)) return IcrcStatus::kTruncated;
  const uint8_t* ip = frame.data() + off;
  if ((ip[0] >> 4) != 4) return IcrcStatus::kNotIpv4;
  const uint32_t ihl = (ip[0] & 0xfu) * 4u;
  const uint32_t total = (uint32_t{ip[2]} << 8) | ip[3];
  if (ihl < sizeof(rte_ipv4_hdr) || total > frame.size() - off ||
      total < ihl + sizeof(rte_udp_hdr) + sizeof(net::Bth) + net::kIcrcBytes) {
    return IcrcStatus::kTruncated;
  }
  *l3 = off;
  *len = total;
  return IcrcStatus::kOk;
}

// The fields the ICRC does not cover read as ones: IPv4 TOS, TTL and
// checksum, the UDP checksum, the BTH's FECN/BECN/reserved byte.
void MaskVariantFields(uint8_t* hdr, uint32_t ihl) {
  hdr[offsetof(rte_ipv4_hdr, type_of_service)] = 0xff;
  hdr[offsetof(rte_ipv4_hdr, time_to_live)] = 0xff;
  hdr[offsetof(rte_ipv4_hdr, hdr_checksum)] = 0xff;
  hdr[offsetof(rte_ipv4_hdr, hdr_checksum) + 1] = 0xff;
  hdr[ihl + offsetof(rte_udp_hdr, dgram_cksum)] = 0xff;
  hdr[ihl + offsetof(rte_udp_hdr, dgram_cksum) + 1] = 0xff;
  hdr[ihl + sizeof(rte_udp_hdr) + offsetof(net::Bth, fecn_becn)] = 0xff;
}

std::span<const uint8_t> MbufBytes(const rte_mbuf* m) {
  return {rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
}

}  // namespace

const char* IcrcStatusName(IcrcStatus status) {
  switch (status) {
    case IcrcStatus::kOk:
      return "ok";
    case IcrcStatus::kMismatch:
      return "icrc_mismatch";
    case IcrcStatus::kNotIpv4:
      return "not_ipv4";
    case IcrcStatus::kIpv6Unsupported:
      return "ipv6_unsupported";
    case IcrcStatus::kTruncated:
      return "truncated";
    case IcrcStatus::kMultiSegment:
      return "multi_segment";
  }
  return "unknown";
}

uint32_t IcrcOfIpv4Datagram(const uint8_t* ip, uint32_t datagram_len) {
  const Engine& e = GetEngine();
  const uint32_t ihl = (ip[0] & 0xfu) * 4u;
  const uint32_t masked_len = ihl + sizeof(rte_udp_hdr) + sizeof(net::Bth);
  const uint32_t covered = datagram_len - net::kIcrcBytes;
  if (kPseudoLrhBytes + covered <= kLinearMax) {
    // rte_net_crc takes one buffer: the pseudo LRH, the datagram and its
    // masked fields copied together. Copying is far cheaper than CRCing
    // with tables (the translator spent 28% of its cycles in them).
    alignas(64) uint8_t buf[kLinearMax];
    std::memset(buf, 0xff, kPseudoLrhBytes);
    std::memcpy(buf + kPseudoLrhBytes, ip, covered);
    MaskVariantFields(buf + kPseudoLrhBytes, ihl);
    return rte_net_crc_calc(buf, kPseudoLrhBytes + covered, RTE_NET_CRC32_ETH);
  }
  // The variant fields are masked in a copy of the headers only; the
  // payload, which is most of the bytes, is read where it lies.
  uint8_t hdr[kMaskedBytesMax];
  std::memcpy(hdr, ip, masked_len);
  MaskVariantFields(hdr, ihl);
  uint64_t reg = e.crc.Update(e.after_lrh, hdr, masked_len);
  reg = e.crc.Update(reg, ip + masked_len, datagram_len - masked_len - net::kIcrcBytes);
  return static_cast<uint32_t>(e.crc.Finish(reg));
}

IcrcStatus ComputeIcrc(std::span<const uint8_t> frame, uint32_t* icrc) {
  uint32_t l3 = 0, len = 0;
  const IcrcStatus s = LocateDatagram(frame, &l3, &len);
  if (s != IcrcStatus::kOk) return s;
  *icrc = IcrcOfIpv4Datagram(frame.data() + l3, len);
  return IcrcStatus::kOk;
}

IcrcStatus VerifyIcrc(std::span<const uint8_t> frame) {
  uint32_t l3 = 0, len = 0;
  const IcrcStatus s = LocateDatagram(frame, &l3, &len);
  if (s != IcrcStatus::kOk) return s;
  const uint8_t* ip = frame.data() + l3;
  return IcrcOfIpv4Datagram(ip, len) == LoadIcrc(ip + len - net::kIcrcBytes)
             ? IcrcStatus::kOk
             : IcrcStatus::kMismatch;
}

IcrcStatus WriteIcrc(std::span<uint8_t> frame) {
  uint32_t l3 = 0, len = 0;
  const IcrcStatus s = LocateDatagram(frame, &l3, &len);
  if (s != IcrcStatus::kOk) return s;
  uint8_t* ip = frame.data() + l3;
  StoreIcrc(ip + len - net::kIcrcBytes, IcrcOfIpv4Datagram(ip, len));
  return IcrcStatus::kOk;
}

IcrcStatus ComputeIcrc(const rte_mbuf* m, uint32_t* icrc) {
  if (m->nb_segs != 1) return IcrcStatus::kMultiSegment;
  return ComputeIcrc(MbufBytes(m), icrc);
}

IcrcStatus VerifyIcrc(const rte_mbuf* m) {
  if (m->nb_segs != 1) return IcrcStatus::kMultiSegment;
  return VerifyIcrc(MbufBytes(m));
}

IcrcStatus WriteIcrc(rte_mbuf* m) {
  if (m->nb_segs != 1) return IcrcStatus::kMultiSegment;
  return WriteIcrc(std::span<uint8_t>(rte_pktmbuf_mtod(m, uint8_t*), m->data_len));
}

}  // namespace softfino::rdma
