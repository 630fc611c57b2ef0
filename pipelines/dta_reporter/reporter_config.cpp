#include "pipelines/dta_reporter/reporter_config.h"

#include <initializer_list>
#include <string>

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
  auto report_port = Uint(r, path, "report_port", 0, max_port, std::nullopt);
  auto slots = Uint(r, path, "flow_slots", 1, 1u << 24, 65536);
  auto group_base = Uint(r, path, "multicast_group_base", 1, 0xffff - 16 * 64, 0xe000);
  for (const auto* v : {&switch_id, &hop, &report_port, &slots, &group_base}) {
    if (!v->ok()) return v->status();
  }
  if ((*slots & (*slots - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".flow_slots is ", *slots, "; it must be a power of two"));
  }
  c.switch_id = static_cast<uint16_t>(*switch_id);
  c.hop = static_cast<uint8_t>(*hop);
  c.report_port = static_cast<pipe::PortId>(*report_port);
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
    if (*out == c.report_port) {
      return absl::InvalidArgumentError(absl::StrCat(
          p, ": port ", *out, " is the report port; forwarded traffic needs another"));
    }
    c.forward[*in] = static_cast<pipe::PortId>(*out);
  }

  const std::string rp = path + ".report";
  if (!r.contains("report")) return absl::InvalidArgumentError(rp + " is missing");
  if (auto s = OnlyFields(r["report"], rp, {"src_ip", "dst_ip", "src_mac", "dst_mac"}); !s.ok()) {
    return s;
  }
  for (const char* field : {"src_ip", "dst_ip"}) {
    auto text = Text(r["report"], rp, field);
    if (!text.ok()) return text.status();
    auto ip = net::ParseIpv4Prefix(*text + "/32");
    if (!ip.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(rp, ".", field, ": \"", *text, "\" is not an IPv4 address"));
    }
    (std::string(field) == "src_ip" ? c.report.src_ip : c.report.dst_ip) = ip->addr;
  }
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
