// The table commands over l3fwd's real tables: table_counter_read /
// table_counter_clear / table_dump counters=true against counts this test
// keeps itself for the packets it pushes through l3fwd's Ingress on two
// pipes (never against the commands' own earlier output); refused requests
// name the problem and change nothing; entry TTLs round-trip; and the idle
// sweep, driven with pipe clocks set here, reports exactly the entries idle
// for their TTL, at the time the slowest pipe has reached, once each.
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipelines/l3fwd/l3fwd.h"
#include "softfino/control/command_registry.h"
#include "softfino/control/table_commands.h"

namespace softfino::control {
namespace {

using nlohmann::json;
using pipelines::L3fwd;

constexpr uint64_t kMs = 1'000'000;

json Nexthop(int id, int port) {
  return {{"key", {{"nexthop_id", id}}},
          {"action", "forward"},
          {"data", {{"port", port}, {"src_mac", "02:00:00:00:00:01"}, {"dst_mac", "02:00:00:00:00:02"}}}};
}

json Route(const std::string& prefix, int nexthop_id) {
  return {{"key", {{"dst_addr", prefix}}},
          {"action", "set_nexthop"},
          {"data", {{"nexthop_id", nexthop_id}}}};
}

json Key(int id) { return {{"key", {{"nexthop_id", id}}}}; }

// 10.1.0.0/16 -> 1, 10.2.0.0/16 -> 2, 10.3.0.0/16 -> 3; next hop 4 has no
// route; nothing else is routed.
json Config() {
  json c;
  c["tables"]["nexthop"] = {Nexthop(1, 1), Nexthop(2, 2), Nexthop(3, 1), Nexthop(4, 2)};
  c["tables"]["ipv4_lpm"] = {Route("10.1.0.0/16", 1), Route("10.2.0.0/16", 2),
                             Route("10.3.0.0/16", 3)};
  return c;
}

// The config's routes by /16, as this test knows them.
std::map<uint32_t, int> ConfigRoutes() { return {{0x0a01, 1}, {0x0a02, 2}, {0x0a03, 3}}; }

struct Counts {
  uint64_t packets = 0, bytes = 0;
};

class TableCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(program_.Configure(Config(), {3, /*pipes=*/2}).ok());
    ASSERT_TRUE(RegisterTableCommands(registry_, program_, pipe::RcuDomain{}).ok());
    pool_ = rte_pktmbuf_pool_create("tcmd_pool", 512, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override { rte_mempool_free(pool_); }

  absl::StatusOr<json> Call(const char* cmd, const json& args) { return registry_.Call(cmd, args); }
  json Ok(const char* cmd, const json& args) {
    auto r = Call(cmd, args);
    EXPECT_TRUE(r.ok()) << cmd << " " << args.dump() << ": " << r.status();
    return r.ok() ? *r : json();
  }
  std::string Error(const char* cmd, const json& args) {
    auto r = Call(cmd, args);
    return r.ok() ? "ok: " + r->dump() : std::string(r.status().message());
  }

  // One IPv4/UDP frame of `len` bytes to `dst` with `ttl`, through pipe
  // `pipe`'s ingress at `t_ns`. The model counts it as the nexthop table's
  // direct counter must: every routed packet, TTL-expired ones included.
  void Send(uint16_t pipe, uint32_t dst, uint16_t len, uint8_t ttl = 64, uint64_t t_ns = 0) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    uint8_t* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
    std::memset(f, 0, len);
    f[12] = 0x08;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + 14);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(len - 14));
    ip->time_to_live = ttl;
    ip->next_proto_id = 17;
    ip->src_addr = rte_cpu_to_be_32(0xc0a80001);
    ip->dst_addr = rte_cpu_to_be_32(dst);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    pipe::PacketBurst burst;
    burst.count = 0;
    burst.Append(m, 0, t_ns, pipe);
    program_.Ingress(burst);
    const int nh = RouteOf(dst);
    EXPECT_EQ(burst.md[0].dropped(), nh == 0 || ttl <= 1) << dst;
    if (nh != 0) {
      model_[nh].packets += 1;
      model_[nh].bytes += len;
    }
    rte_pktmbuf_free(m);
  }

  // The next hop the routes send `dst` to (0: none), independently of the
  // switch.
  int RouteOf(uint32_t dst) const {
    const auto it = routes_.find(dst >> 16);
    return it == routes_.end() ? 0 : it->second;
  }

  // What table_counter_read must say for next hop `id`.
  json Want(int id) {
    const Counts c = model_.count(id) ? model_[id] : Counts{};
    return {{"key", {{"nexthop_id", id}}}, {"counter", {{"packets", c.packets}, {"bytes", c.bytes}}}};
  }
  json WantAll() {
    json all = json::array();
    for (int id = 1; id <= 4; ++id) all.push_back(Want(id));
    return {{"table", "nexthop"}, {"entries", all}};
  }
  // A mixed workload: both pipes, lengths 60..1500, TTL 1 (routed, then
  // dropped), no route.
  void Workload() {
    for (int k = 0; k < 200; ++k) {
      const uint32_t dst = (0x0a000000u | static_cast<uint32_t>(k % 5) << 16) + 7;
      Send(static_cast<uint16_t>(k % 2), dst, static_cast<uint16_t>(60 + k * 37 % 1441),
           k % 7 == 0 ? 1 : 64);
    }
  }

  L3fwd program_;
  CommandRegistry registry_;
  rte_mempool* pool_ = nullptr;
  std::map<int, Counts> model_;
  std::map<uint32_t, int> routes_ = ConfigRoutes();  // /16 -> next hop
};

