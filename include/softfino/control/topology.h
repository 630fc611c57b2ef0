// A topology: several switches in one softfino process, each a program with
// its own ports, wired to each other by internal links (dataplane/links.h),
// so a whole testbed (reporter -> translator -> ...) runs on one box.
//
//   {"switches": [
//     {"name": "reporter", "pipeline": "dta_reporter", "config": "reporter.json",
//      "ports": ["net_pcap0", {"link": "r-t"}, "net_null0"]},
//     {"name": "translator", "pipeline": "dta_translator", "config": {...},
//      "fp_cores": 1, "ports": [{"link": "r-t"}, "net_af_packet0"]}]}
//
// A port is a DPDK device by the name EAL gave it (a --vdev name such as
// "net_pcap0", or a PCI address), or one end of an internal link; each link
// name appears exactly twice. Switch port numbers are positions in "ports".
// "config" is the program's config (as --config): a file, relative to the
// topology file, or the object itself. Switches are listed upstream first:
// at shutdown each flushes into the next.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"

namespace softfino::control {

struct TopologyPort {
  std::string device;  // a DPDK device name; empty for a link end
  std::string link;    // the link's name; empty for a device
};

struct TopologySwitch {
  std::string name;
  std::string pipeline;
  std::string config_path;  // for messages: the file, or "<topology>: switches[i].config"
  nlohmann::json config;    // null when none
  uint16_t fp_cores = 1;
  std::vector<TopologyPort> ports;
  std::string control_socket;  // empty: softfino-NAME.sock in DPDK's runtime folder
  std::string events;          // the --events file, empty for none
};

struct Topology {
  std::vector<TopologySwitch> switches;
  // Each link once, in the order first named; with where its ends are.
  struct Link {
    std::string name;
    size_t a_switch = 0, a_port = 0;  // first end: switch index, port number
    size_t b_switch = 0, b_port = 0;
  };
  std::vector<Link> links;
};

// Parses a topology (the JSON of `path`, already loaded). `pipelines` are the
// programs that exist. Errors name the field: "switches[1].ports[2]: ...".
absl::StatusOr<Topology> ParseTopology(const nlohmann::json& j, const std::string& path,
                                       absl::Span<const std::string> pipelines);

// Loads and parses the topology file at `path`, and each switch's config file.
absl::StatusOr<Topology> LoadTopology(const std::string& path,
                                      absl::Span<const std::string> pipelines);

// The default control socket name of switch `name` in a topology.
std::string TopologySocketName(const std::string& name);

}  // namespace softfino::control
