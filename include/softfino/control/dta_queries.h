// The collector's DTA queries: what a user asks of the structures the
// translator writes, answered from the collector's memory (live regions or
// dumps of them) as JSON. One request form for the command line
// (softfino-collector query) and the control socket:
//   {"primitive": "keywrite",     "key": K, "redundancy": N, "threshold": T}
//   {"primitive": "keyincrement", "key": K, "redundancy": N}
//   {"primitive": "postcarding",  "key": K, "copies": N, "threshold": T,
//                                 "known": [values a hop may take]}   (absent: any)
//   {"primitive": "append",       "list": L, "from": POSITION}
//   {"primitive": "events",       "list": L, "from": POSITION}  (dta/event_record.h)
// redundancy/copies default to the layout's (Key-Write: 2), threshold to 1,
// from to 0. Answers:
//   keywrite      {"found": bool, "data": D, "votes": v, "matches": m}
//   keyincrement  {"found": bool, "count": C}
//   postcarding   {"found": bool, "path": [hop values], "votes": v, "valid_copies": c}
//   append        {"entries": [...], "next": P, "lost": n, "reset": bool}
//   events        {"events": [{"trigger_id", "interval_start_ns", "interval_ns",
//                  "group_key": [src, dst, sport, dport, proto], "seq", "value"}],
//                  "next": P, "lost": n, "skipped": entries that began no valid
//                  record, "reset": bool}
#pragma once

#include <cstdint>
#include <span>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/dta/layout.h"

namespace softfino::control {

// Finds a region's bytes by name (dta::kKeyWriteRegion, ...); an empty span
// when the collector does not hold it.
using RegionLookup = absl::FunctionRef<std::span<const uint8_t>(absl::string_view)>;

// Answers `request`, or says what is wrong with it (an unknown primitive, a
// primitive the layout turns off, a missing or out-of-range field, a region
// the collector does not hold).
absl::StatusOr<nlohmann::json> AnswerDtaQuery(const dta::Layout& layout, RegionLookup regions,
                                              const nlohmann::json& request);

}  // namespace softfino::control