TEST_F(TableCommandsTest, CounterReadIsWhatThePipesSaw) {
  Workload();
  ASSERT_GT(model_[1].packets, 0u);
  ASSERT_GT(model_[3].packets, 0u);
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), WantAll());
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}, {"entry", Key(3)}}),
            (json{{"table", "nexthop"}, {"entries", {Want(3)}}}));
  // The direct counter counts TTL-expired packets (the table hit), the
  // indexed nexthop_counter only those forwarded.
  const pipe::CounterArray* indexed = *program_.stateful_control()->FindCounter("nexthop_counter");
  ASSERT_NE(indexed, nullptr);
  uint64_t expired = 0;
  for (int k = 0; k < 200; k += 7) expired += RouteOf((0x0a000000u | (k % 5) << 16) + 7) == 1;
  ASSERT_GT(expired, 0u);
  EXPECT_EQ(indexed->Read(1)->packets + expired, model_[1].packets);

  // table_dump: a config unless asked for counters.
  EXPECT_EQ(Ok("table_dump", {{"table", "nexthop"}}), Config()["tables"]["nexthop"]);
  json with = Config()["tables"]["nexthop"];
  for (int i = 0; i < 4; ++i) with[i]["counter"] = Want(i + 1)["counter"];
  EXPECT_EQ(Ok("table_dump", {{"table", "nexthop"}, {"counters", true}}), with);
  const json all = Ok("table_dump", {{"counters", true}});
  EXPECT_EQ(all["tables"]["nexthop"], with);
  EXPECT_EQ(all["tables"]["ipv4_lpm"], Config()["tables"]["ipv4_lpm"]);  // no counter there
  EXPECT_EQ(Ok("table_dump", {{"counters", false}}), json({{"tables", {{"nexthop", Config()["tables"]["nexthop"]}, {"ipv4_lpm", Config()["tables"]["ipv4_lpm"]}, {"ipv6_lpm", json::array()}}}}));
}

TEST_F(TableCommandsTest, ClearOneThenAllAndCountingGoesOn) {
  Workload();
  EXPECT_EQ(Ok("table_counter_clear", {{"table", "nexthop"}, {"entry", Key(2)}}),
            (json{{"table", "nexthop"}, {"cleared", 1}}));
  model_[2] = {};
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), WantAll());
  Send(1, 0x0a020001, 100);
  Send(0, 0x0a020001, 1000, 1);
  EXPECT_EQ(Want(2)["counter"], (json{{"packets", 2}, {"bytes", 1100}}));
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), WantAll());

  EXPECT_EQ(Ok("table_counter_clear", {{"table", "nexthop"}}),
            (json{{"table", "nexthop"}, {"cleared", 4}}));
  model_.clear();
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), WantAll());
  Workload();
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), WantAll());
}

