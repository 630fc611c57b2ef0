// What the TEA programs (tea_nat, tea_firewall) share around their lookups:
// reading their port lists and table connections from the config, and
// placing a table's on-chip state on Tofino stages for Resources(). Kept
// apart from tea_lookup.h, which is the fast path.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "pipelines/tea_common/tea_lookup.h"
#include "pipelines/tea_common/tea_servers.h"
#include "softfino/pipe/program.h"
#include "softfino/pipe/resources.h"

namespace softfino::pipelines {

// `section`.`field` (e.g. nat.inside_ports): a non-empty list of the
// switch's port numbers.
absl::StatusOr<std::vector<pipe::PortId>> ParsePortList(const nlohmann::json& section,
                                                        absl::string_view section_name,
                                                        absl::string_view field,
                                                        const pipe::SwitchInfo& info);

// What a port is to a TEA program.
enum class PortRole : uint8_t { kNone, kInside, kOutside, kCollector };

// The ports' roles: `section`.inside_ports and .outside_ports (a port may
// not be both), then the port each table's collector is reached through
// (which may be neither).
struct PortRoles {
  std::vector<pipe::PortId> inside, outside;
  std::vector<PortRole> by_port;

  // Marks `port` as leading to the collector of `connection`.
  absl::Status AddCollector(pipe::PortId port, absl::string_view connection);
};
absl::StatusOr<PortRoles> ParsePortRoles(const nlohmann::json& section,
                                         absl::string_view section_name,
                                         const pipe::SwitchInfo& info);

// One TEA table as a program uses it: the table spec in
// `section`.`spec_field` (as the collector got it in --tea-table) and the
// RDMA connection `connection` of the config's "rdma" object (one memory
// server), or `connection/0`, `connection/1`, ... (several: tea_servers.h),
// one queue pair per pipe and server, each to that table's region.
struct TeaTableConnection {
  std::vector<std::unique_ptr<TeaServers>> by_pipe;  // index: pipe
  std::vector<std::string> collectors;  // per server: HOST:PORT of its handshake (inserts)
};
absl::StatusOr<TeaTableConnection> ConnectTeaTable(const nlohmann::json& config,
                                                   const nlohmann::json& section,
                                                   absl::string_view section_name,
                                                   absl::string_view spec_field,
                                                   absl::string_view connection,
                                                   const TeaLookupOptions& options,
                                                   const pipe::SwitchInfo& info,
                                                   uint16_t table_index);

// Remote deferral: each table's mirror session per server
// (options.mirror_session + table_index * TeaServers::kMaxServers + server,
// to that server's port), for the program's Replication(); none in local
// deferral.
void AppendTeaMirrorSessions(std::initializer_list<const TeaServers*> tables,
                             pipe::ProgramReplication& out);

// The egress of a TEA program's packets: remote deferral's shadow WRITEs
// (not their mirror copies, which go out as they are) become their READs
// (TeaLookup::ToReadRequest) on their way to the table's port.
// `tables`: every pipe's (a pipe's WRITE may leave through another pipe's
// port; ToReadRequest only reads its lookup's configuration).
void TeaEgress(pipe::EgressBurst& burst, absl::Span<TeaServers* const> tables);

// A table's cache, PSN and in-flight entries as a Tofino program would
// place them (registers, four stateful ALUs a stage from stage 1): the
// cache as a register per way and word (the 104-bit key in two 64-bit
// cells, the value in a third), the set's CLOCK hand and reference bits,
// the queue pair's PSN and the in-flight lookups. `alu` is the next free
// stateful ALU, shared by the tables of one program.
void AppendTeaLookupResources(absl::string_view table, const TeaLookupOptions& options,
                              uint32_t& alu, std::vector<pipe::ResourceUse>& uses);

// The "deferral" and "cache_policy" fields of a TEA program's counters.
nlohmann::json TeaOptionsJson(const TeaLookupOptions& options);

}  // namespace softfino::pipelines
