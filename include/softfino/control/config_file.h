// Loading the --config file.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace softfino::control {

// Reads and parses a JSON file. Errors name the file and, for syntax errors,
// the line and column.
absl::StatusOr<nlohmann::json> LoadJsonFile(const std::string& path);

// What nlohmann's parse threw, for a user: "parse error at line L, column
// C: ..." for a syntax error, "number overflow parsing '1e999'" for a
// number no double holds (out_of_range: a parse that catches only
// parse_error lets that one through, fuzz_control_framing found).
std::string DescribeJsonError(const nlohmann::json::exception& e);

}  // namespace softfino::control
