// l3fwd's live table updates: batches apply all or nothing with the config
// file's errors, dumps read back in config form, and pipes looking up while
// the slow path commits only ever see whole published versions.
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipelines/l3fwd/l3fwd.h"
#include "softfino/pipe/table_control.h"

namespace softfino::pipelines {
namespace {

using nlohmann::json;

json Nexthop(int id, int port, const std::string& dst_mac) {
  return {{"key", {{"nexthop_id", id}}},
          {"action", "forward"},
          {"data", {{"port", port}, {"src_mac", "02:00:00:00:00:01"}, {"dst_mac", dst_mac}}}};
}

json Route(const std::string& prefix, int nexthop_id) {
  return {{"key", {{"dst_addr", prefix}}},
          {"action", "set_nexthop"},
          {"data", {{"nexthop_id", nexthop_id}}}};
}

json Op(const std::string& op, const std::string& table, json entry) {
  return {{"op", op}, {"table", table}, {"entry", std::move(entry)}};
}

json BaseConfig() {
  json c;
  c["tables"]["nexthop"] = {Nexthop(1, 1, "02:00:00:00:01:01"), Nexthop(2, 2, "02:00:00:00:02:02")};
  c["tables"]["ipv4_lpm"] = {Route("10.0.0.0/8", 1)};
  c["tables"]["ipv6_lpm"] = {Route("2001:db8::/32", 2)};
  return c;
}

class L3fwdTablesTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(program_.Configure(BaseConfig(), {3}).ok()); }

  // Commits `ops` (with no pipe around); returns "ok" or the error.
  std::string Commit(const json& ops) {
    auto parsed = pipe::ParseTableOps(ops, "ops", program_.TableNames());
    if (!parsed.ok()) return std::string(parsed.status().message());
    auto stats = program_.Commit(*parsed, pipe::RcuDomain{});
    return stats.ok() ? "ok" : std::string(stats.status().message());
  }
  json Dump() {
    json all;
    for (const std::string& t : program_.TableNames()) all[t] = *program_.Dump(t);
    return all;
  }

  L3fwd program_;
};

TEST_F(L3fwdTablesTest, DumpIsTheConfig) { EXPECT_EQ(Dump(), BaseConfig()["tables"]); }

TEST_F(L3fwdTablesTest, AddModifyDelete) {
  EXPECT_EQ(Commit({Op("add", "nexthop", Nexthop(3, 0, "02:00:00:00:00:03")),
                    Op("add", "ipv4_lpm", Route("10.9.0.0/16", 3)),
                    Op("add", "ipv6_lpm", Route("::/0", 1))}),
            "ok");
  EXPECT_EQ(Commit({Op("modify", "ipv4_lpm", Route("10.0.0.0/8", 2)),
                    Op("modify", "nexthop", Nexthop(1, 2, "02:00:00:00:09:09"))}),
            "ok");
  json want = BaseConfig()["tables"];
  want["nexthop"] = {Nexthop(1, 2, "02:00:00:00:09:09"), Nexthop(2, 2, "02:00:00:00:02:02"),
                     Nexthop(3, 0, "02:00:00:00:00:03")};
  want["ipv4_lpm"] = {Route("10.0.0.0/8", 2), Route("10.9.0.0/16", 3)};
  want["ipv6_lpm"] = {Route("::/0", 1), Route("2001:db8::/32", 2)};
  EXPECT_EQ(Dump(), want);
  EXPECT_EQ(Commit({Op("delete", "ipv4_lpm", {{"key", {{"dst_addr", "10.9.0.0/16"}}}}),
                    Op("delete", "nexthop", {{"key", {{"nexthop_id", 3}}}})}),
            "ok");
  want["nexthop"].erase(2);
  want["ipv4_lpm"].erase(1);
  EXPECT_EQ(Dump(), want);
  // A freed next-hop slot is reused without disturbing the others.
  EXPECT_EQ(Commit(json::array({Op("add", "nexthop", Nexthop(7, 1, "02:00:00:00:00:07"))})), "ok");
  EXPECT_EQ((*program_.Dump("nexthop")).size(), 3u);
}

