// DTA report streams, as a reporter fleet (or DTA's own traffic generator)
// sends them to a translator, with their ground truth: what a collector
// must answer once every report has landed. softfino-gen dta writes them.
//
// Keys are drawn uniformly from a fixed set; each Postcarding flow sends
// its postcards back to back (one path through the network, hops in any
// order), so the translator's cache completes every path. Reporters are
// distinct source addresses, each with its own sequence numbers (3-byte
// base form).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/net/dta.h"

namespace softfino::gen {

struct DtaWorkloadConfig {
  // keywrite, keyincrement, append, postcarding, or mix (all four).
  std::string primitive = "mix";
  uint64_t reports = 10000;
  uint32_t keys = 1000;       // Key-Write, Key-Increment, Postcarding flows
  uint8_t redundancy = 2;     // Key-Write copies, Key-Increment rows
  uint32_t lists = 4;         // Append
  uint8_t path_length = 5;    // Postcarding hops per path
  uint32_t hop_values = 64;   // Postcarding values: switch IDs 1..hop_values
  uint32_t reporters = 1;     // source addresses 10.0.0.1, ...
  net::DtaBaseForm form = net::kDefaultDtaBaseForm;
  double rate_pps = 1e6;      // timestamps: evenly spaced at this rate
  uint64_t seed = 1;
};

struct DtaWorkload {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint64_t> timestamps_ns;
  // {"keywrite": {"redundancy": N, "data": {"<key>": last data}},
  //  "keyincrement": {"redundancy": N, "sum": {"<key>": total}},
  //  "append": {"entries": {"<list>": [data, ...]}},
  //  "postcarding": {"path_length": H, "paths": {"<key>": [hop 1, ...]}}}
  // for the primitives the stream holds.
  nlohmann::json truth;
};

absl::StatusOr<DtaWorkload> MakeDtaWorkload(const DtaWorkloadConfig& config);

}  // namespace softfino::gen