// A counter belongs to its entry: it carries on across modifies and other
// commits, and a deleted then re-added next hop starts from zero.
TEST_F(TableCommandsTest, CounterFollowsTheEntryAcrossCommits) {
  Workload();
  Ok("table_modify", {{"table", "nexthop"}, {"entry", Nexthop(3, 2)}});
  Ok("table_add", {{"table", "ipv4_lpm"}, {"entry", Route("10.9.0.0/16", 4)}});
  routes_[0x0a09] = 4;
  Send(0, 0x0a030001, 77);
  Send(1, 0x0a090001, 88);
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), WantAll());

  Ok("table_delete", {{"table", "ipv4_lpm"}, {"entry", {{"key", {{"dst_addr", "10.9.0.0/16"}}}}}});
  routes_.erase(0x0a09);
  Ok("table_delete", {{"table", "nexthop"}, {"entry", Key(4)}});
  EXPECT_EQ(Error("table_counter_read", {{"table", "nexthop"}, {"entry", Key(4)}}),
            "entry.key.nexthop_id: no nexthop_id 4 in the nexthop table");
  Ok("table_add", {{"table", "nexthop"}, {"entry", Nexthop(4, 1)}});
  model_[4] = {};
  EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), WantAll());
}

TEST_F(TableCommandsTest, RefusedRequestsNameTheProblemAndChangeNothing) {
  Workload();
  Ok("table_counter_clear", {{"table", "nexthop"}, {"entry", Key(1)}});
  model_[1] = {};
  const json before = WantAll();
  const struct {
    const char* cmd;
    json args;
    std::string error;
  } cases[] = {
      {"table_counter_read", json::object(),
       "table: missing; this program has 'nexthop', 'ipv4_lpm', 'ipv6_lpm'"},
      {"table_counter_clear", {{"table", "routes"}},
       "table: no such table 'routes' in this program (it has 'nexthop', 'ipv4_lpm', 'ipv6_lpm')"},
      {"table_counter_clear", {{"table", "ipv4_lpm"}},
       "table: 'ipv4_lpm' has no direct counter (tables with one: 'nexthop')"},
      {"table_counter_read", {{"table", "ipv6_lpm"}, {"entry", Key(1)}},
       "table: 'ipv6_lpm' has no direct counter (tables with one: 'nexthop')"},
      {"table_counter_clear", {{"table", "nexthop"}, {"entry", Key(9)}},
       "entry.key.nexthop_id: no nexthop_id 9 in the nexthop table"},
      {"table_counter_clear", {{"table", "nexthop"}, {"entry", Key(65536)}},
       "entry.key.nexthop_id: 65536 is not an integer in 0..65535"},
      {"table_counter_read", {{"table", "nexthop"}, {"entry", Key(-1)}},
       "entry.key.nexthop_id: -1 is not an integer in 0..65535"},
      {"table_counter_clear", {{"table", "nexthop"}, {"entry", {{"key", {{"id", 1}}}}}},
       "entry.key: unknown field 'id' (expected 'nexthop_id')"},
      {"table_counter_clear", {{"table", "nexthop"}, {"entry", Nexthop(1, 1)}},
       "entry: unknown field 'action': a counter request names only the entry's key"},
      {"table_counter_read", {{"table", "nexthop"}, {"entry", 3}},
       "entry: a counter request names the entry's key: {\"key\": {...}}"},
      {"table_counter_clear", {{"table", "nexthop"}, {"key", {{"nexthop_id", 1}}}},
       "unknown argument 'key': table_counter_clear takes table, entry"},
      {"table_dump", {{"table", "nexthop"}, {"counters", "yes"}},
       "counters: expected true or false, not \"yes\""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Error(c.cmd, c.args), c.error) << c.cmd << " " << c.args.dump();
    EXPECT_EQ(Ok("table_counter_read", {{"table", "nexthop"}}), before) << c.args.dump();
  }
}

