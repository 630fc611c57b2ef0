// The soft RNIC (rdma/soft_rnic.h, rc_responder.h): any bytes on UDP 4791
// against live memory regions, several frames per input (fuzz_util.h
// Chunks) so that PSN order, multi-packet WRITEs and duplicates are reached.
//
// Every frame goes through SoftRnic::Process as a received mbuf, as in the
// collector. Two fix-ups before that, so the fuzzer gets past checks no
// mutation would pass by chance: a RETH/AtomicETH rkey below 256 is replaced
// by the rkey of region (rkey % regions) (region rkeys are random per run),
// and the ICRC is recomputed, unless the input's first byte has bit 0 set
// (then frames go as they are, bad ICRCs included).
//
// Invariants, after every frame:
// - the guard bytes around each region never change (no write outside one);
// - the read-only region never changes;
// - a region changes only when the responder counted an applied WRITE
//   packet or atomic for that frame (refused requests change no memory);
// - every answer the RNIC builds is a valid RoCEv2 packet (ICRC checked);
// - no mbuf is leaked: the pool is full again once answers are freed.
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "softfino/rdma/icrc.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/rdma/roce_parser.h"
#include "softfino/rdma/soft_rnic.h"
#include "test/fuzz/fuzz_util.h"

namespace net = softfino::net;
namespace rdma = softfino::rdma;
using softfino::fuzz::Chunks;

namespace {

constexpr size_t kGuard = 64;
constexpr uint8_t kGuardByte = 0xa5;

// Region memory with guard bytes on both sides, so a write past either end
// shows up in the guards (ASan alone would not: they are our allocation).
class GuardedAllocator : public rdma::RegionAllocator {
 public:
  struct Block {
    uint8_t* raw;
    size_t bytes;
  };
  void* Allocate(const std::string&, size_t bytes) override {
    auto* raw = static_cast<uint8_t*>(std::aligned_alloc(64, bytes + 2 * kGuard));
    std::memset(raw, kGuardByte, bytes + 2 * kGuard);
    std::memset(raw + kGuard, 0, bytes);
    blocks_.push_back({raw, bytes});
    return raw + kGuard;
  }
  void Free(void* p, size_t) override { std::free(static_cast<uint8_t*>(p) - kGuard); }
  const char* name() const override { return "guarded"; }
  static std::vector<Block>& blocks() { return blocks_; }

 private:
  static inline std::vector<Block> blocks_;
};

struct RegionSpec {
  const char* name;
  uint64_t length;
  uint64_t iova;
  uint32_t access;
};
// Addresses the seeds use; small enough for the fuzzer to find by itself.
constexpr RegionSpec kRegions[] = {
    {"rw", 4096, 0x10000, rdma::kAccessAllRemote},
    {"ro", 512, 0x20000, rdma::kAccessRemoteRead},
    {"wo", 256, 0x30000, rdma::kAccessRemoteWrite},
    {"atomic", 64, 0x40000, rdma::kAccessRemoteAtomic},
};
constexpr size_t kRegionCount = std::size(kRegions);
constexpr uint32_t kPeerIp = 0x0a000001;  // 10.0.0.1, the requester
constexpr uint32_t kSelfIp = 0x0a000002;

struct World {
  rdma::MemoryRegionTable* table;
  rdma::MemoryRegion regions[kRegionCount];
  rte_mempool* pool;
};

World& TheWorld() {
  static World* w = [] {
    softfino::fuzz::InitEal();
    auto* world = new World;
    world->table = new rdma::MemoryRegionTable(std::make_unique<GuardedAllocator>());
    for (size_t i = 0; i < kRegionCount; ++i) {
      auto r = world->table->Register(kRegions[i].name, kRegions[i].length,
                                      {.access = kRegions[i].access, .iova = kRegions[i].iova});
      FUZZ_CHECK(r.ok());
      world->regions[i] = *r;
    }
    world->pool =
        rte_pktmbuf_pool_create("fuzz_rnic", 255, 0, 0, 9216 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
    FUZZ_CHECK(world->pool != nullptr);
    return world;
  }();
  return *w;
}

rdma::SoftRnicQpConfig QpConfig(uint32_t qpn, uint32_t mtu) {
  rdma::SoftRnicQpConfig c;
  c.responder.qpn = qpn;
  c.responder.expected_psn = 0;
  c.responder.mtu = mtu;
  c.responder.ack_every = 4;
  c.responder.max_read_bytes = 4096;
  c.to_requester.src_mac = {0x02, 0, 0, 0, 0, 2};
  c.to_requester.dst_mac = {0x02, 0, 0, 0, 0, 1};
  c.to_requester.src_ip = kSelfIp;
  c.to_requester.dst_ip = kPeerIp;
  c.requester_qpn = 0x100;
  return c;
}

// The rkey fix-up (see the top of the file).
void FixRkey(std::vector<uint8_t>& frame, const World& w) {
  rdma::RocePacket p;
  if (rdma::ParseRoce(frame, &p, {.verify_icrc = false}) != rdma::RoceParseError::kOk) return;
  size_t at = 0;
  if (p.reth_offset != 0) {
    at = p.reth_offset + offsetof(net::Reth, rkey);
  } else if (p.atomic_eth_offset != 0) {
    at = p.atomic_eth_offset + offsetof(net::AtomicEth, rkey);
  } else {
    return;
  }
  const uint32_t rkey = uint32_t{frame[at]} << 24 | uint32_t{frame[at + 1]} << 16 |
                        uint32_t{frame[at + 2]} << 8 | frame[at + 3];
  if (rkey >= 256) return;
  const uint32_t real = w.regions[rkey % kRegionCount].rkey;
  frame[at] = static_cast<uint8_t>(real >> 24);
  frame[at + 1] = static_cast<uint8_t>(real >> 16);
  frame[at + 2] = static_cast<uint8_t>(real >> 8);
  frame[at + 3] = static_cast<uint8_t>(real);
}

std::vector<uint8_t> Snapshot(const GuardedAllocator::Block& b) {
  return {b.raw, b.raw + b.bytes + 2 * kGuard};
}

uint64_t Applied(const rdma::SoftRnic& rnic, uint32_t qpn) {
  const rdma::RcResponderQp* qp = rnic.qp(qpn);
  return qp->count(rdma::ResponderEvent::kWritePackets) +
         qp->count(rdma::ResponderEvent::kFetchAdds) +
         qp->count(rdma::ResponderEvent::kCompareSwaps);
}

}  // namespace

// The EAL and the regions before the first input: set up inside it, the
// EAL's start counted against that input's timeout, and on a loaded machine
// took longer than libFuzzer's 25 s (a "timeout" on the empty input).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = TheWorld();
  if (size < 1) return 0;
  const bool raw_icrc = data[0] & 1;
  // Each input starts from zeroed regions and fresh queue pairs, so that a
  // crash reproduces from its input alone.
  for (const rdma::MemoryRegion& r : w.regions) std::memset(r.base, 0, r.length);
  rdma::SoftRnic rnic(*w.table, w.pool);
  FUZZ_CHECK(rnic.AddQp(QpConfig(0x11, 1024)).ok());
  FUZZ_CHECK(rnic.AddQp(QpConfig(0x12, 256)).ok());
  const unsigned pool_free = rte_mempool_avail_count(w.pool);
  std::vector<rte_mbuf*> out(rnic.max_answer_packets());

