// l3fwd's config loading: every kind of bad entry is refused with a message
// that names the entry and the fix, and a good one is accepted whole.
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipelines/l3fwd/l3fwd.h"

namespace softfino::pipelines {
namespace {

nlohmann::json GoodConfig() {
  return nlohmann::json::parse(R"({"tables": {
    "nexthop": [
      {"key": {"nexthop_id": 1}, "action": "forward",
       "data": {"port": 1, "src_mac": "02:00:00:00:01:00", "dst_mac": "02:00:00:00:01:01"}},
      {"key": {"nexthop_id": 2}, "action": "forward",
       "data": {"port": 0, "src_mac": "02:00:00:00:02:00", "dst_mac": "02:00:00:00:02:01"}}
    ],
    "ipv4_lpm": [
      {"key": {"dst_addr": "10.0.0.0/8"}, "action": "set_nexthop", "data": {"nexthop_id": 1}},
      {"key": {"dst_addr": "0.0.0.0/0"}, "action": "set_nexthop", "data": {"nexthop_id": 2}}
    ],
    "ipv6_lpm": [
      {"key": {"dst_addr": "2001:db8::/32"}, "action": "set_nexthop", "data": {"nexthop_id": 2}}
    ]
  }})");
}

// Applies `edit` to a good config and returns the error message.
std::string ErrorAfter(void (*edit)(nlohmann::json&)) {
  nlohmann::json config = GoodConfig();
  edit(config);
  auto program = L3fwd::Create();
  const absl::Status s = program->Configure(config, {2});
  return s.ok() ? "ok" : std::string(s.message());
}

TEST(L3fwdConfig, AcceptsGoodConfigAndNone) {
  EXPECT_TRUE(L3fwd::Create()->Configure(GoodConfig(), {2}).ok());
  EXPECT_TRUE(L3fwd::Create()->Configure(nlohmann::json(), {2}).ok());
  EXPECT_TRUE(L3fwd::Create()->Configure(nlohmann::json::parse(R"({"tables": {}})"), {2}).ok());
}

TEST(L3fwdConfig, NamesTheEntryAndTheProblem) {
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["ipv4_lpm"][1]["key"]["dst_addr"] = "10.1.0.0/33"; }),
            "tables.ipv4_lpm[1].key.dst_addr: '10.1.0.0/33' has a bad prefix length: expected 0-32");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["nexthop"][0]["data"]["port"] = 5; }),
            "tables.nexthop[0].data.port: port 5 does not exist; this switch has 2 port(s), 0..1");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["ipv6_lpm"][0]["data"]["nexthop_id"] = 9; }),
            "tables.ipv6_lpm[0].data.nexthop_id: nexthop_id 9 is not in the nexthop table");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["nexthop"][1]["key"]["nexthop_id"] = 1; }),
            "tables.nexthop[1].key.nexthop_id: nexthop_id 1 is defined twice");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["nexthop"][0]["data"].erase("dst_mac"); }),
            "tables.nexthop[0].data.dst_mac: missing");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["nexthop"][0]["data"]["src_mac"] = "02:00"; }),
            "tables.nexthop[0].data.src_mac: '02:00' is not a MAC address: expected six hex bytes like "
            "02:00:00:00:00:01");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["nexthop"][0]["data"]["prot"] = 1; }),
            "tables.nexthop[0].data: unknown field 'prot' (expected 'port', 'src_mac', 'dst_mac')");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["ipv4_lpm"][0]["action"] = "drop"; }),
            "tables.ipv4_lpm[0].action: unknown action 'drop' (expected 'set_nexthop')");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["ipv4_lpms"] = nlohmann::json::array(); }),
            "tables.ipv4_lpms: no such table in this program (it has 'nexthop', 'ipv4_lpm', 'ipv6_lpm')");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["nexthop"][0]["key"]["nexthop_id"] = -1; }),
            "tables.nexthop[0].key.nexthop_id: -1 is not an integer in 0..65535");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["tables"]["ipv4_lpm"] = 3; }),
            "tables.ipv4_lpm: must be an array of entries");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["routes"] = 3; }),
            "config: unknown field 'routes' (expected 'tables', 'ports', 'multicast_groups', "
            "'mirror_sessions', 'pktgen', 'rdma')");
}

}  // namespace
}  // namespace softfino::pipelines
