#include "softfino/control/port_config.h"

#include "absl/strings/str_cat.h"

namespace softfino::control {
namespace {

absl::StatusOr<uint64_t> ParseSpeed(const nlohmann::json& v, const std::string& path) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  static constexpr struct {
    const char* name;
    uint64_t bps;
  } kSpeeds[] = {{"1G", 1'000'000'000},     {"10G", 10'000'000'000},   {"25G", 25'000'000'000},
                 {"40G", 40'000'000'000},   {"50G", 50'000'000'000},   {"100G", 100'000'000'000},
                 {"200G", 200'000'000'000}, {"400G", 400'000'000'000}};
  if (v.is_string()) {
    for (const auto& s : kSpeeds) {
      if (v.get<std::string>() == s.name) return s.bps;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": ", v.dump(), " is not a port speed: use 1G, 10G, 25G, 40G, 50G, 100G, 200G, "
      "400G or bits per second"));
}

absl::StatusOr<uint64_t> ParseUint(const nlohmann::json& v, const std::string& path, uint64_t min,
                                   uint64_t max) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<uint64_t>() < min ||
      v.get<uint64_t>() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", v.dump(), " is not an integer in ", min, "..", max));
  }
  return v.get<uint64_t>();
}

}  // namespace

absl::StatusOr<std::vector<std::optional<tm::EgressPortConfig>>> ParsePortConfig(
    const nlohmann::json& config, uint16_t port_count) {
  std::vector<std::optional<tm::EgressPortConfig>> out(port_count);
  if (!config.is_object() || !config.contains("ports")) return out;
  const nlohmann::json& ports = config["ports"];
  if (!ports.is_array()) return absl::InvalidArgumentError("ports: must be an array of port objects");
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string path = absl::StrCat("ports[", i, "]");
    const nlohmann::json& p = ports[i];
    if (!p.is_object() || !p.contains("port")) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": must be an object with a \"port\""));
    }
    auto port = ParseUint(p["port"], path + ".port", 0, 0xffff);
    if (!port.ok()) return port.status();
    if (*port >= port_count) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".port: port ", *port,
                                                     " does not exist; this switch has ",
                                                     port_count, " port(s)"));
    }
    if (out[*port]) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".port: port ", *port, " is listed twice"));
    }
    tm::EgressPortConfig c;
    for (const auto& [key, value] : p.items()) {
      const std::string field = absl::StrCat(path, ".", key);
      if (key == "port") continue;
      if (key == "speed") {
        auto speed = ParseSpeed(value, field);
        if (!speed.ok()) return speed.status();
        c.rate_bps = *speed;
      } else if (key == "queues") {
        auto queues = ParseUint(value, field, 1, 32);
        if (!queues.ok()) return queues.status();
        c.queues = static_cast<uint8_t>(*queues);
      } else if (key == "queue_limit_cells") {
        auto limit = ParseUint(value, field, 1, 1u << 24);
        if (!limit.ok()) return limit.status();
        c.queue_limit_cells = static_cast<uint32_t>(*limit);
      } else if (key == "queue_capacity_packets") {
        auto capacity = ParseUint(value, field, 2, 1u << 20);
        if (!capacity.ok()) return capacity.status();
        c.queue_capacity_packets = static_cast<uint32_t>(*capacity);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": unknown field (expected port, speed, queues, queue_limit_cells, "
                   "queue_capacity_packets)"));
      }
    }
    // Validate against the TM's own rules now, so the error names the entry.
    if (auto made = tm::EgressPort::Create(static_cast<pipe::PortId>(*port), c); !made.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", made.status().message()));
    }
    out[*port] = c;
  }
  return out;
}

}  // namespace softfino::control
