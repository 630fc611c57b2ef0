// The soft RNIC on real frames: requests built as a requester would send
// them, answers parsed back. The wire format itself is checked against
// tshark and scapy in test/rdma; the responder's rules in
// rc_responder_test. Here: that frames reach the right QP, that refused
// frames (bad ICRC, truncated, unknown QP, a stranger) change no memory,
// and that answers carry what the responder decided.
#include "softfino/rdma/soft_rnic.h"

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace softfino::rdma {
namespace {

using net::RcOpcode;

constexpr uint32_t kRnicQpn = 0x11, kRequesterQpn = 0x22;
constexpr uint32_t kRequesterIp = 0x0a000001, kCollectorIp = 0x0a000002;

class SoftRnicTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    pool_ = rte_pktmbuf_pool_create("soft_rnic_test", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  static void TearDownTestSuite() { rte_mempool_free(pool_); }

  void SetUp() override {
    auto region = memory_.Register("test", 1 << 16);
    ASSERT_TRUE(region.ok()) << region.status();
    region_ = *region;
    Endpoint requester_side;  // requester -> collector
    requester_side.src_mac = net::MacAddress{2, 0, 0, 0, 0, 1};
    requester_side.dst_mac = net::MacAddress{2, 0, 0, 0, 0, 2};
    requester_side.src_ip = kRequesterIp;
    requester_side.dst_ip = kCollectorIp;
    Endpoint collector_side = requester_side;  // collector -> requester
    std::swap(collector_side.src_mac, collector_side.dst_mac);
    std::swap(collector_side.src_ip, collector_side.dst_ip);
    auto req = RoceBuilder::Create(requester_side, kRnicQpn);
    ASSERT_TRUE(req.ok()) << req.status();
    requester_.emplace(*req);
    SoftRnicQpConfig qp;
    qp.responder = {.qpn = kRnicQpn, .expected_psn = 500, .mtu = 256};
    qp.to_requester = collector_side;
    qp.requester_qpn = kRequesterQpn;
    ASSERT_TRUE(rnic_.AddQp(qp).ok());
  }

  rte_mbuf* NewMbuf() {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    EXPECT_NE(m, nullptr);
    return m;
  }
  // Runs one frame through the RNIC; returns the parsed answers.
  std::vector<RocePacket> Feed(rte_mbuf* m) {
    const uint16_t n = rnic_.Process(m, out_, 64);
    std::vector<RocePacket> answers;
    for (uint16_t i = 0; i < n; ++i) {
      RocePacket p;
      EXPECT_EQ(ParseRoce(out_[i], &p), RoceParseError::kOk);
      answers.push_back(p);
    }
    return answers;
  }
  void FreeAnswers(size_t n) { rte_pktmbuf_free_bulk(out_, static_cast<unsigned>(n)); }
  RemoteBuffer At(uint64_t offset) const { return {region_.iova + offset, region_.rkey}; }
  bool RegionIsZero() const {
    for (uint64_t i = 0; i < region_.length; ++i) {
      if (region_.base[i] != 0) return false;
    }
    return true;
  }

  static rte_mempool* pool_;
  MemoryRegionTable memory_{MakePageAllocator()};
  MemoryRegion region_;
  SoftRnic rnic_{memory_, pool_};
  std::optional<RoceBuilder> requester_;
  rte_mbuf* out_[64];
};
rte_mempool* SoftRnicTest::pool_ = nullptr;

TEST_F(SoftRnicTest, WriteLandsAndTheAckGoesBackToTheRequester) {
  const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  rte_mbuf* m = NewMbuf();
  ASSERT_EQ(requester_->WriteOnly(m, 500, true, At(40), data), BuildStatus::kOk);
  auto answers = Feed(m);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].opcode(), RcOpcode::kAcknowledge);
  EXPECT_EQ(answers[0].bth().qpn(), kRequesterQpn);
  EXPECT_EQ(answers[0].bth().psn_value(), 500u);
  EXPECT_EQ(answers[0].dst_ip(), kRequesterIp);
  EXPECT_EQ(answers[0].src_ip(), kCollectorIp);
  EXPECT_EQ(std::memcmp(region_.base + 40, data, 8), 0);
  FreeAnswers(answers.size());
}

