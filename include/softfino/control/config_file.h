// Loading the --config file.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace softfino::control {

// Reads and parses a JSON file. Errors name the file and, for syntax errors,
// the line and column.
absl::StatusOr<nlohmann::json> LoadJsonFile(const std::string& path);

}  // namespace softfino::control
