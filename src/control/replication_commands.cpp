#include "softfino/control/replication_commands.h"

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "softfino/control/replication_config.h"

namespace softfino::control {
namespace {

using nlohmann::json;

json MembersJson(const std::vector<tm::MulticastMember>& members) {
  json out = json::array();
  for (const tm::MulticastMember& m : members) out.push_back({{"port", m.port}, {"rid", m.rid}});
  return out;
}

json SessionJson(pipe::MirrorSessionId id, const tm::MirrorSession& s) {
  return {{"session", id}, {"port", s.port}, {"qid", s.qid}, {"max_len", s.max_len}};
}

// Add needs `id` new, modify needs it there; `what` names it ("mirror
// session"), `verb` the commands ("mirror" -> mirror_add, mirror_modify).
absl::Status CheckPresence(const char* what, const char* verb, uint16_t id, bool exists,
                           bool modify) {
  if (modify && !exists) {
    return absl::NotFoundError(
        absl::StrCat(what, " ", id, " does not exist; use ", verb, "_add to create it"));
  }
  if (!modify && exists) {
    return absl::AlreadyExistsError(
        absl::StrCat(what, " ", id, " already exists; use ", verb, "_modify to change it"));
  }
  return absl::OkStatus();
}

}  // namespace

ReplicationControl::ReplicationControl(pipe::Versioned<tm::Replication>& replication,
                                       pipe::RcuDomain rcu, uint16_t port_count,
                                       const pipe::ProgramReplication& owned,
                                       std::string program_name)
    : replication_(replication),
      rcu_(rcu),
      port_count_(port_count),
      program_name_(std::move(program_name)) {
  for (const auto& g : owned.groups) owned_groups_.insert(g.group);
  for (const auto& s : owned.mirror_sessions) owned_sessions_.insert(s.session);
}

absl::StatusOr<uint16_t> ReplicationControl::IdArg(const json& args, const char* key) const {
  const auto it = args.find(key);
  if (it == args.end()) return absl::InvalidArgumentError(absl::StrCat(key, ": missing"));
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 0xffff) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", it->dump(), " is not an integer in 0..65535"));
  }
  return static_cast<uint16_t>(it->get<uint64_t>());
}

absl::Status ReplicationControl::CheckNotOwned(const char* what, uint16_t id,
                                               const std::set<uint16_t>& owned) const {
  if (!owned.contains(id)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(what, " ", id, " is installed by program ", program_name_,
                   " for its own use and cannot be changed here; use another id"));
}