TEST_F(SoftRnicTest, RefusedFramesChangeNoMemory) {
  const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  // Bad ICRC: one payload bit flipped after the ICRC was computed.
  rte_mbuf* m = NewMbuf();
  ASSERT_EQ(requester_->WriteOnly(m, 500, true, At(0), data), BuildStatus::kOk);
  rte_pktmbuf_mtod_offset(m, uint8_t*, m->data_len - 6)[0] ^= 1;
  EXPECT_TRUE(Feed(m).empty());
  EXPECT_EQ(rnic_.parse_drops()[RoceParseError::kBadIcrc], 1u);
  // Truncated: the ICRC cut off.
  m = NewMbuf();
  ASSERT_EQ(requester_->WriteOnly(m, 500, true, At(0), data), BuildStatus::kOk);
  rte_pktmbuf_trim(m, 4);
  EXPECT_TRUE(Feed(m).empty());
  // Unknown QPN.
  auto other = RoceBuilder::Create(requester_->endpoint(), kRnicQpn + 1);
  ASSERT_TRUE(other.ok());
  m = NewMbuf();
  ASSERT_EQ(other->WriteOnly(m, 500, true, At(0), data), BuildStatus::kOk);
  EXPECT_TRUE(Feed(m).empty());
  EXPECT_EQ(rnic_.drops(SoftRnicDrop::kUnknownQpn), 1u);
  // A stranger who knows the QPN, PSN and rkey.
  Endpoint stranger = requester_->endpoint();
  stranger.src_ip = 0x0a0000ff;
  auto spoof = RoceBuilder::Create(stranger, kRnicQpn);
  ASSERT_TRUE(spoof.ok());
  m = NewMbuf();
  ASSERT_EQ(spoof->WriteOnly(m, 500, true, At(0), data), BuildStatus::kOk);
  EXPECT_TRUE(Feed(m).empty());
  EXPECT_EQ(rnic_.drops(SoftRnicDrop::kWrongPeer), 1u);
  // Wrong rkey: a NAK, and nothing written.
  m = NewMbuf();
  ASSERT_EQ(requester_->WriteOnly(m, 500, true, {region_.iova, region_.rkey + 1}, data),
            BuildStatus::kOk);
  auto answers = Feed(m);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].aeth()->syndrome, net::NakSyndrome(net::NakCode::kRemoteAccessError));
  FreeAnswers(1);
  EXPECT_TRUE(RegionIsZero());
  EXPECT_EQ(rnic_.qp(kRnicQpn)->expected_psn(), 500u);
}

TEST_F(SoftRnicTest, ReadIsAnsweredInMtuSizedResponses) {
  for (uint32_t i = 0; i < 700; ++i) region_.base[1000 + i] = static_cast<uint8_t>(i * 13);
  rte_mbuf* m = NewMbuf();
  ASSERT_EQ(requester_->ReadRequest(m, 500, At(1000), 700), BuildStatus::kOk);
  auto answers = Feed(m);
  ASSERT_EQ(answers.size(), 3u);  // 256 + 256 + 188
  const RcOpcode expected[] = {RcOpcode::kReadResponseFirst, RcOpcode::kReadResponseMiddle,
                               RcOpcode::kReadResponseLast};
  std::vector<uint8_t> got;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(answers[i].opcode(), expected[i]);
    EXPECT_EQ(answers[i].bth().psn_value(), 500 + i);
    const auto payload = answers[i].payload();
    got.insert(got.end(), payload.begin(), payload.end());
  }
  EXPECT_EQ(answers[2].aeth()->msn_value(), 1u);
  ASSERT_EQ(got.size(), 700u);
  EXPECT_EQ(std::memcmp(got.data(), region_.base + 1000, 700), 0);
  FreeAnswers(3);
  EXPECT_EQ(rnic_.qp(kRnicQpn)->expected_psn(), 503u);
}

TEST_F(SoftRnicTest, FetchAddAnswersTheOriginalValue) {
  uint64_t v = 40;
  std::memcpy(region_.base + 64, &v, 8);
  rte_mbuf* m = NewMbuf();
  ASSERT_EQ(requester_->FetchAdd(m, 500, At(64), 2), BuildStatus::kOk);
  auto answers = Feed(m);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].opcode(), RcOpcode::kAtomicAcknowledge);
  EXPECT_EQ(rte_be_to_cpu_64(answers[0].atomic_ack_eth()->original), 40u);
  std::memcpy(&v, region_.base + 64, 8);
  EXPECT_EQ(v, 42u);
  FreeAnswers(1);
}

TEST_F(SoftRnicTest, AnswersThatDoNotFitAreCountedNotHalfSent) {
  rte_mbuf* m = NewMbuf();
  ASSERT_EQ(requester_->ReadRequest(m, 500, At(0), 1024), BuildStatus::kOk);
  EXPECT_EQ(rnic_.Process(m, out_, 2), 0);  // 4 responses needed
  EXPECT_EQ(rnic_.drops(SoftRnicDrop::kNoRoom), 1u);
}

TEST_F(SoftRnicTest, QpsAreCheckedWhenAdded) {
  SoftRnicQpConfig qp;
  qp.responder = {.qpn = kRnicQpn, .expected_psn = 0, .mtu = 256};
  qp.to_requester = requester_->endpoint();
  EXPECT_EQ(rnic_.AddQp(qp).code(), absl::StatusCode::kAlreadyExists);
  qp.responder.qpn = 0x1000000;
  EXPECT_FALSE(rnic_.AddQp(qp).ok());
  qp.responder.qpn = 7;
  qp.responder.mtu = 1000;
  const absl::Status s = rnic_.AddQp(qp);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("4096"), std::string::npos) << s;
}

}  // namespace
}  // namespace softfino::rdma
