// The RC responder against what IBA vol. 1 §9.7.5 says a responder does,
// with memory compared byte for byte against a shadow copy that the test
// keeps itself: refused requests must leave memory untouched, and under
// loss with go-back-N retries every WRITE and FETCH_ADD lands exactly once.
#include "softfino/rdma/rc_responder.h"

#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::rdma {
namespace {

using net::NakCode;
using net::NakSyndrome;
using net::RcOpcode;
using Kind = RcResponse::Kind;

constexpr uint32_t kMtu = 256;
constexpr uint64_t kRegionBytes = 64 * 1024;

class RcResponderTest : public testing::Test {
 protected:
  void SetUp() override {
    auto region = memory_.Register("test", kRegionBytes);
    ASSERT_TRUE(region.ok()) << region.status();
    region_ = *region;
    shadow_.assign(kRegionBytes, 0);
  }

  RcRequest WriteReq(RcOpcode op, uint32_t psn, uint64_t offset, uint32_t dma_len,
                     const std::vector<uint8_t>& payload, bool ack_req = true) {
    RcRequest r;
    r.opcode = op;
    r.psn = psn;
    r.ack_req = ack_req;
    r.vaddr = region_.iova + offset;
    r.rkey = region_.rkey;
    r.dma_length = dma_len;
    r.payload = payload.data();
    r.payload_len = static_cast<uint32_t>(payload.size());
    return r;
  }
  RcRequest AtomicReq(RcOpcode op, uint32_t psn, uint64_t offset, uint64_t swap_add,
                      uint64_t compare = 0) {
    RcRequest r;
    r.opcode = op;
    r.psn = psn;
    r.ack_req = true;
    r.vaddr = region_.iova + offset;
    r.rkey = region_.rkey;
    r.swap_add = swap_add;
    r.compare = compare;
    return r;
  }
  RcRequest ReadReq(uint32_t psn, uint64_t offset, uint32_t len) {
    RcRequest r;
    r.opcode = RcOpcode::kReadRequest;
    r.psn = psn;
    r.vaddr = region_.iova + offset;
    r.rkey = region_.rkey;
    r.dma_length = len;
    return r;
  }
  bool MemoryMatchesShadow() const {
    return std::memcmp(region_.base, shadow_.data(), kRegionBytes) == 0;
  }
  uint64_t Load64(uint64_t offset) const {
    uint64_t v;
    std::memcpy(&v, region_.base + offset, 8);
    return v;
  }

  MemoryRegionTable memory_{MakePageAllocator()};
  MemoryRegion region_;
  std::vector<uint8_t> shadow_;
};

std::vector<uint8_t> Bytes(uint32_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST_F(RcResponderTest, WriteOnlyLandsAndIsAcked) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 100, .mtu = kMtu});
  const auto data = Bytes(8, 1);
  const RcResponse resp = qp.Handle(WriteReq(RcOpcode::kWriteOnly, 100, 64, 8, data));
  EXPECT_EQ(resp.kind, Kind::kAck);
  EXPECT_EQ(resp.psn, 100u);
  EXPECT_EQ(resp.msn, 1u);
  EXPECT_EQ(resp.syndrome >> 5, 0);  // ACK
  std::memcpy(&shadow_[64], data.data(), 8);
  EXPECT_TRUE(MemoryMatchesShadow());
  EXPECT_EQ(qp.expected_psn(), 101u);
}

TEST_F(RcResponderTest, AcksAreCoalescedWithoutAckReq) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 0, .mtu = kMtu, .ack_every = 4});
  const auto data = Bytes(8, 1);
  int acks = 0;
  for (uint32_t psn = 0; psn < 12; ++psn) {
    const RcResponse resp =
        qp.Handle(WriteReq(RcOpcode::kWriteOnly, psn, 8 * psn, 8, data, /*ack_req=*/false));
    if (resp.kind == Kind::kAck) {
      ++acks;
      EXPECT_EQ(psn % 4, 3u) << "ACK after every 4th packet";
      EXPECT_EQ(resp.psn, psn);
    }
  }
  EXPECT_EQ(acks, 3);
}