double ReplicationControl::Publish(tm::Replication next) {
  const auto start = std::chrono::steady_clock::now();
  replication_.Publish(std::make_unique<const tm::Replication>(std::move(next)), rcu_);
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

absl::StatusOr<json> ReplicationControl::SetMirror(const json& args, bool modify) {
  auto parsed = ParseMirrorSession(args, "", port_count_);
  if (!parsed.ok()) return parsed.status();
  const auto& [id, session] = *parsed;
  if (auto s = CheckNotOwned("mirror session", id, owned_sessions_); !s.ok()) return s;
  const tm::Replication& now = replication_.current();
  if (auto s =
          CheckPresence("mirror session", "mirror", id, now.mirror_sessions.contains(id), modify);
      !s.ok()) {
    return s;
  }
  tm::Replication next = now;
  next.mirror_sessions.Set(id, session);
  json out = SessionJson(id, session);
  out["wait_us"] = Publish(std::move(next));
  return out;
}

template <typename Table>
absl::StatusOr<json> ReplicationControl::Delete(const json& args, const char* command,
                                                const char* key, const char* what,
                                                const std::set<uint16_t>& owned,
                                                Table tm::Replication::*entries) {
  if (auto s = CheckArgNames(command, args, {key}); !s.ok()) return s;
  auto id = IdArg(args, key);
  if (!id.ok()) return id.status();
  if (auto s = CheckNotOwned(what, *id, owned); !s.ok()) return s;
  const tm::Replication& now = replication_.current();
  if (!(now.*entries).contains(*id)) {
    return absl::NotFoundError(absl::StrCat(what, " ", *id, " does not exist"));
  }
  tm::Replication next = now;
  (next.*entries).erase(*id);
  return json{{"deleted", *id}, {"wait_us", Publish(std::move(next))}};
}

absl::StatusOr<json> ReplicationControl::DeleteMirror(const json& args) {
  return Delete(args, "mirror_delete", "session", "mirror session", owned_sessions_,
                &tm::Replication::mirror_sessions);
}

json ReplicationControl::ListMirrors() const {
  const tm::Replication& now = replication_.current();
  json out = json::array();
  for (pipe::MirrorSessionId id : now.mirror_sessions.Ids()) {
    json e = SessionJson(id, now.mirror_sessions.at(id));
    if (owned_sessions_.contains(id)) e["owner"] = program_name_;
    out.push_back(std::move(e));
  }
  return json{{"mirror_sessions", std::move(out)}};
}

absl::StatusOr<json> ReplicationControl::SetGroup(const json& args, bool modify) {
  auto parsed = ParseMulticastGroup(args, "", port_count_);
  if (!parsed.ok()) return parsed.status();
  auto& [id, members] = *parsed;
  if (auto s = CheckNotOwned("multicast group", id, owned_groups_); !s.ok()) return s;
  const tm::Replication& now = replication_.current();
  if (auto s =
          CheckPresence("multicast group", "mcast", id, now.multicast_groups.contains(id), modify);
      !s.ok()) {
    return s;
  }
  json out = {{"group", id}, {"members", MembersJson(members)}};
  tm::Replication next = now;
  next.multicast_groups.Set(id, std::move(members));
  out["wait_us"] = Publish(std::move(next));
  return out;
}

absl::StatusOr<json> ReplicationControl::DeleteGroup(const json& args) {
  return Delete(args, "mcast_delete", "group", "multicast group", owned_groups_,
                &tm::Replication::multicast_groups);
}

json ReplicationControl::ListGroups() const {
  const tm::Replication& now = replication_.current();
  json out = json::array();
  for (uint16_t id : now.multicast_groups.Ids()) {
    json e = {{"group", id}, {"members", MembersJson(now.multicast_groups.at(id))}};
    if (owned_groups_.contains(id)) e["owner"] = program_name_;
    out.push_back(std::move(e));
  }
  return json{{"multicast_groups", std::move(out)}};
}

absl::Status RegisterReplicationCommands(CommandRegistry& registry, ReplicationControl& control) {
  Registrar r(registry);
  r.Add("mirror_add",
        "Adds mirror session {\"session\": S, \"port\": P, \"qid\": Q (default 0), \"max_len\": "
        "L (truncate copies to L bytes; 0 or absent: whole packets)}; pipes see it whole.",
        [&control](const json& args) { return control.SetMirror(args, /*modify=*/false); });
  r.Add("mirror_modify", "Replaces an existing mirror session: the same fields as mirror_add.",
        [&control](const json& args) { return control.SetMirror(args, /*modify=*/true); });
  r.Add("mirror_delete",
        "Deletes {\"session\": S}; packets that still name it are counted as "
        "no_mirror_session drops (the original is unaffected).",
        [&control](const json& args) { return control.DeleteMirror(args); });
  r.Add("mirror_list", "Every mirror session; those the program installed name it as owner.",
        [&control](const json& args) -> absl::StatusOr<json> {
          if (auto s = CheckArgNames("mirror_list", args, {}); !s.ok()) return s;
          return control.ListMirrors();
        });
  r.Add("mcast_add",
        "Adds multicast group {\"group\": G (1..65535), \"members\": [{\"port\": P, \"rid\": R}, "
        "...]}: a packet with mcast_grp_a = G gets one copy per member.",
        [&control](const json& args) { return control.SetGroup(args, /*modify=*/false); });
  r.Add("mcast_modify", "Replaces an existing group's members: the same fields as mcast_add.",
        [&control](const json& args) { return control.SetGroup(args, /*modify=*/true); });
  r.Add("mcast_delete",
        "Deletes {\"group\": G}; packets sent to it are counted as "
        "no_multicast_group drops.",
        [&control](const json& args) { return control.DeleteGroup(args); });
  r.Add("mcast_list",
        "Every multicast group with its members; those the program installed name "
        "it as owner.",
        [&control](const json& args) -> absl::StatusOr<json> {
          if (auto s = CheckArgNames("mcast_list", args, {}); !s.ok()) return s;
          return control.ListGroups();
        });
  return r.status();
}

}  // namespace softfino::control
