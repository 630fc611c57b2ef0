// What a program would take on a Tofino-1, stage by stage, so a program that
// runs here but would not fit on hardware says so. Programs declare their
// tables and stateful objects with the stage a P4 compiler would place them
// in; the estimate follows how Tofino lays memory out:
//   SRAM: 80 blocks per stage, each 1024 words of 128 bits;
//   TCAM: 24 blocks per stage, each 512 entries of 44 bits;
//   4 stateful ALUs per stage (registers and meters), 16 logical tables.
// Memory that does not fit in a stage spills into the following stages, as
// the compiler splits large tables. It is an estimate of the compiler's work,
// not the compiler: the report says so, and errs on the side of using more.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace softfino::pipe {

enum class ResourceKind : uint8_t {
  kExactTable,
  kTernaryTable,
  kLpmTable,
  kRangeTable,
  kRegister,
  kCounter,
  kMeter,
};

struct ResourceUse {
  std::string name;
  ResourceKind kind;
  uint8_t stage;           // 0-based MAU stage
  uint32_t entries;        // table entries or array cells
  uint32_t key_bits = 0;   // match key width (tables)
  uint32_t data_bits = 0;  // action data (tables) or cell width (stateful)
};

struct Tofino1Limits {
  static constexpr uint32_t kStages = 12;
  static constexpr uint32_t kSramBlocks = 80;
  static constexpr uint32_t kSramWords = 1024;
  static constexpr uint32_t kSramWordBits = 128;
  static constexpr uint32_t kTcamBlocks = 24;
  static constexpr uint32_t kTcamEntries = 512;
  static constexpr uint32_t kTcamBits = 44;
  static constexpr uint32_t kStatefulAlus = 4;
  static constexpr uint32_t kLogicalTables = 16;
};

struct StageUse {
  uint32_t sram_blocks = 0;
  uint32_t tcam_blocks = 0;
  uint32_t stateful_alus = 0;
  uint32_t logical_tables = 0;
};

struct ResourceReport {
  std::vector<StageUse> stages;     // Tofino1Limits::kStages of them, or more when overused
  std::vector<std::string> errors;  // why it would not fit; empty when it fits
  bool fits() const { return errors.empty(); }
};

// The SRAM and TCAM blocks one object takes (see the rules above).
StageUse EstimateUse(const ResourceUse& use);
ResourceReport BuildResourceReport(const std::vector<ResourceUse>& uses);
std::string FormatResourceReport(absl::string_view program, const std::vector<ResourceUse>& uses,
                                 const ResourceReport& report);

}  // namespace softfino::pipe
