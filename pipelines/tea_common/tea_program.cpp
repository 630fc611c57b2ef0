#include "pipelines/tea_common/tea_program.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "softfino/rdma/connection.h"
#include "softfino/tea/layout.h"

namespace softfino::pipelines {

absl::StatusOr<std::vector<pipe::PortId>> ParsePortList(const nlohmann::json& section,
                                                        absl::string_view section_name,
                                                        absl::string_view field,
                                                        const pipe::SwitchInfo& info) {
  const auto it = section.find(std::string(field));
  if (it == section.end() || !it->is_array() || it->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        section_name, ".", field, " must be a non-empty list of port numbers, like [0]"));
  }
  std::vector<pipe::PortId> ports;
  for (const nlohmann::json& p : *it) {
    if (!p.is_number_unsigned() || p.get<uint64_t>() >= info.port_count) {
      return absl::InvalidArgumentError(absl::StrCat(section_name, ".", field, ": ", p.dump(),
                                                     " is no port; the switch has ports 0..",
                                                     info.port_count - 1));
    }
    ports.push_back(static_cast<pipe::PortId>(p.get<uint64_t>()));
  }
  return ports;
}

namespace {

// The "collector" (HOST:PORT) of connection `name` in the config.
std::string CollectorOf(const nlohmann::json& config, absl::string_view name) {
  const nlohmann::json* conns = nullptr;
  if (config.contains("rdma") && config["rdma"].is_object() &&
      config["rdma"].contains("connections") && config["rdma"]["connections"].is_array()) {
    conns = &config["rdma"]["connections"];
  }
  if (conns == nullptr) return "";
  for (const nlohmann::json& c : *conns) {
    if (c.is_object() && c.value("name", "") == name) return c.value("collector", "");
  }
  return "";
}

}  // namespace

absl::StatusOr<PortRoles> ParsePortRoles(const nlohmann::json& section,
                                         absl::string_view section_name,
                                         const pipe::SwitchInfo& info) {
  auto inside = ParsePortList(section, section_name, "inside_ports", info);
  if (!inside.ok()) return inside.status();
  auto outside = ParsePortList(section, section_name, "outside_ports", info);
  if (!outside.ok()) return outside.status();
  PortRoles roles;
  roles.by_port.assign(info.port_count, PortRole::kNone);
  for (pipe::PortId p : *inside) roles.by_port[p] = PortRole::kInside;
  for (pipe::PortId p : *outside) {
    if (roles.by_port[p] != PortRole::kNone) {
      return absl::InvalidArgumentError(
          absl::StrCat("port ", p, " is both an inside and an outside port"));
    }
    roles.by_port[p] = PortRole::kOutside;
  }
  roles.inside = *std::move(inside);
  roles.outside = *std::move(outside);
  return roles;
}

absl::Status PortRoles::AddCollector(pipe::PortId port, absl::string_view connection) {
  if (by_port[port] == PortRole::kInside || by_port[port] == PortRole::kOutside) {
    return absl::InvalidArgumentError(
        absl::StrCat("port ", port, " leads to the collector of '", connection,
                     "' and cannot also be an inside or outside port"));
  }
  by_port[port] = PortRole::kCollector;
  return absl::OkStatus();
}

