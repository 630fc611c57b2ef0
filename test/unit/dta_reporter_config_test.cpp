// dta_reporter's report ports: one port, or one per pipe with a source
// address each. Bad lists are refused with a message naming the fix; a good
// one wires each pipe's multicast groups to the report port that pipe owns.
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipelines/dta_reporter/dta_reporter.h"

namespace softfino::pipelines {
namespace {

// Two pipes, six ports: port P is in pipe P % 2. Traffic 0 -> 2 (pipe 0)
// and 1 -> 3 (pipe 1); reports out of 4 (pipe 0) and 5 (pipe 1).
nlohmann::json TwoPipeConfig() {
  return nlohmann::json::parse(R"({"dta_reporter": {
    "switch_id": 7, "forward": [{"in": 0, "out": 2}, {"in": 1, "out": 3}],
    "report_port": [4, 5],
    "report": {"src_ip": ["10.0.0.7", "10.0.0.8"], "dst_ip": "10.0.255.255",
               "src_mac": "02:00:00:00:00:07", "dst_mac": "02:00:00:00:00:ff"},
    "key_increment": {"redundancy": 2, "counter": "packets", "every": 1}}})");
}

std::string ErrorAfter(void (*edit)(nlohmann::json&), uint16_t pipes = 2) {
  nlohmann::json config = TwoPipeConfig();
  edit(config);
  const absl::Status s = DtaReporter::Create()->Configure(config, pipe::SwitchInfo(6, pipes));
  return s.ok() ? "ok" : std::string(s.message());
}

TEST(DtaReporterConfig, OnePortOrOnePerPipe) {
  EXPECT_EQ(ErrorAfter([](nlohmann::json&) {}), "ok");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) {
              c["dta_reporter"]["report_port"] = 4u;
              c["dta_reporter"]["report"]["src_ip"] = "10.0.0.7";
            }),
            "ok");
}

TEST(DtaReporterConfig, RefusesBadReportPortLists) {
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["report_port"] = {4u, 6u}; }),
            "dta_reporter.report_port[1] is 6; it must be a port 0..5");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["report_port"] = {4u, 0u}; }),
            "dta_reporter.report_port[1]: port 0 is in pipe 0 as report_port[0] (port 4) is; "
            "give each pipe one report port (port P is in pipe P % 2)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["report_port"] = {4u, 5u}; }, 1),
            "dta_reporter.report_port: a list of 1..1 ports (at most one per pipe: a pipe reports "
            "through the one it owns)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["report_port"] = {3u, 4u}; }),
            "dta_reporter.forward[1]: port 3 is a report port; forwarded traffic needs another");
}

TEST(DtaReporterConfig, EachReportPortHasItsOwnSourceAddress) {
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["report"]["src_ip"] = "10.0.0.7"; }),
            "dta_reporter.report.src_ip: 2 report port(s) need a list of 2 source addresses, one "
            "per report port in its order (each port numbers its own reports, and the translator "
            "follows a sequence per source address)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["report"]["src_ip"] = {"10.0.0.7"}; }),
            "dta_reporter.report.src_ip: 2 report port(s) need a list of 2 source addresses, one "
            "per report port in its order (each port numbers its own reports, and the translator "
            "follows a sequence per source address)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) {
              c["dta_reporter"]["report"]["src_ip"] = {"10.0.0.7", "10.0.0.7"};
            }),
            "dta_reporter.report.src_ip[1] is also src_ip[0]: each report port needs its own (the "
            "translator would see two sequences as one)");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) {
              c["dta_reporter"]["report"]["src_ip"] = {"10.0.0.7", "10.0.0.256"};
            }),
            "dta_reporter.report.src_ip[1]: \"10.0.0.256\" is not an IPv4 address");
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) {
              c["dta_reporter"]["report_port"] = 4u;
              c["dta_reporter"]["report"]["src_ip"] = {"10.0.0.7"};
            }),
            "dta_reporter.report.src_ip: 1 report port(s) need one source address, as a string");
}

TEST(DtaReporterConfig, GroupsBeyondTheLastIdAreRefused) {
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["multicast_group_base"] = 0xffc0u; }),
            "ok");  // its last group is 0xffff
  EXPECT_EQ(ErrorAfter([](nlohmann::json& c) { c["dta_reporter"]["multicast_group_base"] = 0xffd0u; }),
            "dta_reporter: 2 forwarding port(s) x 2 report port(s) need 64 multicast groups from "
            "multicast_group_base 65488, beyond group 0xffff; lower multicast_group_base");
}

// Every group sends its reports to one report port; the groups that forward
// to a port of pipe P report through pipe P's port, and each report port
// has groups for every forwarding port.
TEST(DtaReporterConfig, GroupsOfEachReportPort) {
  auto program = DtaReporter::Create();
  ASSERT_TRUE(program->Configure(TwoPipeConfig(), pipe::SwitchInfo(6, 2)).ok());
  const pipe::ProgramReplication r = program->Replication();
  EXPECT_EQ(r.groups.size(), 2u * 2u * 15u);  // forwarding ports x report ports x report sets
  std::set<std::pair<uint16_t, uint16_t>> forward_and_report;
  std::set<uint16_t> ids;
  for (const auto& g : r.groups) {
    ids.insert(g.group);
    std::set<uint16_t> report_ports;
    uint16_t forward = 0xffff;
    for (const auto& m : g.members) {
      if (m.rid == DtaReporter::kForwardRid) {
        forward = m.port;
      } else {
        report_ports.insert(m.port);
      }
    }
    ASSERT_EQ(report_ports.size(), 1u) << "group " << g.group;
    forward_and_report.insert({forward, *report_ports.begin()});
  }
  EXPECT_EQ(ids.size(), r.groups.size()) << "group ids are distinct";
  EXPECT_EQ(forward_and_report,
            (std::set<std::pair<uint16_t, uint16_t>>{{2, 4}, {2, 5}, {3, 4}, {3, 5}}));
}

}  // namespace
}  // namespace softfino::pipelines