TEST_F(TableCommandsTest, EntryTtlRoundTrips) {
  json nh5 = Nexthop(5, 1);
  nh5["ttl_ms"] = 2500;
  Ok("table_add", {{"table", "nexthop"}, {"entry", nh5}});
  EXPECT_EQ(Ok("table_dump", {{"table", "nexthop"}})[4], nh5);
  // A modify without ttl_ms keeps it; with 0 the entry no longer ages.
  json moved = Nexthop(5, 2);
  Ok("table_modify", {{"table", "nexthop"}, {"entry", moved}});
  moved["ttl_ms"] = 2500;
  EXPECT_EQ(Ok("table_dump", {{"table", "nexthop"}})[4], moved);
  moved["ttl_ms"] = 0;
  Ok("table_modify", {{"table", "nexthop"}, {"entry", moved}});
  EXPECT_EQ(Ok("table_dump", {{"table", "nexthop"}})[4], Nexthop(5, 2));

  const json before = Ok("table_dump", json::object());
  json bad = Nexthop(6, 1);
  for (const auto& [ttl, error] : std::vector<std::pair<json, std::string>>{
           {-5, "entry.ttl_ms: -5 is not an integer in 0..86400000 (ms; 0: the entry never ages out)"},
           {"5", "entry.ttl_ms: \"5\" is not an integer in 0..86400000 (ms; 0: the entry never ages out)"},
           {86400001, "entry.ttl_ms: 86400001 is not an integer in 0..86400000 (ms; 0: the entry "
                      "never ages out)"}}) {
    bad["ttl_ms"] = ttl;
    EXPECT_EQ(Error("table_add", {{"table", "nexthop"}, {"entry", bad}}), error);
  }
  json route = Route("10.8.0.0/16", 1);
  route["ttl_ms"] = 100;
  EXPECT_EQ(Error("table_add", {{"table", "ipv4_lpm"}, {"entry", route}}),
            "entry: unknown field 'ttl_ms' (expected 'key', 'action', 'data')");
  EXPECT_EQ(Ok("table_dump", json::object()), before);

  // The config takes ttl_ms too, and dumps it back.
  json config = Config();
  config["tables"]["nexthop"][1]["ttl_ms"] = 40;
  L3fwd other;
  ASSERT_TRUE(other.Configure(config, {3}).ok());
  EXPECT_EQ(*other.Dump("nexthop"), config["tables"]["nexthop"]);
}

