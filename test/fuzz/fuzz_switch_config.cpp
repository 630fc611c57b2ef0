// The switch config file's switch sections (control/*_config.h): `ports`
// (traffic manager per port), `multicast_groups` and `mirror_sessions`,
// `pktgen`. The first byte is the switch's port count (0..255); the rest is
// the config as JSON, given to every parser as softfino does.
//
// Invariants: what is accepted is within the switch: one entry per port,
// group members and mirror destinations are ports that exist.
#include "nlohmann/json.hpp"
#include "softfino/control/pktgen_config.h"
#include "softfino/control/port_config.h"
#include "softfino/control/replication_config.h"
#include "test/fuzz/fuzz_util.h"

namespace control = softfino::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint16_t ports = data[0];
  std::optional<nlohmann::json> config = softfino::fuzz::ParseJson(data + 1, size - 1);
  if (!config) return 0;
  if (auto p = control::ParsePortConfig(*config, ports); p.ok()) {
    FUZZ_CHECK(p->size() == ports);
  }
  if (auto r = control::ParseReplication(*config, ports); r.ok()) {
    for (uint16_t group : r->multicast_groups.Ids()) {
      for (const auto& m : r->multicast_groups.at(group)) FUZZ_CHECK(m.port < ports);
    }
    for (uint16_t id : r->mirror_sessions.Ids()) FUZZ_CHECK(r->mirror_sessions.at(id).port < ports);
  }
  (void)control::ParsePktgenConfig(*config);
  return 0;
}
