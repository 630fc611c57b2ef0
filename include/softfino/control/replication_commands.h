// Mirror sessions and multicast groups changed while the switch runs:
// mirror_add / mirror_modify / mirror_delete / mirror_list and mcast_add /
// mcast_modify / mcast_delete / mcast_list. Each change builds a new
// tm::Replication aside, publishes it with one atomic store and frees the
// old one after an RCU grace period (pipe/versioned.h), as table commits
// do: a pipe takes one version per poll, so no packet sees half a change.
// Entries have the config file's shape (replication_config.h) and get its
// checks. Entries the program installs itself (Program::Replication, e.g.
// BurstRadar's mirror session) are its own: they are listed but refused to
// change, as they would break the program.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/control/command_registry.h"
#include "softfino/pipe/program.h"
#include "softfino/pipe/versioned.h"
#include "softfino/tm/replication.h"

namespace softfino::control {

class ReplicationControl {
 public:
  // `replication` (Switch::replication()) must outlive this; `owned` lists
  // the program's own entries.
  ReplicationControl(pipe::Versioned<tm::Replication>& replication, pipe::RcuDomain rcu,
                     uint16_t port_count, const pipe::ProgramReplication& owned,
                     std::string program_name);

  // {"session", "port", "qid"?, "max_len"?}. Add refuses an existing session,
  // modify a missing one.
  absl::StatusOr<nlohmann::json> SetMirror(const nlohmann::json& args, bool modify);
  // {"session"}
  absl::StatusOr<nlohmann::json> DeleteMirror(const nlohmann::json& args);
  nlohmann::json ListMirrors() const;
  // {"group", "members": [{"port", "rid"?}, ...]}
  absl::StatusOr<nlohmann::json> SetGroup(const nlohmann::json& args, bool modify);
  // {"group"}
  absl::StatusOr<nlohmann::json> DeleteGroup(const nlohmann::json& args);
  nlohmann::json ListGroups() const;

 private:
  absl::StatusOr<uint16_t> IdArg(const nlohmann::json& args, const char* key) const;
  absl::Status CheckNotOwned(const char* what, uint16_t id, const std::set<uint16_t>& owned) const;
  double Publish(tm::Replication next);  // returns the grace period's wait (us)
  // A delete of {key: id} from `entries` (mirror_sessions or multicast_groups).
  template <typename Table>
  absl::StatusOr<nlohmann::json> Delete(const nlohmann::json& args, const char* command,
                                        const char* key, const char* what,
                                        const std::set<uint16_t>& owned,
                                        Table tm::Replication::*entries);

  pipe::Versioned<tm::Replication>& replication_;
  pipe::RcuDomain rcu_;
  uint16_t port_count_;
  std::set<uint16_t> owned_groups_, owned_sessions_;
  std::string program_name_;
};

// `control` must outlive the registry's use of these commands.
absl::Status RegisterReplicationCommands(CommandRegistry& registry, ReplicationControl& control);

}  // namespace softfino::control
