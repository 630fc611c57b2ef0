// The `multicast_groups` and `mirror_sessions` sections of the config file:
//   "multicast_groups": [{"group": 1, "members": [{"port": 1, "rid": 10}, ...]}]
//   "mirror_sessions":  [{"session": 5, "port": 3, "qid": 0, "max_len": 64}]
// max_len truncates each copy (0 or absent: whole packets).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/pipe/program.h"
#include "softfino/tm/replication.h"

namespace softfino::control {

// One entry of each section, checked as the config's are; `path` prefixes
// errors ("mirror_sessions[2]"; empty for a control request's own args).
absl::StatusOr<std::pair<uint16_t, std::vector<tm::MulticastMember>>> ParseMulticastGroup(
    const nlohmann::json& group, const std::string& path, uint16_t port_count);
absl::StatusOr<std::pair<pipe::MirrorSessionId, tm::MirrorSession>> ParseMirrorSession(
    const nlohmann::json& session, const std::string& path, uint16_t port_count);

absl::StatusOr<tm::Replication> ParseReplication(const nlohmann::json& config, uint16_t port_count);

// Adds the entries program `program_name` installs itself to `replication`.
// A group or session id the config already uses is refused with both
// owners named, so the user can move the config's entry.
absl::Status AddProgramReplication(const pipe::ProgramReplication& entries,
                                   absl::string_view program_name, uint16_t port_count,
                                   tm::Replication& replication);

}  // namespace softfino::control
