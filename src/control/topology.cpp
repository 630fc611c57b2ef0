#include "softfino/control/topology.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "softfino/control/config_file.h"
#include "softfino/dataplane/links.h"

namespace softfino::control {
namespace {

using json = nlohmann::json;

absl::Status Bad(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

// Names that go into DPDK object names and socket file names.
bool SafeName(const std::string& name, size_t max_length) {
  if (name.empty() || name.size() > max_length) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

constexpr size_t kMaxSwitchName = 24;

absl::StatusOr<TopologyPort> ParsePort(const json& p, const std::string& where) {
  TopologyPort port;
  if (p.is_string()) {
    port.device = p.get<std::string>();
    if (port.device.empty()) return Bad(where, "empty device name; give a DPDK device, e.g. \"net_pcap0\"");
    return port;
  }
  if (p.is_object() && p.size() == 1 && p.contains("link") && p["link"].is_string()) {
    port.link = p["link"].get<std::string>();
    if (!SafeName(port.link, dataplane::InternalLink::kMaxNameLength)) {
      return Bad(absl::StrCat(where, ".link"),
                 absl::StrCat("\"", port.link, "\": a link name has 1 to ",
                              dataplane::InternalLink::kMaxNameLength,
                              " letters, digits, '-' or '_'"));
    }
    return port;
  }
  return Bad(where, "a port is a DPDK device name (\"net_pcap0\") or {\"link\": NAME}");
}

absl::StatusOr<TopologySwitch> ParseSwitch(const json& s, const std::string& where,
                                           const std::string& path,
                                           absl::Span<const std::string> pipelines) {
  if (!s.is_object()) return Bad(where, "a switch is an object with name, pipeline and ports");
  static const char* kKeys[] = {"name", "pipeline", "config", "fp_cores", "ports",
                                "control_socket", "events"};
  for (const auto& [key, value] : s.items()) {
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return Bad(absl::StrCat(where, ".", key),
                 "unknown field; a switch has name, pipeline, config, fp_cores, ports, "
                 "control_socket, events");
    }
  }
  TopologySwitch sw;
  if (!s.contains("name") || !s["name"].is_string() ||
      !SafeName(s["name"].get<std::string>(), kMaxSwitchName)) {
    return Bad(absl::StrCat(where, ".name"),
               absl::StrCat("missing or bad; a switch name has 1 to ", kMaxSwitchName,
                            " letters, digits, '-' or '_'"));
  }
  sw.name = s["name"].get<std::string>();
  if (!s.contains("pipeline") || !s["pipeline"].is_string()) {
    return Bad(absl::StrCat(where, ".pipeline"),
               absl::StrCat("missing; one of ", absl::StrJoin(pipelines, ", ")));
  }
  sw.pipeline = s["pipeline"].get<std::string>();
  if (std::find(pipelines.begin(), pipelines.end(), sw.pipeline) == pipelines.end()) {
    return Bad(absl::StrCat(where, ".pipeline"),
               absl::StrCat("no program \"", sw.pipeline, "\"; one of ",
                            absl::StrJoin(pipelines, ", ")));
  }
  if (s.contains("config")) {
    const json& c = s["config"];
    if (c.is_string()) {
      std::string file = c.get<std::string>();
      const size_t slash = path.rfind('/');
      if (!file.empty() && file[0] != '/' && slash != std::string::npos) {
        file = absl::StrCat(path.substr(0, slash + 1), file);
      }
      sw.config_path = file;
    } else if (c.is_object()) {
      sw.config = c;
      sw.config_path = absl::StrCat(path, ": ", where, ".config");
    } else {
      return Bad(absl::StrCat(where, ".config"),
                 "give the program's config file (relative to the topology) or the config object");
    }
  }
  if (s.contains("fp_cores")) {
    const json& f = s["fp_cores"];
    if (!f.is_number_unsigned() || f.get<uint64_t>() < 1 || f.get<uint64_t>() > 64) {
      return Bad(absl::StrCat(where, ".fp_cores"), "pipes of this switch: 1..64");
    }
    sw.fp_cores = f.get<uint16_t>();
  }
  for (const char* key : {"control_socket", "events"}) {
    if (!s.contains(key)) continue;
    if (!s[key].is_string() || s[key].get<std::string>().empty()) {
      return Bad(absl::StrCat(where, ".", key), "a file path");
    }
    (std::string(key) == "events" ? sw.events : sw.control_socket) = s[key].get<std::string>();
  }
  if (!s.contains("ports") || !s["ports"].is_array() || s["ports"].empty()) {
    return Bad(absl::StrCat(where, ".ports"),
               "missing; list the switch's ports in order: DPDK device names or {\"link\": NAME}");
  }
  for (size_t i = 0; i < s["ports"].size(); ++i) {
    auto port = ParsePort(s["ports"][i], absl::StrCat(where, ".ports[", i, "]"));
    if (!port.ok()) return port.status();
    sw.ports.push_back(*std::move(port));
  }
  return sw;
}

}  // namespace

std::string TopologySocketName(const std::string& name) {
  return absl::StrCat("softfino-", name, ".sock");
}

absl::StatusOr<Topology> ParseTopology(const json& j, const std::string& path,
                                       absl::Span<const std::string> pipelines) {
  if (!j.is_object() || !j.contains("switches") || !j["switches"].is_array() ||
      j["switches"].empty()) {
    return Bad(path, "expected {\"switches\": [{\"name\", \"pipeline\", \"config\", \"ports\"}, ...]}");
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "switches") return Bad(absl::StrCat(path, ": ", key), "unknown field; only \"switches\"");
  }
  Topology t;
  std::map<std::string, size_t> device_user;  // device -> switch index
  std::map<std::string, size_t> link_index;
  std::vector<int> link_ends;
  for (size_t i = 0; i < j["switches"].size(); ++i) {
    const std::string where = absl::StrCat("switches[", i, "]");
    auto sw = ParseSwitch(j["switches"][i], where, path, pipelines);
    if (!sw.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", sw.status().message()));
    for (size_t k = 0; k < i; ++k) {
      if (t.switches[k].name == sw->name) {
        return Bad(absl::StrCat(path, ": ", where, ".name"),
                   absl::StrCat("\"", sw->name, "\" is also switches[", k, "]'s name"));
      }
    }
    for (size_t p = 0; p < sw->ports.size(); ++p) {
      const TopologyPort& port = sw->ports[p];
      const std::string port_where = absl::StrCat(path, ": ", where, ".ports[", p, "]");
      if (!port.device.empty()) {
        auto [it, fresh] = device_user.emplace(port.device, i);
        if (!fresh) {
          return Bad(port_where, absl::StrCat("device ", port.device, " is already a port of switch ",
                                              t.switches.size() > it->second
                                                  ? t.switches[it->second].name
                                                  : sw->name,
                                              "; a device belongs to one switch, once"));
        }
        continue;
      }
      auto [it, fresh] = link_index.emplace(port.link, t.links.size());
      if (fresh) {
        t.links.push_back({port.link, i, p, 0, 0});
        link_ends.push_back(1);
        continue;
      }
      if (++link_ends[it->second] > 2) {
        return Bad(port_where, absl::StrCat("link \"", port.link,
                                            "\" already has both its ends; a link joins two ports"));
      }
      t.links[it->second].b_switch = i;
      t.links[it->second].b_port = p;
    }
    t.switches.push_back(*std::move(sw));
  }
  for (size_t l = 0; l < t.links.size(); ++l) {
    if (link_ends[l] != 2) {
      const Topology::Link& link = t.links[l];
      return Bad(path, absl::StrCat("link \"", link.name, "\" has one end (switch ",
                                    t.switches[link.a_switch].name, " port ", link.a_port,
                                    "); name it in the ports of the switch at its other end"));
    }
  }
  return t;
}

absl::StatusOr<Topology> LoadTopology(const std::string& path,
                                      absl::Span<const std::string> pipelines) {
  auto j = LoadJsonFile(path);
  if (!j.ok()) return j.status();
  auto t = ParseTopology(*j, path, pipelines);
  if (!t.ok()) return t.status();
  for (TopologySwitch& sw : t->switches) {
    if (!sw.config.is_null() || sw.config_path.empty()) continue;
    auto config = LoadJsonFile(sw.config_path);
    if (!config.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": switch ", sw.name, ": config ", config.status().message()));
    }
    sw.config = *std::move(config);
  }
  return t;
}

}  // namespace softfino::control
