#include "pipelines/dta_reporter/reporter_config.h"

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "softfino/net/address.h"

namespace softfino::pipelines {

namespace {

absl::Status OnlyFields(const nlohmann::json& object, const std::string& path,
                        std::initializer_list<const char*> fields) {
  if (!object.is_object()) return absl::InvalidArgumentError(path + ": expected an object");
  for (const auto& [name, value] : object.items()) {
    bool known = false;
    for (const char* f : fields) known = known || name == f;
    if (!known) {
      std::string list;
      for (const char* f : fields) absl::StrAppend(&list, list.empty() ? "" : ", ", f);
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unknown field \"", name, "\"; it has ", list));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Uint(const nlohmann::json& object, const std::string& path,
                              const char* field, uint64_t min, uint64_t max,
                              std::optional<uint64_t> fallback) {
  const auto it = object.find(field);
  if (it == object.end()) {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat(path, ".", field, " is missing"));
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() < min || it->get<uint64_t>() > max) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".", field, " is ", it->dump(),
                                                   "; it must be an integer ", min, "..", max));
  }
  return it->get<uint64_t>();
}

absl::StatusOr<std::string> Text(const nlohmann::json& object, const std::string& path,
                                 const char* field) {
  const auto it = object.find(field);
  if (it == object.end() || !it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".", field, ": expected a string"));
  }
  return it->get<std::string>();
}

// An IPv4 address: `value` itself (a string), or its field `field`.
absl::StatusOr<uint32_t> Ipv4(const nlohmann::json& value, const std::string& path) {
  if (!value.is_string()) return absl::InvalidArgumentError(path + ": expected a string");
  const std::string text = value.get<std::string>();
  auto ip = net::ParseIpv4Prefix(text + "/32");
  if (!ip.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": \"", text, "\" is not an IPv4 address"));
  }
  return ip->addr;
}
absl::StatusOr<uint32_t> Ipv4(const nlohmann::json& object, const std::string& path,
                              const char* field) {
  const auto it = object.find(field);
  if (it == object.end()) return absl::InvalidArgumentError(absl::StrCat(path, ".", field, " is missing"));
  return Ipv4(*it, absl::StrCat(path, ".", field));
}

// "report_port": a port, or a list of ports in different pipes.
absl::StatusOr<std::vector<ReporterConfig::ReportPort>> ReportPorts(const nlohmann::json& r,
                                                                    const std::string& path,
                                                                    const pipe::SwitchInfo& info) {
  const uint64_t max_port = info.port_count - 1u;
  const auto it = r.find("report_port");
  if (it == r.end()) return absl::InvalidArgumentError(path + ".report_port is missing");
  if (!it->is_array()) {
    auto port = Uint(r, path, "report_port", 0, max_port, std::nullopt);
    if (!port.ok()) return port.status();
    return std::vector<ReporterConfig::ReportPort>{{static_cast<pipe::PortId>(*port), 0}};
  }
  if (it->empty() || it->size() > info.pipe_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ".report_port: a list of 1..", info.pipe_count,
        " ports (at most one per pipe: a pipe reports through the one it owns)"));
  }
  std::vector<ReporterConfig::ReportPort> ports;
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string p = absl::StrCat(path, ".report_port[", i, "]");
    const nlohmann::json& v = (*it)[i];
    if (!v.is_number_unsigned() || v.get<uint64_t>() > max_port) {
      return absl::InvalidArgumentError(
          absl::StrCat(p, " is ", v.dump(), "; it must be a port 0..", max_port));
    }
    const auto port = static_cast<pipe::PortId>(v.get<uint64_t>());
    for (size_t j = 0; j < ports.size(); ++j) {
      if (info.PipeOf(ports[j].port) == info.PipeOf(port)) {
        return absl::InvalidArgumentError(absl::StrCat(
            p, ": port ", port, " is in pipe ", info.PipeOf(port), " as report_port[", j,
            "] (port ", ports[j].port, ") is; give each pipe one report port (port P is in pipe P % ",
            info.pipe_count, ")"));
      }
    }
    ports.push_back({port, 0});
  }
  return ports;
}

}  // namespace