TEST_F(RcResponderTest, MultiPacketWriteLandsWhole) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 7, .mtu = kMtu});
  const auto data = Bytes(kMtu * 2 + 100, 3);
  const std::vector<uint8_t> p1(data.begin(), data.begin() + kMtu);
  const std::vector<uint8_t> p2(data.begin() + kMtu, data.begin() + 2 * kMtu);
  const std::vector<uint8_t> p3(data.begin() + 2 * kMtu, data.end());
  const uint32_t len = static_cast<uint32_t>(data.size());
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteFirst, 7, 1000, len, p1, false)).kind, Kind::kNone);
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteMiddle, 8, 0, 0, p2, false)).kind, Kind::kNone);
  const RcResponse last = qp.Handle(WriteReq(RcOpcode::kWriteLast, 9, 0, 0, p3, true));
  EXPECT_EQ(last.kind, Kind::kAck);
  EXPECT_EQ(last.msn, 1u);
  std::memcpy(&shadow_[1000], data.data(), data.size());
  EXPECT_TRUE(MemoryMatchesShadow());
  EXPECT_EQ(qp.count(ResponderEvent::kWriteMessages), 1u);
  EXPECT_EQ(qp.count(ResponderEvent::kWritePackets), 3u);
}

TEST_F(RcResponderTest, GapIsNakedOnceAndNothingApplied) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 10, .mtu = kMtu});
  const auto data = Bytes(8, 9);
  RcResponse resp = qp.Handle(WriteReq(RcOpcode::kWriteOnly, 12, 0, 8, data));
  EXPECT_EQ(resp.kind, Kind::kNak);
  EXPECT_EQ(resp.syndrome, NakSyndrome(NakCode::kPsnSequenceError));
  EXPECT_EQ(resp.psn, 10u) << "a sequence NAK names the expected PSN";
  resp = qp.Handle(WriteReq(RcOpcode::kWriteOnly, 13, 8, 8, data));
  EXPECT_EQ(resp.kind, Kind::kNone) << "one NAK per gap";
  EXPECT_TRUE(MemoryMatchesShadow());
  EXPECT_EQ(qp.count(ResponderEvent::kSequenceGaps), 1u);
  EXPECT_EQ(qp.count(ResponderEvent::kGapDrops), 1u);
  // The retry from the expected PSN is applied.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 10, 16, 8, data)).kind, Kind::kAck);
  std::memcpy(&shadow_[16], data.data(), 8);
  EXPECT_TRUE(MemoryMatchesShadow());
  // A later gap gets its own NAK.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 20, 0, 8, data)).kind, Kind::kNak);
}

TEST_F(RcResponderTest, DuplicateWriteIsReackedNotReapplied) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 0, .mtu = kMtu});
  const auto first = Bytes(8, 1), retry = Bytes(8, 100);
  ASSERT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0, 0, 8, first)).kind, Kind::kAck);
  ASSERT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 1, 8, 8, first)).kind, Kind::kAck);
  const RcResponse resp = qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0, 0, 8, retry));
  EXPECT_EQ(resp.kind, Kind::kAck);
  EXPECT_EQ(resp.psn, 1u) << "re-ACK up to the newest PSN";
  std::memcpy(&shadow_[0], first.data(), 8);
  std::memcpy(&shadow_[8], first.data(), 8);
  EXPECT_TRUE(MemoryMatchesShadow());
  EXPECT_EQ(qp.count(ResponderEvent::kDuplicates), 1u);
}

