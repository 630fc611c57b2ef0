// The collector's memory hosting: regions and their per-packet checks, the
// queue-pair parameters and their JSON, the TCP handshake between a polled
// server and the blocking client, and the verbs backend's parameter logic
// against a fake device (plus the real device list, empty on CI machines).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "softfino/rdma/handshake.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/rdma/qp_params.h"
#include "softfino/rdma/verbs_backend.h"

namespace softfino::rdma {
namespace {

using nlohmann::json;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Return;

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kMax32 = std::numeric_limits<uint32_t>::max();

MemoryRegion MustRegister(MemoryRegionTable& table, absl::string_view name, uint64_t length,
                          RegionOptions options = {}) {
  absl::StatusOr<MemoryRegion> r = table.Register(name, length, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : MemoryRegion{};
}

// ------------------------------------------------------------ memory regions

TEST(MemoryRegionTest, RegionsAreZeroedAlignedAndDescribed) {
  for (bool dpdk : {false, true}) {  // EAL is up in this binary (eal_main.cpp)
    MemoryRegionTable table(dpdk ? MakeDpdkAllocator(-1 /* SOCKET_ID_ANY */) : MakePageAllocator());
    const MemoryRegion r = MustRegister(table, "dta.keywrite", 3 * 4096 + 5);
    ASSERT_NE(r.base, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(r.base) % 64, 0u) << table.allocator().name();
    EXPECT_EQ(r.iova, reinterpret_cast<uintptr_t>(r.base));  // as ibv_reg_mr would
    EXPECT_EQ(r.length, 3 * 4096u + 5);
    EXPECT_EQ(r.access, kAccessAllRemote);
    EXPECT_NE(r.rkey, 0u);
    for (uint64_t i = 0; i < r.length; ++i) ASSERT_EQ(r.base[i], 0) << i;
    r.base[r.length - 1] = 0xab;  // all of it is ours to write

    const absl::StatusOr<MemoryRegion> found = table.Find("dta.keywrite");
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->rkey, r.rkey);
    EXPECT_EQ(found->base, r.base);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_TRUE(table.Deregister("dta.keywrite").ok());
    EXPECT_EQ(table.size(), 0u);
  }
}

TEST(MemoryRegionTest, RkeysAreUniqueNonZeroAndSlotsRunOut) {
  MemoryRegionTable table(MakePageAllocator());
  std::set<uint32_t> rkeys;
  for (uint32_t i = 0; i < MemoryRegionTable::kMaxRegions; ++i) {
    const MemoryRegion r = MustRegister(table, absl::StrCat("r", i), 64);
    EXPECT_NE(r.rkey, 0u);
    EXPECT_NE(r.rkey >> MemoryRegionTable::kSlotBits, 0u);  // the random part is never empty
    rkeys.insert(r.rkey);
  }
  EXPECT_EQ(rkeys.size(), MemoryRegionTable::kMaxRegions);
  const absl::StatusOr<MemoryRegion> full = table.Register("one.more", 64);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("deregister one first"));
  // Names() lists them sorted.
  EXPECT_THAT(table.Names(), HasSubstr("r0, r1, r10, r11"));
}

TEST(MemoryRegionTest, StaleRkeyIsRefusedAfterReRegistration) {
  MemoryRegionTable table(MakePageAllocator());
  uint32_t old_rkey = MustRegister(table, "tea.nat", 4096).rkey;
  for (int round = 0; round < 50; ++round) {
    ASSERT_TRUE(table.Deregister("tea.nat").ok());
    EXPECT_EQ(table.Resolve(old_rkey, 0, 0, 0).error, ResolveError::kUnknownRkey);
    const MemoryRegion r = MustRegister(table, "tea.nat", 4096);  // the same slot again
    EXPECT_NE(r.rkey, old_rkey);
    EXPECT_EQ(table.Resolve(old_rkey, r.iova, 8, kAccessRemoteWrite).error,
              ResolveError::kUnknownRkey);
    EXPECT_TRUE(table.Resolve(r.rkey, r.iova, 8, kAccessRemoteWrite).ok());
    old_rkey = r.rkey;
  }
}

TEST(MemoryRegionTest, RegisterRefusesWhatCannotWork) {
  MemoryRegionTable table(MakePageAllocator());
  MustRegister(table, "dta.append", 64);
  const auto message = [&](absl::string_view name, uint64_t length, RegionOptions o = {}) {
    return std::string(table.Register(name, length, o).status().message());
  };
  EXPECT_THAT(message("", 64), HasSubstr("region name '' is not valid"));
  EXPECT_THAT(message("has space", 64), HasSubstr("is not valid"));
  EXPECT_THAT(message(std::string(65, 'a'), 64), HasSubstr("1 to 64"));
  EXPECT_THAT(message("dta.append", 64), HasSubstr("already registered"));
  EXPECT_THAT(message("x", 0), HasSubstr("has length 0"));
  EXPECT_THAT(message("x", 64, {.access = 0, .iova = std::nullopt}),
              HasSubstr("must grant some of"));
  EXPECT_THAT(message("x", 64, {.access = 0x100 | kAccessRemoteRead, .iova = std::nullopt}),
              HasSubstr("must grant"));
  EXPECT_THAT(message("x", 64, {.iova = 0x1008}), HasSubstr("not a multiple of 64"));
  EXPECT_THAT(message("x", 8192, {.iova = kMax64 - 4095}), HasSubstr("past 2^64"));
  EXPECT_THAT(message("x", kMax64), HasSubstr("cannot allocate"));
  EXPECT_EQ(table.Deregister("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(table.size(), 1u);
  // Exactly up to 2^64 is fine: the last byte is 2^64 - 1.
  EXPECT_TRUE(table.Register("top", 4096, {.iova = kMax64 - 4095}).ok());
}

TEST(MemoryRegionTest, FindNamesWhatThereIs) {
  MemoryRegionTable table(MakePageAllocator());
  EXPECT_EQ(table.Find("dta.keywrite").status().message(),
            "no region named dta.keywrite; it has none");
  MustRegister(table, "tea.nat", 64);
  MustRegister(table, "dta.append", 64);
  EXPECT_EQ(table.Find("dta.keywrite").status().message(),
            "no region named dta.keywrite; it has dta.append, tea.nat");
  EXPECT_EQ(table.List().front().name, "dta.append");
}

TEST(MemoryRegionTest, ResolveOnEveryEdge) {
  MemoryRegionTable table(MakePageAllocator());
  constexpr uint64_t kIova = 0x10000, kLen = 4096;
  const MemoryRegion r = MustRegister(table, "r", kLen, {.iova = kIova});
  const uint32_t w = kAccessRemoteWrite;
  const auto err = [&](uint64_t vaddr, uint32_t len) {
    return table.Resolve(r.rkey, vaddr, len, w).error;
  };
  using E = ResolveError;
  EXPECT_EQ(err(kIova - 1, 1), E::kOutOfBounds);  // just below
  EXPECT_EQ(err(kIova - 1, 0), E::kOutOfBounds);
  EXPECT_EQ(err(kIova - 1, 2), E::kOutOfBounds);  // straddles the start
  EXPECT_EQ(err(kIova, kLen), E::kNone);          // all of it
  EXPECT_EQ(err(kIova, kLen + 1), E::kOutOfBounds);
  EXPECT_EQ(err(kIova + kLen - 1, 1), E::kNone);         // the last byte
  EXPECT_EQ(err(kIova + kLen - 1, 2), E::kOutOfBounds);  // just above
  EXPECT_EQ(err(kIova + kLen, 1), E::kOutOfBounds);
  EXPECT_EQ(err(kIova, 0), E::kNone);         // len 0 at the start
  EXPECT_EQ(err(kIova + kLen, 0), E::kNone);  // len 0 at the end
  EXPECT_EQ(err(kIova + kLen + 1, 0), E::kOutOfBounds);
  EXPECT_EQ(err(kIova + 8, kMax32), E::kOutOfBounds);
  EXPECT_EQ(err(kMax64, 2), E::kOutOfBounds);  // vaddr + len wraps to 1
  EXPECT_EQ(err(kMax64 - 2, 8), E::kOutOfBounds);
  EXPECT_EQ(err(0, 0), E::kOutOfBounds);

  const Resolved ok = table.Resolve(r.rkey, kIova + 100, 8, w);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.data, r.base + 100);
  EXPECT_EQ(table.Resolve(r.rkey, kIova - 1, 1, w).data, nullptr);

  // A region that ends exactly at 2^64: vaddr + len would be 0 there.
  const MemoryRegion top = MustRegister(table, "top", kLen, {.iova = kMax64 - kLen + 1});
  const auto top_err = [&](uint64_t vaddr, uint32_t len) {
    return table.Resolve(top.rkey, vaddr, len, w).error;
  };
  EXPECT_EQ(top_err(kMax64 - 7, 8), E::kNone);
  EXPECT_EQ(top_err(kMax64 - 7, 9), E::kOutOfBounds);
  EXPECT_EQ(top_err(kMax64, 1), E::kNone);
  EXPECT_EQ(top_err(kMax64, 2), E::kOutOfBounds);
  EXPECT_EQ(top_err(kMax64 - kLen + 1, static_cast<uint32_t>(kLen)), E::kNone);
  EXPECT_EQ(top_err(kMax64 - kLen, 1), E::kOutOfBounds);
  EXPECT_EQ(top_err(0, 1), E::kOutOfBounds);
  EXPECT_EQ(table.Resolve(top.rkey, kMax64, 1, w).data, top.base + kLen - 1);
}

TEST(MemoryRegionTest, ResolveChecksAccessAndRkey) {
  MemoryRegionTable table(MakePageAllocator());
  const MemoryRegion wo =
      MustRegister(table, "write.only", 64, {.access = kAccessRemoteWrite, .iova = std::nullopt});
  const MemoryRegion ro =
      MustRegister(table, "read.only", 64, {.access = kAccessRemoteRead, .iova = std::nullopt});
  using E = ResolveError;
  EXPECT_EQ(table.Resolve(wo.rkey, wo.iova, 8, kAccessRemoteWrite).error, E::kNone);
  EXPECT_EQ(table.Resolve(wo.rkey, wo.iova, 8, kAccessRemoteRead).error, E::kAccessDenied);
  EXPECT_EQ(table.Resolve(wo.rkey, wo.iova, 8, kAccessRemoteAtomic).error, E::kAccessDenied);
  EXPECT_EQ(table.Resolve(wo.rkey, wo.iova, 8, kAccessRemoteWrite | kAccessRemoteRead).error,
            E::kAccessDenied);
  EXPECT_EQ(table.Resolve(ro.rkey, ro.iova, 8, kAccessRemoteRead).error, E::kNone);
  EXPECT_EQ(table.Resolve(ro.rkey, ro.iova, 8, kAccessRemoteWrite).error, E::kAccessDenied);
  // Access is judged before bounds: a denied write says so wherever it aims.
  EXPECT_EQ(table.Resolve(ro.rkey, 0, 8, kAccessRemoteWrite).error, E::kAccessDenied);

  EXPECT_EQ(table.Resolve(0, wo.iova, 8, kAccessRemoteWrite).error, E::kUnknownRkey);
  // Same slot, other random bits.
  EXPECT_EQ(table.Resolve(wo.rkey ^ 0x80000000u, wo.iova, 8, kAccessRemoteWrite).error,
            E::kUnknownRkey);
  // A slot nobody registered.
  EXPECT_EQ(table.Resolve(0xabcd0000u | 40, wo.iova, 8, kAccessRemoteWrite).error, E::kUnknownRkey);
  EXPECT_EQ(table.Resolve(wo.rkey, wo.iova, 8, kAccessRemoteWrite).data, wo.base);
}

TEST(MemoryRegionTest, AtomicsNeedAlignmentAndAtomicAccess) {
  MemoryRegionTable table(MakePageAllocator());
  const MemoryRegion r = MustRegister(table, "cms", 64);
  const MemoryRegion no_atomic = MustRegister(
      table, "plain", 64, {.access = kAccessRemoteWrite | kAccessRemoteRead, .iova = std::nullopt});
  EXPECT_TRUE(MemoryRegionTable::IsAtomicAligned(0x1000));
  EXPECT_FALSE(MemoryRegionTable::IsAtomicAligned(0x1004));
  EXPECT_EQ(table.ResolveAtomic(r.rkey, r.iova + 8).data, r.base + 8);
  EXPECT_EQ(table.ResolveAtomic(r.rkey, r.iova + 56).error, ResolveError::kNone);
  EXPECT_EQ(table.ResolveAtomic(r.rkey, r.iova + 60).error, ResolveError::kMisaligned);
  EXPECT_EQ(table.ResolveAtomic(r.rkey, r.iova + 1).error, ResolveError::kMisaligned);
  EXPECT_EQ(table.ResolveAtomic(r.rkey, r.iova + 64).error, ResolveError::kOutOfBounds);
  EXPECT_EQ(table.ResolveAtomic(no_atomic.rkey, no_atomic.iova).error, ResolveError::kAccessDenied);
  EXPECT_STREQ(ResolveErrorName(ResolveError::kMisaligned), "misaligned_atomic");
  EXPECT_STREQ(ResolveErrorName(ResolveError::kUnknownRkey), "unknown_rkey");
  EXPECT_EQ(AccessToString(kAccessRemoteWrite | kAccessRemoteAtomic), "remote_write|remote_atomic");
  EXPECT_EQ(AccessToString(0), "none");
}

// The fast path resolves while the control path registers more regions.
TEST(MemoryRegionTest, ResolveWhileRegistering) {
  MemoryRegionTable table(MakePageAllocator());
  const MemoryRegion r = MustRegister(table, "busy", 4096);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, done{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      const Resolved x = table.Resolve(r.rkey, r.iova + 64, 64, kAccessRemoteWrite);
      if (x.data != r.base + 64) bad.fetch_add(1);
      done.fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (int i = 0; i < 40; ++i) MustRegister(table, absl::StrCat("more", i), 4096);
  while (done.load() == 0) std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0u);
}

// ----------------------------------------------------------------- QP params

QpParams Hello() {
  QpParams p;
  p.qpn = 0x11;
  p.psn = 0x1234;
  p.region = "dta.keywrite";
  p.gid = GidFromIpv4(0x0a000001);
  p.mac = {0x02, 0, 0, 0, 0, 0x01};
  return p;
}

QpParams Reply() {
  QpParams p = Hello();
  p.qpn = 0x2329;
  p.rkey = 0xa4e3c0c1;
  p.iova = 0x7f8800001000;
  p.length = 1 << 20;
  p.gid = GidFromIpv4(0x0a000002);
  p.mac = {0x02, 0, 0, 0, 0, 0x02};
  p.mtu = 1024;
  return p;
}

TEST(QpParamsTest, GidsFromIpv4) {
  const Gid gid = GidFromIpv4(0x0a000002);
  const Gid expected = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};
  EXPECT_EQ(gid, expected);
  EXPECT_TRUE(IsIpv4MappedGid(gid));
  EXPECT_EQ(Ipv4OfGid(gid), 0x0a000002u);
  EXPECT_EQ(FormatGid(gid), "10.0.0.2");
  Gid v6{};
  v6[0] = 0xfe;
  v6[1] = 0x80;
  v6[15] = 1;
  EXPECT_FALSE(IsIpv4MappedGid(v6));
  EXPECT_EQ(FormatGid(v6), "fe80::1");
}

TEST(QpParamsTest, JsonRoundTrips) {
  const QpParams hello = Hello();
  const json hj = QpParamsToJson(hello, QpRole::kRequester);
  EXPECT_EQ(hj["ip"], "10.0.0.1");
  EXPECT_EQ(hj["mac"], "02:00:00:00:00:01");
  EXPECT_FALSE(hj.contains("rkey"));
  EXPECT_FALSE(hj.contains("mtu"));  // 0: the collector's choice
  absl::StatusOr<QpParams> back = QpParamsFromJson(json::parse(hj.dump()), QpRole::kRequester);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, hello);

