// Topologies (several switches in one process): the file's parse, with the
// error each mistake gets, and internal links moving packets between the
// queues the link's comment promises.
#include "softfino/control/topology.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "softfino/dataplane/links.h"

namespace softfino::control {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::vector<std::string> kPipelines = {"l3fwd", "dta_reporter"};

json TwoSwitches() {
  return json::parse(R"({"switches": [
    {"name": "a", "pipeline": "l3fwd", "config": {"tables": {}},
     "ports": ["net_pcap0", {"link": "ab"}, "net_pcap1"]},
    {"name": "b", "pipeline": "dta_reporter", "fp_cores": 2,
     "ports": [{"link": "ab"}, "net_pcap2"]}]})");
}

std::string ErrorOf(const json& j) {
  auto t = ParseTopology(j, "/x/topo.json", kPipelines);
  EXPECT_FALSE(t.ok());
  return t.ok() ? "" : std::string(t.status().message());
}

TEST(TopologyTest, ParsesSwitchesPortsAndLinks) {
  auto t = ParseTopology(TwoSwitches(), "/x/topo.json", kPipelines);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->switches.size(), 2u);
  EXPECT_EQ(t->switches[0].name, "a");
  EXPECT_EQ(t->switches[0].fp_cores, 1);
  EXPECT_EQ(t->switches[1].fp_cores, 2);
  EXPECT_EQ(t->switches[0].ports[0].device, "net_pcap0");
  EXPECT_EQ(t->switches[0].ports[1].link, "ab");
  EXPECT_EQ(t->switches[0].config, json::parse(R"({"tables": {}})"));
  ASSERT_EQ(t->links.size(), 1u);
  const Topology::Link& l = t->links[0];
  EXPECT_EQ(l.name, "ab");
  EXPECT_EQ(l.a_switch, 0u);
  EXPECT_EQ(l.a_port, 1u);
  EXPECT_EQ(l.b_switch, 1u);
  EXPECT_EQ(l.b_port, 0u);
}

TEST(TopologyTest, ConfigFilesAreRelativeToTheTopology) {
  json j = TwoSwitches();
  j["switches"][1]["config"] = "b.json";
  j["switches"][0]["config"] = "/etc/a.json";
  auto t = ParseTopology(j, "/x/topo.json", kPipelines);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->switches[1].config_path, "/x/b.json");
  EXPECT_EQ(t->switches[0].config_path, "/etc/a.json");
}

TEST(TopologyTest, EveryMistakeIsNamed) {
  json j = TwoSwitches();
  j["switches"][1]["ports"][0] = json{{"link", "ba"}};
  EXPECT_THAT(ErrorOf(j), HasSubstr("link \"ab\" has one end (switch a port 1)"));

  j = TwoSwitches();
  j["switches"][1]["ports"].push_back(json{{"link", "ab"}});
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[1].ports[2]: link \"ab\" already has both its ends"));

  j = TwoSwitches();
  j["switches"][1]["ports"][1] = "net_pcap0";
  EXPECT_THAT(ErrorOf(j), HasSubstr("device net_pcap0 is already a port of switch a"));

  j = TwoSwitches();
  j["switches"][1]["pipeline"] = "nope";
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[1].pipeline: no program \"nope\"; one of l3fwd"));

  j = TwoSwitches();
  j["switches"][1]["name"] = "a";
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[1].name: \"a\" is also switches[0]'s name"));

  j = TwoSwitches();
  j["switches"][0]["name"] = "has space";
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[0].name: missing or bad"));

  j = TwoSwitches();
  j["switches"][0]["ports"][1] = json{{"link", std::string(21, 'x')}};
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[0].ports[1].link"));

  j = TwoSwitches();
  j["switches"][0]["ports"][0] = 3;
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[0].ports[0]: a port is a DPDK device name"));

  j = TwoSwitches();
  j["switches"][0]["fp_cores"] = 0;
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[0].fp_cores"));

  j = TwoSwitches();
  j["switches"][0]["config"] = 7;
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[0].config"));

  j = TwoSwitches();
  j["switches"][0]["port"] = 7;
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[0].port: unknown field"));

  j = TwoSwitches();
  j["switches"][0].erase("ports");
  EXPECT_THAT(ErrorOf(j), HasSubstr("switches[0].ports: missing"));

  EXPECT_THAT(ErrorOf(json::parse(R"({"switches": []})")), HasSubstr("expected {\"switches\""));
  EXPECT_THAT(ErrorOf(json::parse(R"({"switches": [], "x": 1})")), HasSubstr("expected"));
}

// Starts DPDK port `port` with `rx` and `tx` queues.
void StartPort(uint16_t port, uint16_t rx, uint16_t tx, rte_mempool* pool) {
  rte_eth_conf conf{};
  ASSERT_EQ(rte_eth_dev_configure(port, rx, tx, &conf), 0);
  for (uint16_t q = 0; q < rx; ++q) {
    ASSERT_EQ(rte_eth_rx_queue_setup(port, q, 64, SOCKET_ID_ANY, nullptr, pool), 0);
  }
  for (uint16_t q = 0; q < tx; ++q) {
    ASSERT_EQ(rte_eth_tx_queue_setup(port, q, 64, SOCKET_ID_ANY, nullptr), 0);
  }
  ASSERT_EQ(rte_eth_dev_start(port), 0);
}

// What end `from` sends on TX queue `tx` arrives at end `to` on RX queue
// `expected_rx` and no other.
void ExpectCrossing(uint16_t from, uint16_t tx, uint16_t to, uint16_t to_queues,
                    uint16_t expected_rx, rte_mempool* pool) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  ASSERT_NE(m, nullptr);
  rte_pktmbuf_append(m, 60);
  ASSERT_EQ(rte_eth_tx_burst(from, tx, &m, 1), 1);
  for (uint16_t q = 0; q < to_queues; ++q) {
    rte_mbuf* got[4];
    const uint16_t n = rte_eth_rx_burst(to, q, got, 4);
    EXPECT_EQ(n, q == expected_rx ? 1 : 0) << "TX queue " << tx << " -> RX queue " << q;
    if (n == 1) {
      EXPECT_EQ(got[0], m);
    }
    for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(got[i]);
  }
}

TEST(InternalLinkTest, PipeIGoesToPipeIModuloTheFarEndsPipes) {
  rte_mempool* pool = rte_pktmbuf_pool_create("topo_test", 1023, 0, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  {
    auto link = dataplane::InternalLink::Create("t3to2", 3, 2);
    ASSERT_TRUE(link.ok()) << link.status();
    const uint16_t a = (*link)->a_port(), b = (*link)->b_port();
    char name[RTE_ETH_NAME_MAX_LEN];
    ASSERT_EQ(rte_eth_dev_get_name_by_port(a, name), 0);
    EXPECT_STREQ(name, "net_ring_t3to2_a");
    StartPort(a, 3, 3, pool);
    StartPort(b, 2, 2, pool);
    // a (3 pipes) -> b (2 pipes): TX queue i -> RX queue i % 2.
    ExpectCrossing(a, 0, b, 2, 0, pool);
    ExpectCrossing(a, 1, b, 2, 1, pool);
    ExpectCrossing(a, 2, b, 2, 0, pool);
    // b -> a: queue i -> queue i.
    ExpectCrossing(b, 0, a, 3, 0, pool);
    ExpectCrossing(b, 1, a, 3, 1, pool);
    rte_eth_dev_stop(a);
    rte_eth_dev_stop(b);
    rte_eth_dev_close(a);
    rte_eth_dev_close(b);
  }
  rte_mempool_free(pool);
}

}  // namespace
}  // namespace softfino::control