  Chunks chunks(data + 1, size - 1);
  while (auto chunk = chunks.Next()) {
    std::vector<uint8_t> frame(chunk->begin(), chunk->end());
    if (frame.size() > 9216) continue;
    FixRkey(frame, w);
    if (!raw_icrc) (void)rdma::WriteIcrc(frame);

    std::vector<std::vector<uint8_t>> before;
    for (const auto& b : GuardedAllocator::blocks()) before.push_back(Snapshot(b));
    const uint64_t applied_before = Applied(rnic, 0x11) + Applied(rnic, 0x12);

    rte_mbuf* m = rte_pktmbuf_alloc(w.pool);
    FUZZ_CHECK(m != nullptr);
    char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    FUZZ_CHECK(dst != nullptr || frame.empty());
    if (!frame.empty()) std::memcpy(dst, frame.data(), frame.size());
    const uint16_t n = rnic.Process(m, out.data(), static_cast<uint16_t>(out.size()));
    FUZZ_CHECK(n <= out.size());

    const bool applied = Applied(rnic, 0x11) + Applied(rnic, 0x12) != applied_before;
    const auto& blocks = GuardedAllocator::blocks();
    for (size_t i = 0; i < blocks.size(); ++i) {
      const std::vector<uint8_t> after = Snapshot(blocks[i]);
      const size_t bytes = blocks[i].bytes;
      for (size_t g = 0; g < kGuard; ++g) {
        FUZZ_CHECK(after[g] == kGuardByte);
        FUZZ_CHECK(after[kGuard + bytes + g] == kGuardByte);
      }
      if (after != before[i]) {
        FUZZ_CHECK(applied);
        FUZZ_CHECK((kRegions[i].access & ~rdma::kAccessRemoteRead) != 0);
      }
    }
    for (uint16_t i = 0; i < n; ++i) {
      rdma::RocePacket p;
      FUZZ_CHECK(rdma::ParseRoce(out[i], &p) == rdma::RoceParseError::kOk);
      rte_pktmbuf_free(out[i]);
    }
    FUZZ_CHECK(rte_mempool_avail_count(w.pool) == pool_free);
    if (std::getenv("FUZZ_VERBOSE") != nullptr) {  // to see what a seed reaches
      std::fprintf(stderr,
                   "frame %zu bytes: %u answers, applied %d, unknown qpn %lu, "
                   "wrong peer %lu, parse ok %lu\n",
                   frame.size(), n, applied, rnic.drops(rdma::SoftRnicDrop::kUnknownQpn),
                   rnic.drops(rdma::SoftRnicDrop::kWrongPeer),
                   rnic.parse_drops()[rdma::RoceParseError::kOk]);
    }
  }
  return 0;
}