// Idle timeout in pipe time, set here through Background (as the pipes
// publish their clocks) and the packets' timestamps.
class IdleTimeoutTest : public TableCommandsTest {
 protected:
  void SetUp() override {
    json config = Config();
    for (int i = 0; i < 3; ++i) config["tables"]["nexthop"][i]["ttl_ms"] = 10;  // 1, 2, 3
    // Next hop 4: no TTL, never reported.
    ASSERT_TRUE(program_.Configure(config, {3, /*pipes=*/2}).ok());
    ASSERT_TRUE(RegisterTableCommands(registry_, program_, pipe::RcuDomain{}).ok());
    pool_ = rte_pktmbuf_pool_create("idle_pool", 64, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  void Clocks(uint64_t pipe0, uint64_t pipe1) {
    program_.Background(0, pipe0);
    program_.Background(1, pipe1);
  }
  // The ids reported by one slow-path tick, each checked for its fields.
  std::vector<int> Tick() {
    std::vector<int> ids;
    program_.DrainEvents([&](json e) {
      EXPECT_EQ(e["event"], "idle_timeout");
      EXPECT_EQ(e["table"], "nexthop");
      EXPECT_EQ(e["ttl_ms"], 10);
      last_[e["key"]["nexthop_id"].get<int>()] = e["last_hit_ns"].get<uint64_t>();
      ids.push_back(e["key"]["nexthop_id"].get<int>());
    });
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  std::map<int, uint64_t> last_;
};

TEST_F(IdleTimeoutTest, ReportsExactlyTheIdleEntriesOnceAtTheSlowestPipesTime) {
  using V = std::vector<int>;
  const uint64_t t0 = 1'000'000 * kMs;  // the switch's time begins here
  EXPECT_EQ(Tick(), V{});               // no pipe has a clock yet
  Clocks(t0, 0);
  EXPECT_EQ(Tick(), V{});  // pipe 1 has none yet
  program_.Background(1, t0 + 1 * kMs);
  Send(0, 0x0a010001, 100, 64, t0 + 5 * kMs);  // next hop 1
  Send(1, 0x0a020001, 100, 1, t0 + 8 * kMs);   // next hop 2 (TTL expired: still a hit)
  Clocks(t0 + 9 * kMs, t0 + 9 * kMs);
  EXPECT_EQ(Tick(), V{});
  // Next hop 3 has had no hit since the switch's time began (t0).
  Clocks(t0 + 10 * kMs, t0 + 10 * kMs);
  EXPECT_EQ(Tick(), V{3});
  EXPECT_EQ(last_[3], 0u);
  // Pipe 0 is past next hop 1's deadline (t0 + 15 ms), pipe 1 is not: pipe 1
  // could still hit it, so no report yet.
  Clocks(t0 + 30 * kMs, t0 + 14 * kMs);
  EXPECT_EQ(Tick(), V{});
  program_.Background(1, t0 + 15 * kMs);
  EXPECT_EQ(Tick(), V{1});
  EXPECT_EQ(last_[1], t0 + 5 * kMs);
  program_.Background(1, t0 + 18 * kMs - 1);
  EXPECT_EQ(Tick(), V{});
  program_.Background(1, t0 + 18 * kMs);
  EXPECT_EQ(Tick(), V{2});
  EXPECT_EQ(last_[2], t0 + 8 * kMs);
  // Once per idle period: nothing more while they stay idle.
  Clocks(t0 + 100 * kMs, t0 + 100 * kMs);
  EXPECT_EQ(Tick(), V{});
  // A hit starts a new period, reported again TTL after it.
  Send(1, 0x0a010001, 64, 64, t0 + 101 * kMs);
  Clocks(t0 + 110 * kMs, t0 + 110 * kMs);
  EXPECT_EQ(Tick(), V{});
  // The switch stops: Finish gives every pipe the end time, a last sweep.
  program_.Finish(0, t0 + 111 * kMs);
  program_.Finish(1, t0 + 111 * kMs);
  EXPECT_EQ(Tick(), V{1});
  EXPECT_EQ(last_[1], t0 + 101 * kMs);
  // Next hop 4 (no TTL) was never reported, though never hit.
}

// However late the first sweep runs (a fast virtual-time replay), config
// entries are idle from when the switch's time began, and entries added at
// run time from the first sweep after their commit.
TEST_F(IdleTimeoutTest, LateFirstSweepAndEntriesAddedLater) {
  using V = std::vector<int>;
  const uint64_t t0 = 5'000 * kMs;
  Clocks(t0, t0);
  Send(0, 0x0a010001, 100, 64, t0 + 20 * kMs);
  Send(0, 0x0a020001, 100, 64, t0 + 25 * kMs);
  Clocks(t0 + 28 * kMs, t0 + 28 * kMs);  // the first tick comes only now
  EXPECT_EQ(Tick(), V{3});
  json nh5 = Nexthop(5, 1);
  nh5["ttl_ms"] = 10;
  Ok("table_add", {{"table", "nexthop"}, {"entry", nh5}});
  Clocks(t0 + 30 * kMs, t0 + 30 * kMs);
  EXPECT_EQ(Tick(), V{1});  // 1: idle since +20; 5: its clock starts at +30
  Clocks(t0 + 35 * kMs - 1, t0 + 35 * kMs - 1);
  EXPECT_EQ(Tick(), V{});
  Clocks(t0 + 40 * kMs - 1, t0 + 40 * kMs - 1);
  EXPECT_EQ(Tick(), V{2});  // idle since +25
  EXPECT_EQ(last_[2], t0 + 25 * kMs);
  Clocks(t0 + 40 * kMs, t0 + 40 * kMs);
  EXPECT_EQ(Tick(), V{5});
  EXPECT_EQ(last_[5], 0u);
}

}  // namespace
}  // namespace softfino::control