TEST_F(RcResponderTest, AccessErrorsAreNakedAndChangeNothing) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 0, .mtu = kMtu});
  const auto data = Bytes(16, 1);
  RcRequest bad_rkey = WriteReq(RcOpcode::kWriteOnly, 0, 0, 16, data);
  bad_rkey.rkey ^= 0x100;
  RcRequest out_of_bounds = WriteReq(RcOpcode::kWriteOnly, 0, kRegionBytes - 8, 16, data);
  RcRequest below = WriteReq(RcOpcode::kWriteOnly, 0, 0, 16, data);
  below.vaddr = region_.iova - 8;
  const auto remote_access = NakSyndrome(NakCode::kRemoteAccessError);
  for (const RcRequest& r : {bad_rkey, out_of_bounds, below}) {
    const RcResponse resp = qp.Handle(r);
    EXPECT_EQ(resp.kind, Kind::kNak);
    EXPECT_EQ(resp.syndrome, remote_access);
    EXPECT_EQ(resp.psn, 0u);
  }
  RcRequest misaligned = AtomicReq(RcOpcode::kFetchAdd, 0, 4, 1);
  RcResponse resp = qp.Handle(misaligned);
  EXPECT_EQ(resp.kind, Kind::kNak);
  EXPECT_EQ(resp.syndrome, NakSyndrome(NakCode::kInvalidRequest));
  EXPECT_TRUE(MemoryMatchesShadow());
  EXPECT_EQ(qp.expected_psn(), 0u) << "the refused PSN stays expected";
  EXPECT_EQ(qp.count(ResponderEvent::kUnknownRkey), 1u);
  EXPECT_EQ(qp.count(ResponderEvent::kOutOfBounds), 2u);
  EXPECT_EQ(qp.count(ResponderEvent::kMisalignedAtomic), 1u);
}

TEST_F(RcResponderTest, ReadOnlyRegionRefusesWritesAndAtomics) {
  RegionOptions ro;
  ro.access = kAccessRemoteRead;
  auto region = memory_.Register("ro", 4096, ro);
  ASSERT_TRUE(region.ok());
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 0, .mtu = kMtu});
  const auto data = Bytes(8, 1);
  RcRequest w = WriteReq(RcOpcode::kWriteOnly, 0, 0, 8, data);
  w.rkey = region->rkey;
  w.vaddr = region->iova;
  EXPECT_EQ(qp.Handle(w).syndrome, NakSyndrome(NakCode::kRemoteAccessError));
  EXPECT_EQ(qp.count(ResponderEvent::kAccessDenied), 1u);
  for (uint32_t i = 0; i < 4096; ++i) ASSERT_EQ(region->base[i], 0);
}

TEST_F(RcResponderTest, BadLengthsAndOpcodeSequencesAreInvalidRequests) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 0, .mtu = kMtu});
  const auto invalid = NakSyndrome(NakCode::kInvalidRequest);
  // WRITE Only whose payload differs from its DMA length.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0, 0, 16, Bytes(8, 1))).syndrome, invalid);
  // WRITE Only larger than the MTU.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0, 0, kMtu + 4, Bytes(kMtu + 4, 1))).syndrome,
            invalid);
  // A continuation with no WRITE begun.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteMiddle, 0, 0, 0, Bytes(kMtu, 1))).syndrome,
            invalid);
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteLast, 0, 0, 0, Bytes(8, 1))).syndrome, invalid);
  // A First shorter than the MTU.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteFirst, 0, 0, 1000, Bytes(100, 1))).syndrome,
            invalid);
  // SEND: no receive queue.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kSendOnly, 0, 0, 0, Bytes(8, 1))).syndrome, invalid);
  EXPECT_TRUE(MemoryMatchesShadow());
  EXPECT_EQ(qp.count(ResponderEvent::kBadLength), 3u);
  EXPECT_EQ(qp.count(ResponderEvent::kBadOpcodeSequence), 2u);
  EXPECT_EQ(qp.count(ResponderEvent::kUnsupportedOpcode), 1u);
  // A new message in the middle of a WRITE.
  ASSERT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteFirst, 0, 0, 1000, Bytes(kMtu, 1), false)).kind,
            Kind::kNone);
  EXPECT_EQ(qp.Handle(AtomicReq(RcOpcode::kFetchAdd, 1, 0, 1)).syndrome, invalid);
  // Responses sent to a responder are dropped, not answered.
  RcRequest ack;
  ack.opcode = RcOpcode::kAcknowledge;
  EXPECT_EQ(qp.Handle(ack).kind, Kind::kNone);
  EXPECT_EQ(qp.count(ResponderEvent::kNotARequest), 1u);
}