  QpParams reply = Reply();
  reply.iova = kMax64 - reply.length + 1;  // 64-bit values survive
  reply.rkey = kMax32;
  reply.qpn = kMaxQpn;
  reply.psn = kMaxPsn;
  const json rj = QpParamsToJson(reply, QpRole::kResponder);
  back = QpParamsFromJson(json::parse(rj.dump()), QpRole::kResponder);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, reply);

  // A non-IPv4 GID travels as "gid".
  reply = Reply();
  reply.gid = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  const json gj = QpParamsToJson(reply, QpRole::kResponder);
  EXPECT_EQ(gj["gid"], "fe80::7");
  EXPECT_FALSE(gj.contains("ip"));
  back = QpParamsFromJson(gj, QpRole::kResponder);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, reply);
}

struct BadCase {
  QpRole role;
  const char* field;
  json value;  // null: remove the field
  const char* message;
};

TEST(QpParamsTest, EveryValidationErrorNamesTheField) {
  const json none;  // remove
  const std::vector<BadCase> cases = {
      {QpRole::kRequester, "qpn", 0x1234567, "qpn 0x1234567 does not fit in 24 bits"},
      {QpRole::kRequester, "psn", 0x1000000, "psn 0x1000000 does not fit in 24 bits"},
      {QpRole::kRequester, "qpn", 1, "qpn 1 is reserved"},
      {QpRole::kRequester, "qpn", 0, "qpn 0 is reserved"},
      {QpRole::kRequester, "qpn", -1, "field 'qpn' must be a non-negative integer, got -1"},
      {QpRole::kRequester, "qpn", "17", "field 'qpn' must be a non-negative integer, got \"17\""},
      {QpRole::kRequester, "psn", 1.5, "field 'psn' must be a non-negative integer, got 1.5"},
      {QpRole::kRequester, "qpn", none, "missing field 'qpn'"},
      {QpRole::kRequester, "psn", none, "missing field 'psn'"},
      {QpRole::kRequester, "mtu", 1500,
       "mtu 1500 is not a path MTU; use 256, 512, 1024, 2048 or 4096"},
      {QpRole::kRequester, "mac", "zz", "mac: 'zz' is not a MAC address"},
      {QpRole::kRequester, "mac", 5, "field 'mac' must be a string"},
      {QpRole::kRequester, "mac", none, "missing field 'mac'"},
      {QpRole::kRequester, "ip", "10.0.0.256", "ip '10.0.0.256' is not an IPv4 address"},
      {QpRole::kRequester, "ip", none, "missing field 'ip'"},
      {QpRole::kRequester, "gid", "fe80::1", "either 'ip' or 'gid', not both"},
      {QpRole::kRequester, "ip", "0.0.0.0", "address 0.0.0.0 is not an endpoint"},
      {QpRole::kRequester, "region", "", "region '' is not a region name"},
      {QpRole::kRequester, "region", "a b", "region 'a b' is not a region name"},
      {QpRole::kRequester, "region", none, "missing field 'region'"},
      {QpRole::kRequester, "rkye", 5, "unknown field 'rkye' in a hello"},
      {QpRole::kRequester, "rkey", 5, "unknown field 'rkey' in a hello"},
      {QpRole::kRequester, "version", 2, "handshake version 2 is not supported"},
      {QpRole::kRequester, "version", none, "missing field 'version'"},
      {QpRole::kResponder, "rkey", 0x100000000, "rkey 0x100000000 does not fit in 32 bits"},
      {QpRole::kResponder, "rkey", none, "missing field 'rkey'"},
      {QpRole::kResponder, "iova", -5, "field 'iova' must be a non-negative integer"},
      {QpRole::kResponder, "length", 0, "length 0: the region is empty"},
      {QpRole::kResponder, "iova", kMax64 - 100,
       "iova 0xffffffffffffff9b + length 1048576 passes 2^64"},
      {QpRole::kResponder, "mtu", none, "missing field 'mtu'"},
      {QpRole::kResponder, "mtu", 0, "mtu 0 is not a path MTU"},
  };
  for (const BadCase& c : cases) {
    json j = QpParamsToJson(c.role == QpRole::kRequester ? Hello() : Reply(), c.role);
    if (c.field == std::string("gid")) {
      j["gid"] = c.value;  // beside "ip"
    } else if (c.value.is_null()) {
      j.erase(c.field);
    } else {
      j[c.field] = c.value;
    }
    const absl::StatusOr<QpParams> p = QpParamsFromJson(j, c.role);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << j.dump();
    EXPECT_THAT(p.status().message(), HasSubstr(c.message)) << j.dump();
  }
  // A gid that is not IPv6.
  json j = QpParamsToJson(Hello(), QpRole::kRequester);
  j.erase("ip");
  j["gid"] = "nonsense";
  EXPECT_THAT(QpParamsFromJson(j, QpRole::kRequester).status().message(),
              HasSubstr("gid 'nonsense' is not an IPv6 address"));
  EXPECT_THAT(QpParamsFromJson(json::array(), QpRole::kRequester).status().message(),
              HasSubstr("a hello must be a JSON object"));
  // The struct checks stand alone too (a client validates before sending).
  QpParams p = Hello();
  p.qpn = 0x1234567;
  EXPECT_EQ(ValidateQpParams(p, QpRole::kRequester).message(),
            "qpn 0x1234567 does not fit in 24 bits");
}

