#include "softfino/rdma/icrc.h"

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_net_crc.h>
#include <rte_udp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "softfino/net/crc.h"
#include "softfino/net/crc32_fold.h"
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
constexpr void MaskVariantFields(uint8_t* hdr, uint32_t ihl) {
  hdr[offsetof(rte_ipv4_hdr, type_of_service)] = 0xff;
  hdr[offsetof(rte_ipv4_hdr, time_to_live)] = 0xff;
  hdr[offsetof(rte_ipv4_hdr, hdr_checksum)] = 0xff;
  hdr[offsetof(rte_ipv4_hdr, hdr_checksum) + 1] = 0xff;
  hdr[ihl + offsetof(rte_udp_hdr, dgram_cksum)] = 0xff;
  hdr[ihl + offsetof(rte_udp_hdr, dgram_cksum) + 1] = 0xff;
  hdr[ihl + sizeof(rte_udp_hdr) + offsetof(net::Bth, fecn_becn)] = 0xff;
}

// DPDK's rte_net_crc (PCLMULQDQ where the CPU has it, tables otherwise)
// over a masked copy; tables for datagrams past kLinearMax.
uint32_t IcrcPortable(const uint8_t* ip, uint32_t datagram_len) {
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

#if defined(__x86_64__)
// The fold engine: CRC-32 by carry-less multiplication (net/crc32_fold.h),
// reading the datagram in place and masking its variant fields in registers.
// DPDK's rte_net_crc needs one buffer, so the portable engine copies the
// datagram first, and its code for a length that is not a multiple of 16
// (32 or more) builds a shuffle table on the stack and reads it back
// unaligned: both store-forwarding stalls, which made the CRC 30% of the DTA
// translator's cycles (perf, Key-Write N=1).
//
// The stream CRCed is the pseudo LRH (8 x 0xff) and the masked datagram,
// register starting at all ones. Starting at all ones is the same as
// starting at zero with the first 4 bytes inverted, which makes the pseudo
// LRH 00 00 00 00 ff ff ff ff; from zero, leading zero bytes change
// nothing. So the engine CRCs, from zero, 4 x 0xff and the datagram, with
// zero bytes in front to make it whole 16-byte chunks: no partial chunk at
// the end, and the first chunk (the only one to start before the datagram)
// is the datagram's first 16 bytes shifted. Offsets below are from the
// datagram's start; the first chunk's is -4 less the zero bytes.
constexpr int32_t kMaskFront = 32;                   // room for offsets down to -19
constexpr int32_t kMaskSpan = kMaskedBytesMax + 16;  // a chunk read from the last masked byte

// By IHL in words: ones where the stream reads ones (the 4 bytes of the
// pseudo LRH left, the variant fields), zeros elsewhere; ORed into a chunk.
struct FoldMasks {
  uint8_t by_ihl[16][kMaskFront + kMaskSpan];
};
constexpr FoldMasks MakeFoldMasks() {
  FoldMasks m{};
  for (uint32_t words = 5; words < 16; ++words) {
    uint8_t* at = m.by_ihl[words] + kMaskFront;
    for (int32_t i = -4; i < 0; ++i) at[i] = 0xff;
    MaskVariantFields(at, words * 4);
  }
  return m;
}
alignas(64) constexpr FoldMasks kFoldMasks = MakeFoldMasks();

// pshufb indices that move the datagram's first 16 bytes k places on, for a
// chunk at offset -k: read 16 of them from kShiftFront - k (0x80 makes a
// zero byte).
constexpr int32_t kShiftFront = 32;
struct ShiftTable {
  uint8_t at[kShiftFront + 16];
};
constexpr ShiftTable MakeShiftTable() {
  ShiftTable t{};
  for (int32_t i = 0; i < kShiftFront; ++i) t.at[i] = 0x80;
  for (int32_t i = 0; i < 16; ++i) t.at[kShiftFront + i] = static_cast<uint8_t>(i);
  return t;
}
alignas(64) constexpr ShiftTable kShift = MakeShiftTable();

[[gnu::target("pclmul,sse4.1")]] uint32_t IcrcByFold(const uint8_t* ip, uint32_t datagram_len) {
  const uint32_t ihl = (ip[0] & 0xfu) * 4u;
  const int32_t masked_len = static_cast<int32_t>(ihl + sizeof(rte_udp_hdr) + sizeof(net::Bth));
  const int32_t covered = static_cast<int32_t>(datagram_len - net::kIcrcBytes);
  const uint8_t* mask = kFoldMasks.by_ihl[ihl / 4] + kMaskFront;
  const auto load = [](const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  };
  // Two chunks at most start before the datagram (offsets down to -19);
  // the datagram is at least 44 bytes (IPv4, UDP, BTH, ICRC), so reading
  // its first 16 is safe.
  const auto masked_chunk = [&](int32_t off) {
    const __m128i data =
        off >= 0 ? load(ip + off) : _mm_shuffle_epi8(load(ip), load(kShift.at + kShiftFront + off));
    return _mm_or_si128(data, load(mask + off));
  };
  int32_t off = -4 - static_cast<int32_t>((0u - static_cast<uint32_t>(covered + 4)) & 15u);
  __m128i x = masked_chunk(off);
  for (off += 16; off < masked_len; off += 16) x = net::crc32_fold::Fold(x, masked_chunk(off));
  for (; off < covered; off += 16) x = net::crc32_fold::Fold(x, load(ip + off));
  return ~net::crc32_fold::Reduce(x);
}
#endif

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

bool IcrcEngineAvailable(IcrcEngine engine) {
  return engine == IcrcEngine::kPortable || net::Crc32FoldAvailable();
}

uint32_t IcrcOfIpv4DatagramBy(IcrcEngine engine, const uint8_t* ip, uint32_t datagram_len) {
#if defined(__x86_64__)
  if (engine == IcrcEngine::kFold) return IcrcByFold(ip, datagram_len);
#endif
  (void)engine;
  return IcrcPortable(ip, datagram_len);
}

uint32_t IcrcOfIpv4Datagram(const uint8_t* ip, uint32_t datagram_len) {
  static const IcrcEngine best =
      IcrcEngineAvailable(IcrcEngine::kFold) ? IcrcEngine::kFold : IcrcEngine::kPortable;
  return IcrcOfIpv4DatagramBy(best, ip, datagram_len);
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
