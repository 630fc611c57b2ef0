// The dta_reporter's config section, parsed and checked on the control
// path (see README.md for an example):
//   "dta_reporter": {
//     "base_form": "3-byte", "switch_id": 7, "hop": 1,
//     "forward": [{"in": 0, "out": 1}],
//     "report_port": 2,
//     "report": {"src_ip": "10.0.0.1", "dst_ip": "10.0.255.255",
//                "src_mac": "02:...", "dst_mac": "02:..."},
//     (or, with several pipes, a report port per pipe, each with its own
//     source address and so its own sequence of report numbers:
//      "report_port": [4, 5], "report": {"src_ip": ["10.0.0.1", "10.0.0.2"], ...})
//     "flow_slots": 65536,
//     "key_write": {"redundancy": 2},
//     "key_increment": {"redundancy": 2, "counter": "bytes", "every": 1},
//     "append": {"list": 0},
//     "postcarding": {}
//   }
// A primitive whose section is absent is not reported.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/net/dta.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

struct ReporterConfig {
  net::DtaBaseForm base_form = net::kDefaultDtaBaseForm;
  uint16_t switch_id = 0;
  uint8_t hop = 1;
  std::vector<pipe::PortId> forward;  // by ingress port; kInvalidPort: not forwarded
  // Where reports leave. A pipe's reports take the report port it owns
  // (pipe::PipeOfPort), else the first: one per pipe lets reporting scale
  // with pipes instead of every pipe handing its reports to one. Each port
  // numbers its reports itself (its egress, in its pipe, keeps the seqnum
  // register, as on Tofino), so each has its own source address: the
  // translator follows a sequence per reporter address.
  struct ReportPort {
    pipe::PortId port = 0;
    uint32_t src_ip = 0;  // host order
  };
  std::vector<ReportPort> report_ports;  // at least one
  net::DtaAddresses report;  // src_ip: the first report port's
  uint32_t flow_slots = 65536;
  struct KeyWrite {
    uint8_t redundancy = 2;
  };
  struct KeyIncrement {
    uint8_t redundancy = 2;
    bool bytes = true;   // count bytes (IPv4 total length), else packets
    uint32_t every = 1;  // one report per this many packets of a flow
  };
  struct Append {
    uint32_t list = 0;
  };
  std::optional<KeyWrite> key_write;
  std::optional<KeyIncrement> key_increment;
  std::optional<Append> append;
  bool postcarding = false;
  uint16_t multicast_group_base = 0xe000;
};

absl::StatusOr<ReporterConfig> ParseReporterConfig(const nlohmann::json& config,
                                                   const pipe::SwitchInfo& info);

}  // namespace softfino::pipelines