TEST(QpParamsTest, QpnAllocator) {
  QpnAllocator qpns(3);
  std::set<uint32_t> got;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<uint32_t> q = qpns.Allocate();
    ASSERT_TRUE(q.ok());
    EXPECT_GE(*q, 2u);
    EXPECT_LE(*q, kMaxQpn);
    EXPECT_TRUE(qpns.InUse(*q));
    got.insert(*q);
  }
  EXPECT_EQ(got.size(), 3u);
  EXPECT_THAT(qpns.Allocate().status().message(), HasSubstr("all 3 queue pairs"));
  const uint32_t freed = *got.begin();
  qpns.Release(freed);
  absl::StatusOr<uint32_t> again = qpns.Allocate();
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, freed);  // numbers advance: not handed out again at once
  EXPECT_LE(RandomPsn(), kMaxPsn);
}

TEST(QpParamsTest, QpnAllocatorWrapsSkippingReservedNumbers) {
  QpnAllocator qpns(4, kMaxQpn);
  std::vector<uint32_t> got;
  for (int i = 0; i < 3; ++i) got.push_back(*qpns.Allocate());
  EXPECT_EQ(got, (std::vector<uint32_t>{kMaxQpn, 2, 3}));
  qpns.Release(2);
  EXPECT_EQ(*qpns.Allocate(), 4u);  // 2 is free again, but its turn comes after a wrap
}