absl::StatusOr<ReporterConfig> ParseReporterConfig(const nlohmann::json& config,
                                                   const pipe::SwitchInfo& info) {
  if (!config.is_object() || !config.contains("dta_reporter")) {
    return absl::InvalidArgumentError(
        "the config needs a \"dta_reporter\" section (see pipelines/dta_reporter/README.md)");
  }
  const nlohmann::json& r = config["dta_reporter"];
  const std::string path = "dta_reporter";
  if (auto s = OnlyFields(r, path,
                          {"base_form", "switch_id", "hop", "forward", "report_port", "report",
                           "flow_slots", "key_write", "key_increment", "append", "postcarding",
                           "multicast_group_base"});
      !s.ok()) {
    return s;
  }
  ReporterConfig c;
  if (r.contains("base_form")) {
    auto name = Text(r, path, "base_form");
    if (!name.ok()) return name.status();
    auto form = net::ParseDtaBaseForm(*name);
    if (!form.ok()) return form.status();
    c.base_form = *form;
  }
  const uint64_t max_port = info.port_count - 1u;
  auto switch_id = Uint(r, path, "switch_id", 0, 0xffff, std::nullopt);
  auto hop = Uint(r, path, "hop", net::kDtaMinHop, net::kDtaMaxHop, 1);
  auto slots = Uint(r, path, "flow_slots", 1, 1u << 24, 65536);
  // How many groups follow it depends on the ports (DtaReporter::Configure
  // checks they fit below 0x10000).
  auto group_base = Uint(r, path, "multicast_group_base", 1, 0xfff0, 0xe000);
  for (const auto* v : {&switch_id, &hop, &slots, &group_base}) {
    if (!v->ok()) return v->status();
  }
  if ((*slots & (*slots - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".flow_slots is ", *slots, "; it must be a power of two"));
  }
  c.switch_id = static_cast<uint16_t>(*switch_id);
  c.hop = static_cast<uint8_t>(*hop);
  auto report_ports = ReportPorts(r, path, info);
  if (!report_ports.ok()) return report_ports.status();
  c.report_ports = *std::move(report_ports);
  c.flow_slots = static_cast<uint32_t>(*slots);
  c.multicast_group_base = static_cast<uint16_t>(*group_base);

  c.forward.assign(info.port_count, pipe::kInvalidPort);
  if (!r.contains("forward") || !r["forward"].is_array() || r["forward"].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".forward: expected a list of {\"in\": PORT, \"out\": PORT}"));
  }
  for (size_t i = 0; i < r["forward"].size(); ++i) {
    const std::string p = absl::StrCat(path, ".forward[", i, "]");
    const nlohmann::json& f = r["forward"][i];
    if (auto s = OnlyFields(f, p, {"in", "out"}); !s.ok()) return s;
    auto in = Uint(f, p, "in", 0, max_port, std::nullopt);
    auto out = Uint(f, p, "out", 0, max_port, std::nullopt);
    if (!in.ok()) return in.status();
    if (!out.ok()) return out.status();
    for (const ReporterConfig::ReportPort& rp : c.report_ports) {
      if (*out == rp.port) {
        return absl::InvalidArgumentError(absl::StrCat(
            p, ": port ", *out, " is a report port; forwarded traffic needs another"));
      }
    }
    c.forward[*in] = static_cast<pipe::PortId>(*out);
  }

  const std::string rp = path + ".report";
  if (!r.contains("report")) return absl::InvalidArgumentError(rp + " is missing");
  if (auto s = OnlyFields(r["report"], rp, {"src_ip", "dst_ip", "src_mac", "dst_mac"}); !s.ok()) {
    return s;
  }
  auto dst_ip = Ipv4(r["report"], rp, "dst_ip");
  if (!dst_ip.ok()) return dst_ip.status();
  c.report.dst_ip = *dst_ip;
  // One source address per report port: a string for one port, a list for
  // several.
  const auto src = r["report"].find("src_ip");
  const bool listed = src != r["report"].end() && src->is_array();
  if (listed != (c.report_ports.size() > 1) ||
      (listed && src->size() != c.report_ports.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        rp, ".src_ip: ", c.report_ports.size(), " report port(s) need ",
        c.report_ports.size() > 1
            ? absl::StrCat("a list of ", c.report_ports.size(),
                           " source addresses, one per report port in its order (each port "
                           "numbers its own reports, and the translator follows a sequence per "
                           "source address)")
            : std::string("one source address, as a string")));
  }
  for (size_t i = 0; i < c.report_ports.size(); ++i) {
    auto ip = listed ? Ipv4((*src)[i], absl::StrCat(rp, ".src_ip[", i, "]"))
                     : Ipv4(r["report"], rp, "src_ip");
    if (!ip.ok()) return ip.status();
    for (size_t j = 0; j < i; ++j) {
      if (c.report_ports[j].src_ip == *ip) {
        return absl::InvalidArgumentError(absl::StrCat(
            rp, ".src_ip[", i, "] is also src_ip[", j,
            "]: each report port needs its own (the translator would see two sequences as one)"));
      }
    }
    c.report_ports[i].src_ip = *ip;
  }
  c.report.src_ip = c.report_ports[0].src_ip;
  for (const char* field : {"src_mac", "dst_mac"}) {
    auto text = Text(r["report"], rp, field);
    if (!text.ok()) return text.status();
    auto mac = net::ParseMac(*text);
    if (!mac.ok()) return absl::InvalidArgumentError(absl::StrCat(rp, ".", field, ": ", mac.status().message()));
    (std::string(field) == "src_mac" ? c.report.src_mac : c.report.dst_mac) = *mac;
  }

  if (r.contains("key_write")) {
    const std::string p = path + ".key_write";
    if (auto s = OnlyFields(r["key_write"], p, {"redundancy"}); !s.ok()) return s;
    auto n = Uint(r["key_write"], p, "redundancy", net::kDtaMinRedundancy, net::kDtaMaxRedundancy, 2);
    if (!n.ok()) return n.status();
    c.key_write = ReporterConfig::KeyWrite{static_cast<uint8_t>(*n)};
  }
  if (r.contains("key_increment")) {
    const std::string p = path + ".key_increment";
    const nlohmann::json& k = r["key_increment"];
    if (auto s = OnlyFields(k, p, {"redundancy", "counter", "every"}); !s.ok()) return s;
    auto n = Uint(k, p, "redundancy", net::kDtaMinRedundancy, net::kDtaMaxRedundancy, 2);
    auto every = Uint(k, p, "every", 1, 1u << 20, 1);
    if (!n.ok()) return n.status();
    if (!every.ok()) return every.status();
    ReporterConfig::KeyIncrement ki;
    ki.redundancy = static_cast<uint8_t>(*n);
    ki.every = static_cast<uint32_t>(*every);
    if (k.contains("counter")) {
      auto counter = Text(k, p, "counter");
      if (!counter.ok()) return counter.status();
      if (*counter != "bytes" && *counter != "packets") {
        return absl::InvalidArgumentError(
            absl::StrCat(p, ".counter is \"", *counter, "\"; it is \"bytes\" or \"packets\""));
      }
      ki.bytes = *counter == "bytes";
    }
    c.key_increment = ki;
  }
  if (r.contains("append")) {
    const std::string p = path + ".append";
    if (auto s = OnlyFields(r["append"], p, {"list"}); !s.ok()) return s;
    auto list = Uint(r["append"], p, "list", 0, 0xffffffff, 0);
    if (!list.ok()) return list.status();
    c.append = ReporterConfig::Append{static_cast<uint32_t>(*list)};
  }
  if (r.contains("postcarding")) {
    if (auto s = OnlyFields(r["postcarding"], path + ".postcarding", {}); !s.ok()) return s;
    c.postcarding = true;
  }
  return c;
}

}  // namespace softfino::pipelines
