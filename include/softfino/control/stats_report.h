// The switch's counters as a human-readable table and as JSON.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/dataplane/ports.h"
#include "softfino/dataplane/stats.h"

namespace softfino::control {

std::string FormatStatsText(absl::string_view pipeline, const dataplane::StatsSnapshot& stats,
                            const dataplane::Ports& ports);
nlohmann::json StatsToJson(absl::string_view pipeline, const dataplane::StatsSnapshot& stats,
                           const dataplane::Ports& ports);

}  // namespace softfino::control