TEST_F(L3fwdTablesTest, ErrorsNameTheOpAndChangeNothing) {
  const json before = Dump();
  const auto refused = [&](const json& ops, const std::string& want) {
    EXPECT_EQ(Commit(ops), want);
    EXPECT_EQ(Dump(), before) << ops.dump();
  };
  // Each batch starts with good ops, so a refused batch proves all or nothing.
  const json good = Op("add", "ipv4_lpm", Route("10.1.0.0/16", 2));
  const json good2 = Op("modify", "nexthop", Nexthop(1, 0, "02:00:00:00:00:09"));
  refused({good, good2, Op("add", "ipv4_lpm", Route("10.0.0.0/8", 2))},
          "ops[2].entry.key.dst_addr: route 10.0.0.0/8 already exists in ipv4_lpm; use modify to "
          "change it");
  refused({good, Op("delete", "ipv4_lpm", {{"key", {{"dst_addr", "10.7.0.0/16"}}}})},
          "ops[1].entry.key.dst_addr: no route 10.7.0.0/16 in ipv4_lpm");
  refused({good, Op("modify", "ipv6_lpm", Route("2001:db8:1::/48", 1))},
          "ops[1].entry.key.dst_addr: no route 2001:db8:1::/48 in ipv6_lpm; use add to create it");
  refused({good, Op("add", "ipv4_lpm", Route("10.1.0.0/33", 1))},
          "ops[1].entry.key.dst_addr: '10.1.0.0/33' has a bad prefix length: expected 0-32");
  refused({good, Op("add", "ipv4_lpm", Route("10.1.2.3/16", 1))},
          "ops[1].entry.key.dst_addr: '10.1.2.3/16' has host bits set past /16; did you mean "
          "10.1.0.0/16?");
  refused({good, Op("add", "ipv4_lpm", Route("10.2.0.0/16", 9))},
          "ops[1].entry.data.nexthop_id: nexthop_id 9 is not in the nexthop table");
  refused({good, Op("delete", "nexthop", {{"key", {{"nexthop_id", 2}}}})},
          "ops[1].entry.key.nexthop_id: nexthop_id 2 is used by 2 route(s); delete them or move "
          "them to another next hop first");
  refused({good, Op("add", "nexthop", Nexthop(1, 1, "02:00:00:00:00:01"))},
          "ops[1].entry.key.nexthop_id: nexthop_id 1 already exists; use modify to change it");
  refused({good, Op("add", "nexthop", Nexthop(5, 3, "02:00:00:00:00:01"))},
          "ops[1].entry.data.port: port 3 does not exist; this switch has 3 port(s), 0..2");
  refused({good, Op("delete", "nexthop", {{"key", {{"nexthop_id", 1}}}, {"action", "forward"}})},
          "ops[1].entry: unknown field 'action': a delete names only the entry's key");
  refused({good, Op("add", "ipv4_lpms", Route("10.2.0.0/16", 1))},
          "ops[1].table: no such table 'ipv4_lpms' in this program (it has 'nexthop', "
          "'ipv4_lpm', 'ipv6_lpm')");
  refused({good, {{"op", "insert"}, {"table", "nexthop"}, {"entry", json::object()}}},
          "ops[1].op: unknown op 'insert' (expected 'add', 'modify', 'delete')");
  refused({good, Op("add", "ipv4_lpm", {{"key", {{"dst_addr", "10.3.0.0/16"}}}})},
          "ops[1].entry.action: missing");
  // The nexthop table's size.
  json fill = json::array();
  for (int id = 100; id < 100 + 1023; ++id) {
    fill.push_back(Op("add", "nexthop", Nexthop(id, 1, "02:00:00:00:00:01")));
  }
  refused(fill, "ops[1022].entry: the nexthop table holds at most 1024 entries");
}

TEST_F(L3fwdTablesTest, FullRouteTableIsRefused) {
  const json before = Dump();
  json ops = json::array();
  for (int r = 0; r < 16384; ++r) {
    ops.push_back(Op("add", "ipv4_lpm",
                     Route(absl::StrCat("11.", r / 256, ".", r % 256, ".0/24"), 1)));
  }
  EXPECT_EQ(Commit(ops),
            "ops[16383].entry: no room for route 11.63.255.0/24: the table is full (max rules or "
            "tbl8 groups)");
  EXPECT_EQ(Dump(), before);
}

// A 64-byte Ethernet/IPv4/UDP frame to `dst` with a valid checksum.
void BuildPacket(uint8_t* f, uint32_t dst) {
  std::memset(f, 0, 64);
  f[12] = 0x08;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + 14);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(46);
  ip->time_to_live = 64;
  ip->next_proto_id = 17;
  ip->src_addr = rte_cpu_to_be_32(0xc0a80001);
  ip->dst_addr = rte_cpu_to_be_32(dst);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

