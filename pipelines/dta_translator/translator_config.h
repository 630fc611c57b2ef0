// The dta_translator's config section, parsed and checked on the control
// path. Example (see README.md):
//   "dta_translator": {
//     "base_form": "3-byte",
//     "collectors": ["c0", "c1"],
//     "layout": {"keywrite_slots": 1048576, "append_lists": 16, ...},
//     "postcarding_path_length": 5,
//     "postcard_cache_rows": 65536
//   }
// Collector c's structures are reached through the rdma.connections named
// "<c>/keywrite", "<c>/keyincrement", "<c>/append", "<c>/postcarding" (only
// those of primitives the layout turns on), all through one switch port.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/dta/layout.h"
#include "softfino/net/dta.h"

namespace softfino::pipelines {

struct TranslatorConfig {
  net::DtaBaseForm base_form = net::kDefaultDtaBaseForm;
  std::vector<std::string> collectors;
  dta::LayoutConfig layout;
  uint8_t postcarding_path_length = 5;
  uint32_t postcard_cache_rows = 65536;
  // Ids of the replication entries the translator installs: multicast
  // group base + 4 * collector + copies - 1 makes `copies` copies to the
  // collector's port; mirror session base + collector clones an Append
  // batch for its head publication.
  uint16_t multicast_group_base = 0xd000;
  uint16_t mirror_session_base = 896;  // TNA's mirror ids are 10 bits: 896 + 64 <= 1023
  // A queue pair with requests not known executed and nothing heard for
  // this long is probed (rdma/rc_requester.h, resync mode), on the packet
  // generator's timer packets: configure "pktgen" to get them.
  uint32_t probe_timeout_us = 1000;
  // NACKs to reporters (3-byte form only): a gap in a reporter's sequence
  // numbers is answered with a NACK of the first missing one, out of the
  // port the report came in on, through ingress mirror session
  // nack_session_base + that port. Reporters are tracked per pipe in
  // reporter_slots slots (by source address; a newcomer takes the slot).
  bool nack_reporters = false;
  uint32_t reporter_slots = 1024;
  uint16_t nack_session_base = 768;
  // Tests: drop every k-th request to a collector, as a lossy link would.
  uint32_t drop_every = 0;
};

// The section "dta_translator" of `config`; refuses unknown fields and
// values out of range, naming them.
absl::StatusOr<TranslatorConfig> ParseTranslatorConfig(const nlohmann::json& config);

}  // namespace softfino::pipelines
