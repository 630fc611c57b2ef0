#include "softfino/control/replication_config.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace softfino::control {
namespace {

// Reads `object[field]` as an integer in [min, max]; `required` or a default.
absl::StatusOr<uint64_t> Field(const nlohmann::json& object, const std::string& path,
                               const char* field, uint64_t min, uint64_t max,
                               std::optional<uint64_t> fallback = std::nullopt) {
  const auto it = object.find(field);
  if (it == object.end()) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat(path, path.empty() ? "" : ".", field, ": missing"));
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<uint64_t>() < min ||
      it->get<uint64_t>() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, path.empty() ? "" : ".", field, ": ", it->dump(),
                     " is not an integer in ", min, "..", max));
  }
  return it->get<uint64_t>();
}

absl::Status OnlyFields(const nlohmann::json& object, const std::string& path,
                        std::initializer_list<const char*> fields) {
  for (const auto& [name, value] : object.items()) {
    bool known = false;
    for (const char* f : fields) known = known || name == f;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, path.empty() ? "" : ": ", "unknown field '", name, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::pair<uint16_t, std::vector<tm::MulticastMember>>> ParseMulticastGroup(
    const nlohmann::json& g, const std::string& path, uint16_t port_count) {
  const std::string at = path.empty() ? "" : path + ".";
  if (!g.is_object()) return absl::InvalidArgumentError(path + ": must be an object");
  if (auto s = OnlyFields(g, path, {"group", "members"}); !s.ok()) return s;
  // Group 0 means "no multicast" in mcast_grp_a, so it cannot be a group.
  auto group = Field(g, path, "group", 1, 0xffff);
  if (!group.ok()) return group.status();
  const auto members = g.find("members");
  if (members == g.end() || !members->is_array() || members->empty()) {
    return absl::InvalidArgumentError(
        at + "members: must be a non-empty array of {\"port\": P, \"rid\": R}");
  }
  std::vector<tm::MulticastMember> list;
  for (size_t m = 0; m < members->size(); ++m) {
    const std::string mpath = absl::StrCat(at, "members[", m, "]");
    const nlohmann::json& member = (*members)[m];
    if (!member.is_object()) return absl::InvalidArgumentError(mpath + ": must be an object");
    if (auto s = OnlyFields(member, mpath, {"port", "rid"}); !s.ok()) return s;
    auto port = Field(member, mpath, "port", 0, port_count - 1u);
    auto rid = Field(member, mpath, "rid", 0, 0xffff, 0);
    if (!port.ok()) return port.status();
    if (!rid.ok()) return rid.status();
    list.push_back({static_cast<pipe::PortId>(*port), static_cast<uint16_t>(*rid)});
  }
  return std::make_pair(static_cast<uint16_t>(*group), std::move(list));
}

absl::StatusOr<std::pair<pipe::MirrorSessionId, tm::MirrorSession>> ParseMirrorSession(
    const nlohmann::json& m, const std::string& path, uint16_t port_count) {
  if (!m.is_object()) return absl::InvalidArgumentError(path + ": must be an object");
  if (auto s = OnlyFields(m, path, {"session", "port", "qid", "max_len"}); !s.ok()) return s;
  auto session = Field(m, path, "session", 0, 0xffff);
  auto port = Field(m, path, "port", 0, port_count - 1u);
  auto qid = Field(m, path, "qid", 0, 31, 0);
  // A copy shorter than an Ethernet header would be dropped by any parser.
  auto max_len = Field(m, path, "max_len", 0, 65535, 0);
  for (const auto* f : {&session, &port, &qid, &max_len}) {
    if (!f->ok()) return f->status();
  }
  if (*max_len != 0 && *max_len < 14) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, path.empty() ? "" : ".", "max_len: ", *max_len,
        " is shorter than an Ethernet header; use 0 (whole packets) or at least 14"));
  }
  return std::make_pair(static_cast<pipe::MirrorSessionId>(*session),
                        tm::MirrorSession{static_cast<pipe::PortId>(*port),
                                          static_cast<uint8_t>(*qid),
                                          static_cast<uint32_t>(*max_len)});
}

absl::StatusOr<tm::Replication> ParseReplication(const nlohmann::json& config,
                                                 uint16_t port_count) {
  tm::Replication out;
  if (!config.is_object()) return out;
  if (const auto groups = config.find("multicast_groups"); groups != config.end()) {
    if (!groups->is_array()) return absl::InvalidArgumentError("multicast_groups: must be an array");
    for (size_t i = 0; i < groups->size(); ++i) {
      const std::string path = absl::StrCat("multicast_groups[", i, "]");
      auto group = ParseMulticastGroup((*groups)[i], path, port_count);
      if (!group.ok()) return group.status();
      if (out.multicast_groups.contains(group->first)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ".group: group ", group->first, " is defined twice"));
      }
      out.multicast_groups.Set(group->first, std::move(group->second));
    }
  }
  if (const auto sessions = config.find("mirror_sessions"); sessions != config.end()) {
    if (!sessions->is_array()) return absl::InvalidArgumentError("mirror_sessions: must be an array");
    for (size_t i = 0; i < sessions->size(); ++i) {
      const std::string path = absl::StrCat("mirror_sessions[", i, "]");
      auto session = ParseMirrorSession((*sessions)[i], path, port_count);
      if (!session.ok()) return session.status();
      if (out.mirror_sessions.contains(session->first)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ".session: session ", session->first, " is defined twice"));
      }
      out.mirror_sessions.Set(session->first, session->second);
    }
  }
  return out;
}

absl::Status AddProgramReplication(const pipe::ProgramReplication& entries,
                                   absl::string_view program_name, uint16_t port_count,
                                   tm::Replication& replication) {
  for (const pipe::ProgramReplication::Group& g : entries.groups) {
    if (g.group == 0 || replication.multicast_groups.contains(g.group)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "multicast group ", g.group, " is needed by program ", program_name,
          g.group == 0 ? " (0 is no group)" : "; the config's multicast_groups uses it too: give "
                                              "that one another id"));
    }
    std::vector<tm::MulticastMember> list;
    for (const auto& m : g.members) {
      if (m.port >= port_count) {
        return absl::InvalidArgumentError(absl::StrCat("program ", program_name, " replicates to port ",
                                                       m.port, ", which does not exist"));
      }
      list.push_back({m.port, m.rid});
    }
    replication.multicast_groups.Set(g.group, std::move(list));
  }
  for (const pipe::ProgramReplication::MirrorSession& s : entries.mirror_sessions) {
    if (replication.mirror_sessions.contains(s.session)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mirror session ", s.session, " is needed by program ", program_name,
          "; the config's mirror_sessions uses it too: give that one another id"));
    }
    if (s.port >= port_count) {
      return absl::InvalidArgumentError(absl::StrCat("program ", program_name, " mirrors to port ",
                                                     s.port, ", which does not exist"));
    }
    replication.mirror_sessions.Set(s.session, {s.port, 0, s.max_len});
  }
  return absl::OkStatus();
}

}  // namespace softfino::control