namespace {

// True when the config declares an RDMA connection called `name`.
bool HasConnection(const nlohmann::json& config, const std::string& name) {
  if (!config.contains("rdma") || !config["rdma"].is_object() ||
      !config["rdma"].contains("connections") || !config["rdma"]["connections"].is_array()) {
    return false;
  }
  for (const nlohmann::json& c : config["rdma"]["connections"]) {
    if (c.is_object() && c.value("name", "") == name) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<TeaTableConnection> ConnectTeaTable(const nlohmann::json& config,
                                                   const nlohmann::json& section,
                                                   absl::string_view section_name,
                                                   absl::string_view spec_field,
                                                   absl::string_view connection,
                                                   const TeaLookupOptions& options,
                                                   const pipe::SwitchInfo& info,
                                                   uint16_t table_index) {
  const auto spec = section.find(std::string(spec_field));
  if (spec == section.end() || !spec->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(section_name, ".", spec_field,
                     " must be the table's spec as the collector got it in --tea-table, like "
                     "\"tea.out:buckets=64K,slots=2\""));
  }
  auto table = tea::ParseTableSpec(spec->get<std::string>());
  if (!table.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(section_name, ".", spec_field, ": ", table.status().message()));
  }
  auto layout = tea::Layout::Create(*table);
  if (!layout.ok()) return layout.status();
  // One memory server: the connection `connection`; several: `connection/0`,
  // `connection/1`, ... (server numbers are what tea::PrimaryServer picks).
  std::vector<std::string> names;
  if (HasConnection(config, std::string(connection))) {
    names.emplace_back(connection);
  } else {
    while (names.size() < TeaServers::kMaxServers &&
           HasConnection(config, absl::StrCat(connection, "/", names.size()))) {
      names.push_back(absl::StrCat(connection, "/", names.size()));
    }
    if (names.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the config's rdma.connections has no connection '", connection, "' (one memory server) "
          "nor '", connection, "/0', '", connection, "/1', ... (several, up to ",
          TeaServers::kMaxServers, ")"));
    }
  }
  TeaTableConnection out;
  std::vector<std::vector<std::unique_ptr<TeaLookup>>> by_pipe(info.pipe_count);
  for (uint32_t server = 0; server < names.size(); ++server) {
    const std::string& name = names[server];
    auto conns = rdma::FindConnection(config, name);
    if (!conns.ok()) return conns.status();
    if (conns->size() != info.pipe_count) {
      return absl::InvalidArgumentError(absl::StrCat("connection '", name, "' has ",
                                                     conns->size(), " queue pair(s) for ",
                                                     info.pipe_count, " pipe(s)"));
    }
    out.collectors.push_back(CollectorOf(config, name));
    for (const rdma::ConnectedQueuePair& c : *conns) {
      if (c.remote.region != table->name) {
        return absl::InvalidArgumentError(absl::StrCat("connection '", name, "' is to region ",
                                                       c.remote.region, " but ", section_name,
                                                       ".", spec_field, " names ", table->name));
      }
      const auto session = static_cast<pipe::MirrorSessionId>(
          options.mirror_session + table_index * TeaServers::kMaxServers + server);
      auto lookup = TeaLookup::Create(c, *layout, options, session);
      if (!lookup.ok()) return lookup.status();
      by_pipe[c.pipe].push_back(*std::move(lookup));
    }
  }
  for (auto& servers : by_pipe) out.by_pipe.push_back(std::make_unique<TeaServers>(std::move(servers)));
  return out;
}

void AppendTeaMirrorSessions(std::initializer_list<const TeaServers*> tables,
                             pipe::ProgramReplication& out) {
  for (const TeaServers* t : tables) {
    for (size_t i = 0; i < t->size(); ++i) {
      const TeaLookup& s = t->server(i);
      if (s.remote()) out.mirror_sessions.push_back({s.mirror_session(), s.port(), 0});
    }
  }
}

void TeaEgress(pipe::EgressBurst& burst, absl::Span<TeaServers* const> tables) {
  for (uint16_t i = 0; i < burst.count; ++i) {
    const pipe::EgressIntrinsicMetadata& md = burst.eg_intr_md[i];
    if (md.instance_type != pipe::InstanceType::kNormal) continue;
    bool done = false;
    for (TeaServers* t : tables) {
      for (size_t k = 0; k < t->size() && !done; ++k) {
        TeaLookup& s = t->server(k);
        done = s.port() == md.egress_port && s.ToReadRequest(burst.pkts[i]);
      }
      if (done) break;
    }
  }
}

void AppendTeaLookupResources(absl::string_view table, const TeaLookupOptions& options,
                              uint32_t& alu, std::vector<pipe::ResourceUse>& uses) {
  const uint32_t ways = options.cache_ways;
  const uint32_t sets = std::max<uint32_t>(1, options.cache_entries / ways);
  const auto place = [&](std::string name, uint32_t cells, uint32_t bits) {
    uses.push_back({std::move(name), pipe::ResourceKind::kRegister,
                    static_cast<uint8_t>(1 + alu / 4), cells, 0, bits});
    ++alu;
  };
  for (uint32_t w = 0; w < ways; ++w) {
    for (const char* word : {"key_hi", "key_lo", "value"}) {
      place(absl::StrCat(table, "_way", w, "_", word), sets, 64);
    }
  }
  place(absl::StrCat(table, "_clock"), sets, 16);  // hand and reference bits
  place(absl::StrCat(table, "_psn"), 1, 32);
  place(absl::StrCat(table, "_in_flight"), options.in_flight, 64);
}

nlohmann::json TeaOptionsJson(const TeaLookupOptions& options) {
  return {{"deferral", options.deferral == TeaDeferral::kLocal ? "local" : "remote"},
          {"cache_policy", std::string(tea::CachePolicyName(options.cache_policy))}};
}

}  // namespace softfino::pipelines
