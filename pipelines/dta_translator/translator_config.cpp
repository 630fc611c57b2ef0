#include "pipelines/dta_translator/translator_config.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace softfino::pipelines {

namespace {

absl::StatusOr<uint64_t> Unsigned(const nlohmann::json& value, const std::string& name,
                                  uint64_t min, uint64_t max) {
  if (!value.is_number_unsigned() || value.get<uint64_t>() < min ||
      value.get<uint64_t>() > max) {
    return absl::InvalidArgumentError(absl::StrCat("dta_translator.", name, " is ", value.dump(),
                                                   "; it must be an integer ", min, "..", max));
  }
  return value.get<uint64_t>();
}

}  // namespace

absl::StatusOr<TranslatorConfig> ParseTranslatorConfig(const nlohmann::json& config) {
  TranslatorConfig c;
  if (!config.is_object() || !config.contains("dta_translator")) {
    return absl::InvalidArgumentError(
        "the config needs a \"dta_translator\" section: at least \"collectors\" and \"layout\" "
        "(see pipelines/dta_translator/README.md)");
  }
  const nlohmann::json& t = config["dta_translator"];
  if (!t.is_object()) return absl::InvalidArgumentError("dta_translator: expected an object");
  bool has_collectors = false, has_layout = false;
  for (const auto& [key, value] : t.items()) {
    if (key == "base_form") {
      if (!value.is_string()) {
        return absl::InvalidArgumentError("dta_translator.base_form: expected a string");
      }
      auto form = net::ParseDtaBaseForm(value.get<std::string>());
      if (!form.ok()) return form.status();
      c.base_form = *form;
    } else if (key == "collectors") {
      if (!value.is_array() || value.empty() || value.size() > 64) {
        return absl::InvalidArgumentError(
            "dta_translator.collectors: expected 1..64 collector names, e.g. [\"c0\"]");
      }
      for (const auto& name : value) {
        if (!name.is_string() || name.get<std::string>().empty()) {
          return absl::InvalidArgumentError(
              "dta_translator.collectors: every collector is a non-empty name");
        }
        if (std::count(c.collectors.begin(), c.collectors.end(), name.get<std::string>())) {
          return absl::InvalidArgumentError(absl::StrCat(
              "dta_translator.collectors: \"", name.get<std::string>(), "\" is named twice"));
        }
        c.collectors.push_back(name.get<std::string>());
      }
      has_collectors = true;
    } else if (key == "layout") {
      auto layout = dta::ParseLayoutConfig(value);
      if (!layout.ok()) return layout.status();
      c.layout = *layout;
      has_layout = true;
    } else if (key == "postcarding_path_length") {
      auto v = Unsigned(value, key, net::kDtaMinHop, net::kDtaMaxHop);
      if (!v.ok()) return v.status();
      c.postcarding_path_length = static_cast<uint8_t>(*v);
    } else if (key == "postcard_cache_rows") {
      auto v = Unsigned(value, key, 1, 1u << 24);
      if (!v.ok()) return v.status();
      c.postcard_cache_rows = static_cast<uint32_t>(*v);
    } else if (key == "multicast_group_base") {
      auto v = Unsigned(value, key, 1, 0xffff - 4 * 64);
      if (!v.ok()) return v.status();
      c.multicast_group_base = static_cast<uint16_t>(*v);
    } else if (key == "mirror_session_base") {
      auto v = Unsigned(value, key, 1, 1023 - 64);  // TNA's MirrorId_t is 10 bits
      if (!v.ok()) return v.status();
      c.mirror_session_base = static_cast<uint16_t>(*v);
    } else if (key == "probe_timeout_us") {
      auto v = Unsigned(value, key, 1, 10'000'000);
      if (!v.ok()) return v.status();
      c.probe_timeout_us = static_cast<uint32_t>(*v);
    } else if (key == "nack_reporters") {
      if (!value.is_boolean()) {
        return absl::InvalidArgumentError("dta_translator.nack_reporters: expected true or false");
      }
      c.nack_reporters = value.get<bool>();
    } else if (key == "reporter_slots") {
      auto v = Unsigned(value, key, 1, 1u << 20);
      if (!v.ok()) return v.status();
      if ((*v & (*v - 1)) != 0) {
        return absl::InvalidArgumentError("dta_translator.reporter_slots must be a power of two");
      }
      c.reporter_slots = static_cast<uint32_t>(*v);
    } else if (key == "nack_session_base") {
      auto v = Unsigned(value, key, 1, 1023);
      if (!v.ok()) return v.status();
      c.nack_session_base = static_cast<uint16_t>(*v);
    } else if (key == "drop_every") {
      auto v = Unsigned(value, key, 0, 0xffffffff);
      if (!v.ok()) return v.status();
      c.drop_every = static_cast<uint32_t>(*v);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "dta_translator: unknown field \"", key,
          "\"; it has base_form, collectors, layout, postcarding_path_length, "
          "postcard_cache_rows, multicast_group_base, mirror_session_base, probe_timeout_us, "
          "nack_reporters, reporter_slots, nack_session_base, drop_every"));
    }
  }
  if (!has_collectors) {
    return absl::InvalidArgumentError(
        "dta_translator.collectors is missing: name the collectors, e.g. [\"c0\"], and connect "
        "\"c0/keywrite\" (and the other primitives') in rdma.connections");
  }
  if (!has_layout) {
    return absl::InvalidArgumentError(
        "dta_translator.layout is missing: the sizes of the collector's structures, the same "
        "as the collector's --dta-layout");
  }
  if (c.nack_reporters && c.base_form != net::DtaBaseForm::kThreeByte) {
    return absl::InvalidArgumentError(
        "dta_translator.nack_reporters needs base_form \"3-byte\": the 2-byte form has no "
        "sequence numbers");
  }
  return c;
}

}  // namespace softfino::pipelines
