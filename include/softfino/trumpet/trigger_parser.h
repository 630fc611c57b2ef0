// The text and JSON forms of Trumpet triggers. One trigger per line:
//
//   NAME: filter FIELD=VALUE[/LEN]... group FIELD[/LEN]... every N(us|ms|s)
//         when METRIC[/METRIC] OP NUMBER[%]
//
//   heavy: filter dst=10.9.0.0/16 proto=tcp group src/24 every 10ms when bytes > 100000
//   lossy: filter src=10.1.0.0/16 group 5tuple every 10ms when lost/packets > 10%
//   all:   filter * group dst every 1ms when packets >= 1000
//
// Fields: src, dst (IPv4, LEN 0..32), sport, dport (0..65535, LEN 0..16),
// proto (tcp, udp or a number; exact). A field left out of the filter
// matches anything; left out of the group, it is not part of the group key;
// `5tuple` groups by all five. Metrics: packets, bytes, lost, bursts. OP: >,
// >=, <, <=. '#' starts a comment. Errors name the line and the field.
//
// JSON: {"name": "lossy", "filter": {"src": "10.1.0.0/16"},
//        "group": ["5tuple"] or {"src": 24}, "every": "10ms",
//        "when": "lost/packets > 10%"}
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"
#include "softfino/trumpet/trigger.h"

namespace softfino::trumpet {

// One line (no comment, not blank). The id is left 0.
absl::StatusOr<Trigger> ParseTrigger(absl::string_view line);
// A whole file: errors say "line N: ...". Names must be unique.
absl::StatusOr<std::vector<Trigger>> ParseTriggerFile(absl::string_view text);
// The JSON form (the control socket's).
absl::StatusOr<Trigger> TriggerFromJson(const nlohmann::json& j);
nlohmann::json TriggerToJson(const Trigger& t);

}  // namespace softfino::trumpet
