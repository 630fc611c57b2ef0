#include "softfino/control/pktgen_config.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace softfino::control {

absl::StatusOr<std::vector<pipe::PktgenApp>> ParsePktgenConfig(const nlohmann::json& config) {
  std::vector<pipe::PktgenApp> apps;
  if (!config.is_object() || !config.contains("pktgen")) return apps;
  const nlohmann::json& list = config["pktgen"];
  if (!list.is_array()) {
    return absl::InvalidArgumentError(
        "pktgen: expected a list of timer apps, e.g. [{\"app\": 0, \"period_us\": 100}]");
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& a = list[i];
    const auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("pktgen[", i, "]: ", what));
    };
    if (!a.is_object()) return bad("expected an object");
    for (const auto& [key, value] : a.items()) {
      static const char* kKeys[] = {"app", "period_us", "batches", "packets_per_batch",
                                    "packet_len"};
      if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
        return bad(absl::StrCat("unknown field \"", key,
                                "\"; a timer app has app, period_us, batches, packets_per_batch, "
                                "packet_len"));
      }
      if (!value.is_number_unsigned()) {
        return bad(absl::StrCat("\"", key, "\" must be a non-negative integer"));
      }
    }
    pipe::PktgenApp app;
    const uint64_t id = a.value("app", uint64_t{0});
    const uint64_t period_us = a.value("period_us", uint64_t{0});
    const uint64_t batches = a.value("batches", uint64_t{1});
    const uint64_t packets = a.value("packets_per_batch", uint64_t{1});
    const uint64_t len = a.value("packet_len", uint64_t{64});
    if (id > 7) return bad(absl::StrCat("app ", id, " does not exist; Tofino-1 has apps 0..7"));
    for (const pipe::PktgenApp& other : apps) {
      if (other.app_id == id) return bad(absl::StrCat("app ", id, " is configured twice"));
    }
    if (period_us == 0 || period_us > 60'000'000) {
      return bad("\"period_us\" must be 1 .. 60000000 (a minute)");
    }
    if (batches == 0 || batches > 64) return bad("\"batches\" must be 1 .. 64");
    if (packets == 0 || packets > 1024) return bad("\"packets_per_batch\" must be 1 .. 1024");
    if (len < sizeof(pipe::PktgenTimerHeader) + 8 || len > 1518) {
      return bad("\"packet_len\" must be 14 .. 1518 bytes (the 6-byte timer header included)");
    }
    app.app_id = static_cast<uint8_t>(id);
    app.period_ns = period_us * 1000;
    app.batches = static_cast<uint16_t>(batches);
    app.packets_per_batch = static_cast<uint16_t>(packets);
    app.packet_len = static_cast<uint16_t>(len);
    apps.push_back(app);
  }
  return apps;
}

}  // namespace softfino::control