// ----------------------------------------------------------------- handshake

constexpr auto kTimeout = std::chrono::milliseconds(3000);

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MustRegister(regions_, "dta.append", 4096);
    MustRegister(regions_, "tea.nat", 1 << 16);
    self_.mac = {0x02, 0, 0, 0, 0, 0x02};
    self_.gid = GidFromIpv4(0x0a000002);
    self_.mtu = 1024;
    handler_ = std::make_unique<RegionHandshakeHandler>(regions_, qpns_, self_);
  }

  void Start(HandshakeServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    absl::StatusOr<std::unique_ptr<HandshakeServer>> s =
        HandshakeServer::Create(options, *handler_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  // Runs the blocking client on another thread while this one polls the
  // server, as the collector's main loop would.
  absl::StatusOr<QpParams> Request(const QpParams& hello) {
    auto result = std::async(std::launch::async, [&] {
      return RequestQueuePair("127.0.0.1", server_->port(), hello, kTimeout);
    });
    while (result.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
      server_->Poll();
    }
    return result.get();
  }

  // A raw client socket, connected.
  int Dial() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    return fd;
  }

  // Polls the server until `fd` has a line, or EOF, or `limit` passes.
  std::string ReadLine(int fd, std::chrono::milliseconds limit = kTimeout) {
    std::string in;
    const auto end = std::chrono::steady_clock::now() + limit;
    char buf[512];
    while (std::chrono::steady_clock::now() < end) {
      server_->Poll();
      const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        if (in.find('\n') != std::string::npos) break;
      } else if (n == 0) {
        break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    return in;
  }

  // True once the server closed `fd` (EOF), polling it meanwhile.
  bool ClosedByServer(int fd) {
    const auto end = std::chrono::steady_clock::now() + kTimeout;
    char buf[64];
    while (std::chrono::steady_clock::now() < end) {
      server_->Poll();
      const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  // Polls until the server holds `clients` connections (an answered client
  // is let go once it hangs up, which the server sees on a later poll).
  size_t Settle(size_t clients) {
    const auto end = std::chrono::steady_clock::now() + kTimeout;
    while (server_->client_count() != clients && std::chrono::steady_clock::now() < end) {
      server_->Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return server_->client_count();
  }

  static void Send(int fd, const std::string& text) {
    ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
  }

  MemoryRegionTable regions_{MakePageAllocator()};
  QpnAllocator qpns_;
  CollectorEndpoint self_;
  std::unique_ptr<RegionHandshakeHandler> handler_;
  std::unique_ptr<HandshakeServer> server_;
};

TEST_F(HandshakeTest, ClientGetsTheRegionAndAQueuePair) {
  Start();
  QpParams hello = Hello();
  hello.region = "tea.nat";
  hello.mtu = 4096;
  const absl::StatusOr<QpParams> reply = Request(hello);
  ASSERT_TRUE(reply.ok()) << reply.status();
  const MemoryRegion nat = *regions_.Find("tea.nat");
  EXPECT_EQ(reply->region, "tea.nat");
  EXPECT_EQ(reply->rkey, nat.rkey);
  EXPECT_EQ(reply->iova, nat.iova);
  EXPECT_EQ(reply->length, nat.length);
  EXPECT_EQ(reply->psn, hello.psn);  // the PSN it expects first
  EXPECT_EQ(reply->mtu, 1024u);      // the smaller of the two
  EXPECT_EQ(reply->mac, self_.mac);
  EXPECT_EQ(reply->gid, self_.gid);
  EXPECT_TRUE(qpns_.InUse(reply->qpn));
  // The requester's side asks nothing: it gets the collector's MTU.
  hello.mtu = 0;
  const absl::StatusOr<QpParams> second = Request(hello);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->mtu, 1024u);
  EXPECT_NE(second->qpn, reply->qpn);
  EXPECT_EQ(server_->stats().connected, 2u);
  EXPECT_EQ(Settle(0), 0u);
}

TEST_F(HandshakeTest, UnknownRegionIsRefusedWithWhatThereIs) {
  Start();
  const absl::StatusOr<QpParams> reply = Request(Hello());  // dta.keywrite
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reply.status().message(),
            absl::StrCat("collector at 127.0.0.1:", server_->port(),
                         " refused: no region named dta.keywrite; it has dta.append, tea.nat"));
  EXPECT_EQ(qpns_.size(), 0u);
  EXPECT_EQ(server_->stats().refused, 1u);
}

TEST_F(HandshakeTest, GarbageAndBadHellosGetAnErrorAndOthersAreStillServed) {
  Start();
  const int garbage = Dial();
  Send(garbage, "hello there\n");
  EXPECT_THAT(ReadLine(garbage), HasSubstr("the hello is not JSON"));
  EXPECT_TRUE(ClosedByServer(garbage));
  close(garbage);

  const int bad = Dial();
  Send(bad, "{\"version\": 1, \"qpn\": 20000000}\r\n");
  const std::string line = ReadLine(bad);
  EXPECT_THAT(line, HasSubstr("bad hello: qpn 0x1312d00 does not fit in 24 bits"));
  EXPECT_TRUE(json::parse(line).contains("error"));
  close(bad);

  QpParams hello = Hello();
  hello.region = "dta.append";
  EXPECT_TRUE(Request(hello).ok());
  EXPECT_EQ(server_->stats().refused, 2u);
  EXPECT_EQ(server_->stats().connected, 1u);
}

TEST_F(HandshakeTest, OversizeLineIsRefusedAndClosed) {
  HandshakeServerOptions options;
  options.max_line_bytes = 4096;
  Start(options);
  const int fd = Dial();
  Send(fd, std::string(5000, 'x'));  // no newline, ever
  EXPECT_THAT(ReadLine(fd), HasSubstr("hello longer than 4096 bytes"));
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  EXPECT_EQ(Settle(0), 0u);
  QpParams hello = Hello();
  hello.region = "tea.nat";
  EXPECT_TRUE(Request(hello).ok());
}

TEST_F(HandshakeTest, SilentClientTimesOutWhileOthersAreServed) {
  HandshakeServerOptions options;
  options.client_timeout = std::chrono::milliseconds(300);
  Start(options);
  const int silent = Dial();
  server_->Poll();
  QpParams hello = Hello();
  hello.region = "tea.nat";
  EXPECT_TRUE(Request(hello).ok());  // served while the silent one waits
  EXPECT_EQ(Settle(1), 1u);
  EXPECT_THAT(ReadLine(silent, std::chrono::milliseconds(2000)),
              HasSubstr("no hello within 300 ms"));
  EXPECT_TRUE(ClosedByServer(silent));
  close(silent);
  EXPECT_EQ(Settle(0), 0u);
  EXPECT_EQ(server_->stats().timed_out, 1u);
}

TEST_F(HandshakeTest, ClientsBeyondTheLimitAreTurnedAway) {
  HandshakeServerOptions options;
  options.max_clients = 2;
  Start(options);
  const int a = Dial(), b = Dial();
  for (int i = 0; i < 20 && server_->client_count() < 2; ++i) {
    server_->Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(server_->client_count(), 2u);
  const int c = Dial();
  EXPECT_THAT(ReadLine(c), HasSubstr("collector busy: 2 handshakes in progress"));
  close(c);
  close(a);
  close(b);
  EXPECT_EQ(server_->stats().too_many, 1u);
  // Once they are gone, others are served again.
  QpParams hello = Hello();
  hello.region = "tea.nat";
  EXPECT_TRUE(Request(hello).ok());
}

TEST_F(HandshakeTest, ClientHalfClosingWithoutNewlineIsAnswered) {
  Start();
  QpParams hello = Hello();
  hello.region = "dta.append";
  const int fd = Dial();
  Send(fd, QpParamsToJson(hello, QpRole::kRequester).dump());
  shutdown(fd, SHUT_WR);
  const json reply = json::parse(ReadLine(fd));
  close(fd);
  EXPECT_EQ(reply["region"], "dta.append");
  EXPECT_EQ(reply["rkey"], regions_.Find("dta.append")->rkey);
}

TEST_F(HandshakeTest, InstallMayRefuseAndAbandonReleasesTheQpn) {
  std::vector<uint32_t> removed;
  RegionHandshakeHandler handler(
      regions_, qpns_, self_,
      [](const QpParams& hello, const QpParams&) {
        return hello.psn == 7 ? absl::ResourceExhaustedError("the soft RNIC has no room")
                              : absl::OkStatus();
      },
      [&](const QpParams& reply) { removed.push_back(reply.qpn); });
  QpParams hello = Hello();
  hello.region = "tea.nat";
  hello.psn = 7;
  EXPECT_EQ(handler.Accept(hello).status().message(), "the soft RNIC has no room");
  EXPECT_EQ(qpns_.size(), 0u);
  hello.psn = 8;
  absl::StatusOr<QpParams> reply = handler.Accept(hello);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(qpns_.size(), 1u);
  handler.Abandon(*reply);
  EXPECT_EQ(qpns_.size(), 0u);
  EXPECT_EQ(removed, std::vector<uint32_t>{reply->qpn});
}

TEST_F(HandshakeTest, ClientErrorsSayWhatToDo) {
  // Nobody listens: find a free port by binding and closing.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len);
  const uint16_t port = ntohs(addr.sin_port);
  absl::StatusOr<QpParams> r = RequestQueuePair("127.0.0.1", port, Hello(), kTimeout);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("cannot connect to the collector at 127.0.0.1:", port)));
  EXPECT_THAT(r.status().message(), HasSubstr("is softfino-collector running there"));

  // Someone listens but never answers: the client gives up at its timeout.
  ASSERT_EQ(listen(probe, 4), 0);
  r = RequestQueuePair("127.0.0.1", port, Hello(), std::chrono::milliseconds(200));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("sent no reply within 200 ms"));
  close(probe);

  QpParams bad = Hello();
  bad.psn = 1 << 24;
  r = RequestQueuePair("127.0.0.1", port, bad, kTimeout);
  EXPECT_THAT(r.status().message(), HasSubstr("psn 0x1000000 does not fit in 24 bits"));
}