TEST_F(RcResponderTest, FetchAddAndCompareSwap) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 0, .mtu = kMtu});
  RcResponse r = qp.Handle(AtomicReq(RcOpcode::kFetchAdd, 0, 8, 5));
  EXPECT_EQ(r.kind, Kind::kAtomicAck);
  EXPECT_EQ(r.original, 0u);
  r = qp.Handle(AtomicReq(RcOpcode::kFetchAdd, 1, 8, 7));
  EXPECT_EQ(r.original, 5u);
  EXPECT_EQ(Load64(8), 12u);
  // Duplicate of PSN 1: the saved result, and no second add.
  r = qp.Handle(AtomicReq(RcOpcode::kFetchAdd, 1, 8, 7));
  EXPECT_EQ(r.kind, Kind::kAtomicAck);
  EXPECT_EQ(r.original, 5u);
  EXPECT_EQ(Load64(8), 12u);
  EXPECT_EQ(qp.count(ResponderEvent::kDuplicateAtomics), 1u);
  // CMP_SWAP that fails returns the value found and changes nothing.
  r = qp.Handle(AtomicReq(RcOpcode::kCompareSwap, 2, 8, 99, /*compare=*/11));
  EXPECT_EQ(r.original, 12u);
  EXPECT_EQ(Load64(8), 12u);
  r = qp.Handle(AtomicReq(RcOpcode::kCompareSwap, 3, 8, 99, /*compare=*/12));
  EXPECT_EQ(r.original, 12u);
  EXPECT_EQ(Load64(8), 99u);
  EXPECT_EQ(r.msn, 4u);
}

TEST_F(RcResponderTest, ReadConsumesOnePsnPerResponsePacket) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 50, .mtu = kMtu});
  for (uint32_t i = 0; i < 1000; ++i) region_.base[2000 + i] = static_cast<uint8_t>(i);
  RcResponse r = qp.Handle(ReadReq(50, 2000, 1000));
  ASSERT_EQ(r.kind, Kind::kReadResponse);
  EXPECT_EQ(r.psn, 50u);
  EXPECT_EQ(r.read_data, region_.base + 2000);
  EXPECT_EQ(r.read_len, 1000u);
  EXPECT_EQ(qp.expected_psn(), 54u) << "1000 bytes at MTU 256: 4 response packets";
  // A zero-length READ still takes one PSN and checks no rkey.
  RcRequest zero = ReadReq(54, 0, 0);
  zero.rkey = 0;
  r = qp.Handle(zero);
  EXPECT_EQ(r.kind, Kind::kReadResponse);
  EXPECT_EQ(qp.expected_psn(), 55u);
  // A duplicate READ (the retry of a lost response) is executed again.
  r = qp.Handle(ReadReq(52, 2512, 488));
  EXPECT_EQ(r.kind, Kind::kReadResponse);
  EXPECT_EQ(r.psn, 52u);
  EXPECT_EQ(r.read_data, region_.base + 2512);
  EXPECT_EQ(qp.expected_psn(), 55u);
  // Larger than max_read_bytes (64 KiB by default): refused.
  r = qp.Handle(ReadReq(55, 0, 64 * 1024 + 1));
  EXPECT_EQ(r.kind, Kind::kNak);
  EXPECT_EQ(r.syndrome, NakSyndrome(NakCode::kInvalidRequest));
  EXPECT_EQ(qp.count(ResponderEvent::kBadLength), 1u);
}

