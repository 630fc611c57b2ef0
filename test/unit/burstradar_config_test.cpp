// BurstRadar's monitor ports: one, or one per pipe with watched ports, each
// with its mirror session. Bad lists are refused with a message naming the
// fix; a good one gives each pipe's couriers their own session and port.
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipelines/burstradar/burstradar.h"

namespace softfino::pipelines {
namespace {

// Two pipes, nine ports (port P in pipe P % 2): 0 -> 6 (pipe 0) and
// 1 -> 5 (pipe 1), monitors 8 (pipe 0) and 7 (pipe 1).
nlohmann::json TwoPipeConfig() {
  return nlohmann::json::parse(R"({"burstradar": {
    "forward": [{"in": 0, "out": 6}, {"in": 1, "out": 5}],
    "threshold_bytes": 15000, "monitor_port": [8, 7], "mirror_session": 900}})");
}

std::string ErrorAfter(void (*edit)(nlohmann::json&)) {
  nlohmann::json config = TwoPipeConfig();
  edit(config);
  const absl::Status s = BurstRadar::Create()->Configure(config, pipe::SwitchInfo(9, 2));
  return s.ok() ? "ok" : std::string(s.message());
}

TEST(BurstRadarConfig, RefusesMonitorPortsThatCannotServeEveryPipe) {
  EXPECT_EQ(ErrorAfter([](nlohmann::json&) {}), "ok");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["monitor_port"] = 8u; }),
            "burstradar: watched port 5 is in pipe 1, which has no monitor port; a courier reads "
            "its ring entry in its own pipe (give monitor_port a list with a port of each pipe "
            "that has watched ports, port P being in pipe P % 2, or watch ports of the monitor's "
            "pipe only, or run --fp-cores 1)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["monitor_port"] = {8u, 4u}; }),
            "burstradar.monitor_port[1]: port 4 is in pipe 0 as another monitor port is; give "
            "each pipe one (port P is in pipe P % 2)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["monitor_port"] = {8u, 7u, 3u}; }),
            "burstradar.monitor_port: 3 ports for 2 pipe(s); give at most one per pipe (port P is "
            "in pipe P % 2)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["monitor_port"] = {8u, 9u}; }),
            "burstradar.monitor_port[1] is 9; it must be an integer 0..8");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["monitor_port"] = {8u, 5u}; }),
            "burstradar: port 5 is a monitor port; it cannot also be watched");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["mirror_session"] = {900u}; }),
            "burstradar.mirror_session: 1 sessions for 2 monitor port(s); give one per monitor "
            "port, or one number (then one per port from it)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["mirror_session"] = {900u, 900u}; }),
            "burstradar.mirror_session: session 900 is given twice");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["burstradar"]["mirror_session"] = 1023u; }),
            "burstradar.mirror_session: sessions 1023..1024 go beyond 1023; start lower");
}

TEST(BurstRadarConfig, ASessionPerMonitorPort) {
  auto program = BurstRadar::Create();
  ASSERT_TRUE(program->Configure(TwoPipeConfig(), pipe::SwitchInfo(9, 2)).ok());
  const auto sessions = program->Replication().mirror_sessions;
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].session, 900);
  EXPECT_EQ(sessions[0].port, 8);
  EXPECT_EQ(sessions[1].session, 901);
  EXPECT_EQ(sessions[1].port, 7);
  nlohmann::json listed = TwoPipeConfig();
  listed["burstradar"]["mirror_session"] = {5u, 3u};
  ASSERT_TRUE(program->Configure(listed, pipe::SwitchInfo(9, 2)).ok());
  const auto given = program->Replication().mirror_sessions;
  ASSERT_EQ(given.size(), 2u);
  EXPECT_EQ(given[0].session, 5);
  EXPECT_EQ(given[1].session, 3);
}

}  // namespace
}  // namespace softfino::pipelines