TEST_F(HandshakeTest, ServerRefusesABadAddressAndABusyPort) {
  HandshakeServerOptions options;
  options.address = "localhost";
  EXPECT_THAT(HandshakeServer::Create(options, *handler_).status().message(),
              HasSubstr("is not an IPv4 address"));
  Start();
  options.address = "127.0.0.1";
  options.port = server_->port();
  const absl::StatusOr<std::unique_ptr<HandshakeServer>> second =
      HandshakeServer::Create(options, *handler_);
  EXPECT_THAT(second.status().message(), HasSubstr("is another softfino-collector running?"));
}

// --------------------------------------------------------------------- verbs

TEST(VerbsParamsTest, MtuAccessAndGidMapping) {
  EXPECT_EQ(MtuToVerbs(256), IBV_MTU_256);
  EXPECT_EQ(MtuToVerbs(1024), IBV_MTU_1024);
  EXPECT_EQ(MtuToVerbs(4096), IBV_MTU_4096);
  EXPECT_EQ(static_cast<int>(MtuToVerbs(1500)), 0);
  for (uint32_t mtu : {256u, 512u, 1024u, 2048u, 4096u})
    EXPECT_EQ(MtuFromVerbs(MtuToVerbs(mtu)), mtu);
  EXPECT_EQ(MtuFromVerbs(static_cast<ibv_mtu>(9)), 0u);

  EXPECT_EQ(AccessToVerbs(kAccessRemoteRead), IBV_ACCESS_REMOTE_READ);
  EXPECT_EQ(AccessToVerbs(kAccessRemoteWrite), IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE);
  EXPECT_EQ(AccessToVerbs(kAccessRemoteAtomic), IBV_ACCESS_REMOTE_ATOMIC | IBV_ACCESS_LOCAL_WRITE);
  EXPECT_EQ(AccessToVerbs(kAccessAllRemote), IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
                                                 IBV_ACCESS_REMOTE_ATOMIC | IBV_ACCESS_LOCAL_WRITE);

  const ibv_gid gid = GidToVerbs(GidFromIpv4(0xc0a80102));  // 192.168.1.2
  EXPECT_EQ(gid.global.subnet_prefix, 0u);
  EXPECT_EQ(gid.raw[10], 0xff);
  EXPECT_EQ(gid.raw[11], 0xff);
  EXPECT_EQ(gid.raw[12], 192);
  EXPECT_EQ(gid.raw[15], 2);
  EXPECT_EQ(GidFromVerbs(gid), GidFromIpv4(0xc0a80102));
}