TEST_F(RcResponderTest, PsnWrapsAt24Bits) {
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 0xfffffe, .mtu = kMtu});
  const auto data = Bytes(8, 1);
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0xfffffe, 0, 8, data)).kind, Kind::kAck);
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0xffffff, 8, 8, data)).kind, Kind::kAck);
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0, 16, 8, data)).kind, Kind::kAck);
  EXPECT_EQ(qp.expected_psn(), 1u);
  // 0xffffff is now behind: a duplicate.
  EXPECT_EQ(qp.Handle(WriteReq(RcOpcode::kWriteOnly, 0xffffff, 8, 8, Bytes(8, 50))).kind,
            Kind::kAck);
  EXPECT_EQ(qp.count(ResponderEvent::kDuplicates), 1u);
  EXPECT_EQ(Load64(8), Load64(0));
}

// A go-back-N requester over a lossy link (both directions): every WRITE and
// FETCH_ADD must land exactly once, whatever is lost.
TEST_F(RcResponderTest, EveryRequestLandsExactlyOnceUnderLoss) {
  std::mt19937 rng(7);
  RcResponderQp qp(memory_, {.qpn = 5, .expected_psn = 1000, .mtu = kMtu, .ack_every = 0});
  struct Op {
    bool atomic;
    uint64_t offset;
    uint64_t value;
  };
  std::vector<Op> ops;
  uint64_t expected_counter = 0;
  for (int i = 0; i < 2000; ++i) {
    if (rng() % 3 == 0) {
      const uint64_t add = rng() % 1000;
      ops.push_back({true, 0, add});
      expected_counter += add;
    } else {
      ops.push_back({false, 8 + 8 * static_cast<uint64_t>(i), rng()});
    }
  }
  std::bernoulli_distribution lose(0.1);
  size_t acked = 0;  // ops[0 .. acked) are acknowledged
  uint32_t rounds = 0;
  while (acked < ops.size() && ++rounds < 100000) {
    // Send a window of up to 8 from the oldest unacknowledged op.
    size_t next_acked = acked;
    for (size_t i = acked; i < std::min(ops.size(), acked + 8); ++i) {
      const uint32_t psn = (1000 + static_cast<uint32_t>(i)) & net::kPsnMask;
      RcRequest r;
      std::vector<uint8_t> bytes(8);
      if (ops[i].atomic) {
        r = AtomicReq(RcOpcode::kFetchAdd, psn, ops[i].offset, ops[i].value);
      } else {
        std::memcpy(bytes.data(), &ops[i].value, 8);
        r = WriteReq(RcOpcode::kWriteOnly, psn, ops[i].offset, 8, bytes, /*ack_req=*/true);
      }
      if (lose(rng)) continue;  // request lost
      const RcResponse resp = qp.Handle(r);
      if (resp.kind == Kind::kNone || lose(rng)) continue;  // response lost
      if (resp.kind == Kind::kNak) break;                    // go back to the NAKed PSN
      // An ACK or atomic ACK acknowledges everything up to its PSN.
      const size_t upto = (resp.psn - 1000) & net::kPsnMask;
      next_acked = std::max(next_acked, upto + 1);
    }
    acked = next_acked;
  }
  ASSERT_EQ(acked, ops.size());
  EXPECT_EQ(Load64(0), expected_counter);
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!ops[i].atomic) std::memcpy(&shadow_[ops[i].offset], &ops[i].value, 8);
  }
  std::memcpy(&shadow_[0], &expected_counter, 8);
  EXPECT_TRUE(MemoryMatchesShadow());
  EXPECT_GT(qp.count(ResponderEvent::kDuplicates), 0u);
  EXPECT_GT(qp.count(ResponderEvent::kSequenceGaps), 0u);
}

}  // namespace
}  // namespace softfino::rdma
