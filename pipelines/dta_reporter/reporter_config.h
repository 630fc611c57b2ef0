// The dta_reporter's config section, parsed and checked on the control
// path (see README.md for an example):
//   "dta_reporter": {
//     "base_form": "3-byte", "switch_id": 7, "hop": 1,
//     "forward": [{"in": 0, "out": 1}],
//     "report_port": 2,
//     "report": {"src_ip": "10.0.0.1", "dst_ip": "10.0.255.255",
//                "src_mac": "02:...", "dst_mac": "02:..."},
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
  pipe::PortId report_port = 0;
  net::DtaAddresses report;
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