TEST(VerbsParamsTest, TransitionsCarryWhatEachStateNeeds) {
  VerbsQpOptions options;
  options.port = 2;
  const QpTransition init = InitTransition(options, AccessToVerbs(kAccessAllRemote));
  EXPECT_EQ(init.attr.qp_state, IBV_QPS_INIT);
  EXPECT_EQ(init.mask, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
  EXPECT_EQ(init.attr.port_num, 2);
  EXPECT_EQ(init.attr.pkey_index, 0);
  // Local write is the MR's business, not the QP's.
  EXPECT_EQ(init.attr.qp_access_flags,
            static_cast<unsigned>(IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
                                  IBV_ACCESS_REMOTE_ATOMIC));

  const QpParams peer = Hello();
  const QpTransition rtr = RtrTransition(options, peer, IBV_MTU_2048, 3);
  EXPECT_EQ(rtr.attr.qp_state, IBV_QPS_RTR);
  EXPECT_EQ(rtr.mask, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                          IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
  EXPECT_EQ(rtr.attr.dest_qp_num, peer.qpn);
  EXPECT_EQ(rtr.attr.rq_psn, peer.psn);
  EXPECT_EQ(rtr.attr.path_mtu, IBV_MTU_2048);
  EXPECT_EQ(rtr.attr.ah_attr.is_global, 1);
  EXPECT_EQ(GidFromVerbs(rtr.attr.ah_attr.grh.dgid), peer.gid);
  EXPECT_EQ(rtr.attr.ah_attr.grh.sgid_index, 3);
  EXPECT_EQ(rtr.attr.ah_attr.grh.hop_limit, 64);
  EXPECT_EQ(rtr.attr.ah_attr.port_num, 2);
  EXPECT_EQ(rtr.attr.ah_attr.dlid, 0);
  EXPECT_EQ(rtr.attr.max_dest_rd_atomic, 16);
  EXPECT_EQ(rtr.attr.min_rnr_timer, 12);

  const QpTransition rts = RtsTransition(options, 0xabcdef);
  EXPECT_EQ(rts.attr.qp_state, IBV_QPS_RTS);
  EXPECT_EQ(rts.mask, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                          IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
  EXPECT_EQ(rts.attr.sq_psn, 0xabcdefu);
  EXPECT_EQ(rts.attr.timeout, 14);
  EXPECT_EQ(rts.attr.retry_cnt, 7);
  EXPECT_EQ(rts.attr.rnr_retry, 7);
  EXPECT_EQ(rts.attr.max_rd_atomic, 1);
}

class FakeVerbsDevice : public VerbsDevice {
 public:
  MOCK_METHOD(std::string, name, (), (const, override));
  MOCK_METHOD(absl::StatusOr<ibv_port_attr>, QueryPort, (uint8_t), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<VerbsGidEntry>>, QueryGids, (uint8_t), (override));
  MOCK_METHOD(absl::StatusOr<VerbsMr>, RegisterMemory, (void*, size_t, uint64_t, int), (override));
  MOCK_METHOD(void, DeregisterMemory, (const VerbsMr&), (override));
  MOCK_METHOD(absl::StatusOr<uint32_t>, CreateRcQp, (), (override));
  MOCK_METHOD(absl::Status, ModifyQp, (uint32_t, const ibv_qp_attr&, int), (override));
  MOCK_METHOD(void, DestroyQp, (uint32_t), (override));
};

class VerbsBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    self_.mac = {0x02, 0, 0, 0, 0, 0x02};
    self_.gid = GidFromIpv4(0x0a000002);
    self_.mtu = 4096;
    auto device = std::make_unique<::testing::StrictMock<FakeVerbsDevice>>();
    fake_ = device.get();
    ON_CALL(*fake_, name()).WillByDefault(Return("fake0"));
    EXPECT_CALL(*fake_, name()).Times(::testing::AnyNumber());
    ibv_port_attr port{};
    port.link_layer = IBV_LINK_LAYER_ETHERNET;
    port.active_mtu = IBV_MTU_1024;
    port.state = IBV_PORT_ACTIVE;
    ON_CALL(*fake_, QueryPort(1)).WillByDefault(Return(port));
    std::vector<VerbsGidEntry> gids = {
        {0, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, false},
        {2, GidFromIpv4(0x0a000002), false},  // RoCEv1
        {3, GidFromIpv4(0x0a000002), true}};
    ON_CALL(*fake_, QueryGids(1)).WillByDefault(Return(gids));
    backend_ = std::make_unique<VerbsBackend>(std::move(device), VerbsQpOptions{}, self_);

    region_ = MustRegister(regions_, "dta.keywrite", 8192, {.iova = 0x40000});
    EXPECT_CALL(*fake_,
                RegisterMemory(region_.base, 8192, 0x40000, AccessToVerbs(kAccessAllRemote)))
        .WillOnce(Return(VerbsMr{0x11, 0xfeed, nullptr}));
    absl::StatusOr<MemoryRegion> nic = backend_->RegisterRegion(region_);
    ASSERT_TRUE(nic.ok()) << nic.status();
    EXPECT_EQ(nic->rkey, 0xfeedu);  // the NIC's rkey is the one to publish
    EXPECT_EQ(nic->iova, 0x40000u);
  }

  void TearDown() override {
    if (!backend_) return;
    EXPECT_CALL(*fake_, DeregisterMemory(_)).Times(1);
    backend_.reset();
  }

  MemoryRegionTable regions_{MakePageAllocator()};
  MemoryRegion region_;
  CollectorEndpoint self_;
  FakeVerbsDevice* fake_ = nullptr;
  std::unique_ptr<VerbsBackend> backend_;
};

TEST_F(VerbsBackendTest, AcceptMovesAQpToRtsWithThePeersParameters) {
  QpParams hello = Hello();
  hello.mtu = 4096;
  ::testing::InSequence order;
  EXPECT_CALL(*fake_, QueryPort(1));
  EXPECT_CALL(*fake_, CreateRcQp()).WillOnce(Return(0x4242));
  EXPECT_CALL(*fake_, QueryGids(1));
  EXPECT_CALL(*fake_, ModifyQp(0x4242, _, _))
      .WillOnce([](uint32_t, const ibv_qp_attr& a, int mask) {
        EXPECT_EQ(a.qp_state, IBV_QPS_INIT);
        EXPECT_EQ(mask, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
        EXPECT_EQ(a.qp_access_flags,
                  static_cast<unsigned>(IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
                                        IBV_ACCESS_REMOTE_ATOMIC));
        return absl::OkStatus();
      })
      .WillOnce([&](uint32_t, const ibv_qp_attr& a, int mask) {
        EXPECT_EQ(a.qp_state, IBV_QPS_RTR);
        EXPECT_EQ(mask & (IBV_QP_AV | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN),
                  IBV_QP_AV | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN);
        EXPECT_EQ(a.dest_qp_num, hello.qpn);
        EXPECT_EQ(a.rq_psn, hello.psn);
        EXPECT_EQ(a.path_mtu, IBV_MTU_1024);     // the port's active MTU is the smallest
        EXPECT_EQ(a.ah_attr.grh.sgid_index, 3);  // the RoCEv2 entry, not the v1 one
        EXPECT_EQ(GidFromVerbs(a.ah_attr.grh.dgid), GidFromIpv4(0x0a000001));
        return absl::OkStatus();
      })
      .WillOnce([](uint32_t, const ibv_qp_attr& a, int mask) {
        EXPECT_EQ(a.qp_state, IBV_QPS_RTS);
        EXPECT_TRUE(mask & IBV_QP_SQ_PSN);
        EXPECT_LE(a.sq_psn, kMaxPsn);
        return absl::OkStatus();
      });
  const absl::StatusOr<QpParams> reply = backend_->Accept(hello);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->qpn, 0x4242u);
  EXPECT_EQ(reply->psn, hello.psn);
  EXPECT_EQ(reply->rkey, 0xfeedu);
  EXPECT_EQ(reply->iova, 0x40000u);
  EXPECT_EQ(reply->length, 8192u);
  EXPECT_EQ(reply->mtu, 1024u);
  EXPECT_EQ(reply->gid, self_.gid);
  EXPECT_TRUE(ValidateQpParams(*reply, QpRole::kResponder).ok());
  EXPECT_EQ(backend_->qp_count(), 1u);
  // The backend goes away with a live QP: it is destroyed before the region.
  EXPECT_CALL(*fake_, DestroyQp(0x4242));
}

TEST_F(VerbsBackendTest, AFailedTransitionDestroysTheQp) {
  EXPECT_CALL(*fake_, QueryPort(1));
  EXPECT_CALL(*fake_, QueryGids(1));
  EXPECT_CALL(*fake_, CreateRcQp()).WillOnce(Return(0x77));
  EXPECT_CALL(*fake_, ModifyQp(0x77, _, _))
      .WillOnce(Return(absl::OkStatus()))
      .WillOnce(Return(absl::InvalidArgumentError("Invalid argument")));
  EXPECT_CALL(*fake_, DestroyQp(0x77));
  const absl::StatusOr<QpParams> reply = backend_->Accept(Hello());
  EXPECT_THAT(reply.status().message(),
              HasSubstr("cannot move QP 0x77 on fake0 to RTR: Invalid argument (peer qpn 0x11, "
                        "gid 10.0.0.1, gid index 3, mtu 1024)"));
  EXPECT_EQ(backend_->qp_count(), 0u);
}

TEST_F(VerbsBackendTest, RefusalsNameTheFix) {
  QpParams hello = Hello();
  hello.region = "tea.nat";
  EXPECT_EQ(backend_->Accept(hello).status().message(),
            "no region named tea.nat; it has dta.keywrite");

  // No RoCEv2 GID for our address.
  EXPECT_CALL(*fake_, QueryPort(1));
  EXPECT_CALL(*fake_, CreateRcQp()).WillOnce(Return(0x78));
  EXPECT_CALL(*fake_, QueryGids(1))
      .WillOnce(Return(std::vector<VerbsGidEntry>{{2, GidFromIpv4(0x0a000002), false}}));
  EXPECT_CALL(*fake_, DestroyQp(0x78));
  EXPECT_THAT(backend_->Accept(Hello()).status().message(),
              HasSubstr("port 1 of fake0 has no RoCEv2 GID for 10.0.0.2 (its GIDs: 2 10.0.0.2 "
                        "(v1)); assign that address"));

  // An InfiniBand port.
  ibv_port_attr ib{};
  ib.link_layer = IBV_LINK_LAYER_INFINIBAND;
  ib.active_mtu = IBV_MTU_4096;
  EXPECT_CALL(*fake_, QueryPort(1)).WillOnce(Return(ib));
  EXPECT_THAT(backend_->Accept(Hello()).status().message(), HasSubstr("RoCEv2 only"));

  EXPECT_CALL(*fake_, RegisterMemory(_, _, _, _))
      .WillOnce(Return(absl::ResourceExhaustedError("Cannot allocate memory")));
  const MemoryRegion other = MustRegister(regions_, "tea.nat", 64);
  EXPECT_THAT(backend_->RegisterRegion(other).status().message(),
              HasSubstr("cannot register region tea.nat (64 bytes) with fake0: Cannot allocate "
                        "memory; the NIC pins the memory, so check the locked-memory limit"));
  EXPECT_EQ(backend_->RegisterRegion(region_).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(VerbsBackendTest, AbandonDestroysTheQp) {
  EXPECT_CALL(*fake_, QueryPort(1));
  EXPECT_CALL(*fake_, QueryGids(1));
  EXPECT_CALL(*fake_, CreateRcQp()).WillOnce(Return(0x79));
  EXPECT_CALL(*fake_, ModifyQp(0x79, _, _)).Times(3).WillRepeatedly(Return(absl::OkStatus()));
  absl::StatusOr<QpParams> reply = backend_->Accept(Hello());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_CALL(*fake_, DestroyQp(0x79));
  backend_->Abandon(*reply);
  EXPECT_EQ(backend_->qp_count(), 0u);
  backend_->Abandon(*reply);  // twice is harmless
}

// The verbs backend behind the real handshake server.
TEST_F(VerbsBackendTest, ServesHandshakes) {
  EXPECT_CALL(*fake_, QueryPort(1));
  EXPECT_CALL(*fake_, QueryGids(1));
  EXPECT_CALL(*fake_, CreateRcQp()).WillOnce(Return(0x80));
  EXPECT_CALL(*fake_, ModifyQp(0x80, _, _)).Times(3).WillRepeatedly(Return(absl::OkStatus()));
  HandshakeServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  absl::StatusOr<std::unique_ptr<HandshakeServer>> server =
      HandshakeServer::Create(options, *backend_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto result = std::async(std::launch::async, [&] {
    return RequestQueuePair("127.0.0.1", (*server)->port(), Hello(), kTimeout);
  });
  while (result.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
    (*server)->Poll();
  }
  const absl::StatusOr<QpParams> reply = result.get();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->rkey, 0xfeedu);
  EXPECT_EQ(reply->qpn, 0x80u);
  EXPECT_CALL(*fake_, DestroyQp(0x80));
}

// The real libibverbs path. CI machines (and this project's build machine)
// have no RNIC and no Soft-RoCE, so the expected outcome there is the
// plain no-device message, reported as a skip.
TEST(VerbsDeviceTest, RealDeviceListOrThePlainNoDeviceMessage) {
  absl::StatusOr<std::unique_ptr<VerbsDevice>> device = OpenVerbsDevice("");
  if (!device.ok()) {
    EXPECT_EQ(device.status().message(),
              "no RDMA device found (ibv_get_device_list returned none); use --backend soft");
    EXPECT_EQ(OpenVerbsDevice("mlx5_9").status().message(), device.status().message());
    GTEST_SKIP() << "no RDMA device on this machine: " << device.status().message();
  }
  EXPECT_FALSE((*device)->name().empty());
  EXPECT_THAT(OpenVerbsDevice("no_such_rdma_device").status().message(),
              HasSubstr("no RDMA device named no_such_rdma_device; this host has"));
}

}  // namespace
}  // namespace softfino::rdma