// A pipe on another thread runs l3fwd's ingress over bursts to 32 different
// /24s while this thread commits batches that move all of them between two
// next hops at once. Every burst must go out whole to one next hop (port and
// MAC of the same version), never split, never dropped.
TEST(L3fwdLiveUpdate, PipeSeesOnlyWholeBatches) {
  constexpr int kRoutes = 64;
  constexpr int kCommits = 200;
  json config = BaseConfig();
  for (int r = 0; r < kRoutes; ++r) {
    config["tables"]["ipv4_lpm"].push_back(Route(absl::StrCat("10.9.", r, ".0/24"), 1));
  }
  L3fwd program;
  ASSERT_TRUE(program.Configure(config, {3}).ok());

  rte_rcu_qsbr* qsbr = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc("l3fwd_live_rcu", rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE));
  ASSERT_NE(qsbr, nullptr);
  rte_rcu_qsbr_init(qsbr, 1);
  rte_rcu_qsbr_thread_register(qsbr, 0);
  rte_mempool* pool = rte_pktmbuf_pool_create("l3fwd_live", 256, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bursts{0}, split{0}, dropped{0}, mac_mismatch{0}, to_port[3] = {0, 0, 0};
  std::thread pipe_thread([&] {
    rte_rcu_qsbr_thread_online(qsbr, 0);
    uint8_t templates[pipe::kBurstSize][64];
    pipe::PacketBurst burst;
    for (uint16_t i = 0; i < pipe::kBurstSize; ++i) {
      BuildPacket(templates[i], 0x0a090001u | (uint32_t{i} * 2 % kRoutes) << 8);
      burst.pkts[i] = rte_pktmbuf_alloc(pool);
      rte_pktmbuf_append(burst.pkts[i], 64);
    }
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint16_t i = 0; i < pipe::kBurstSize; ++i) {
        std::memcpy(rte_pktmbuf_mtod(burst.pkts[i], uint8_t*), templates[i], 64);
      }
      burst.Reset(pipe::kBurstSize, 0, 0);
      program.Ingress(burst);
      const pipe::PortId first = burst.md[0].ig_intr_md_for_tm.ucast_egress_port;
      for (uint16_t i = 0; i < pipe::kBurstSize; ++i) {
        if (burst.md[i].dropped()) {
          dropped.fetch_add(1);
          continue;
        }
        const pipe::PortId port = burst.md[i].ig_intr_md_for_tm.ucast_egress_port;
        if (port != first) split.fetch_add(1);
        if (port < 3) to_port[port].fetch_add(1);
        // The dst MAC must come from the same next hop as the port.
        const uint8_t last_mac_byte = rte_pktmbuf_mtod(burst.pkts[i], uint8_t*)[5];
        if (last_mac_byte != (port == 1 ? 0x01 : 0x02)) mac_mismatch.fetch_add(1);
      }
      bursts.fetch_add(1);
      rte_rcu_qsbr_quiescent(qsbr, 0);
    }
    for (uint16_t i = 0; i < pipe::kBurstSize; ++i) rte_pktmbuf_free(burst.pkts[i]);
    rte_rcu_qsbr_thread_offline(qsbr, 0);
  });

  const pipe::RcuDomain rcu{qsbr, RTE_QSBR_THRID_INVALID};
  for (int c = 0; c < kCommits; ++c) {
    json ops = json::array();
    for (int r = 0; r < kRoutes; ++r) {
      ops.push_back(Op("modify", "ipv4_lpm", Route(absl::StrCat("10.9.", r, ".0/24"), c % 2 ? 1 : 2)));
    }
    auto parsed = pipe::ParseTableOps(ops, "ops", program.TableNames());
    ASSERT_TRUE(parsed.ok());
    auto stats = program.Commit(*parsed, rcu);
    ASSERT_TRUE(stats.ok()) << stats.status();
    // Let the pipe run a few bursts on each version.
    const uint64_t seen = bursts.load();
    while (bursts.load() < seen + 3) std::this_thread::yield();
  }
  stop = true;
  pipe_thread.join();
  rte_mempool_free(pool);
  rte_free(qsbr);

  EXPECT_EQ(split.load(), 0u);
  EXPECT_EQ(dropped.load(), 0u);
  EXPECT_EQ(mac_mismatch.load(), 0u);
  EXPECT_EQ(to_port[0].load(), 0u);
  EXPECT_GT(to_port[1].load(), 0u);
  EXPECT_GT(to_port[2].load(), 0u);
  EXPECT_GE(bursts.load(), uint64_t{kCommits} * 3);
}

}  // namespace
}  // namespace softfino::pipelines
