#include "softfino/pipe/resources.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace softfino::pipe {
namespace {

using L = Tofino1Limits;

uint32_t DivUp(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

// Blocks of SRAM for `entries` items of `bits` each, packed into 128-bit
// words (several per word when they fit, several words each when they don't).
uint32_t SramBlocks(uint64_t entries, uint32_t bits) {
  if (entries == 0 || bits == 0) return 0;
  uint64_t words;
  if (bits <= L::kSramWordBits) {
    words = DivUp(entries, L::kSramWordBits / bits);
  } else {
    words = entries * DivUp(bits, L::kSramWordBits);
  }
  return DivUp(words, L::kSramWords);
}

const char* KindName(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kExactTable: return "exact";
    case ResourceKind::kTernaryTable: return "ternary";
    case ResourceKind::kLpmTable: return "lpm";
    case ResourceKind::kRangeTable: return "range";
    case ResourceKind::kRegister: return "register";
    case ResourceKind::kCounter: return "counter";
    case ResourceKind::kMeter: return "meter";
  }
  return "?";
}

}  // namespace

StageUse EstimateUse(const ResourceUse& u) {
  StageUse s;
  switch (u.kind) {
    case ResourceKind::kExactTable:
      // Cuckoo hashing over 4 ways runs at about 80% occupancy; each entry
      // holds its key, a 4-bit version/valid field and an action pointer,
      // with action data beside it.
      s.sram_blocks = SramBlocks(DivUp(uint64_t{u.entries} * 5, 4), u.key_bits + 4 + 8) +
                      SramBlocks(u.entries, u.data_bits);
      s.logical_tables = 1;
      break;
    case ResourceKind::kTernaryTable:
    case ResourceKind::kLpmTable:
    case ResourceKind::kRangeTable: {
      // Ternary and LPM keys live in TCAM (range fields expand to about two
      // TCAM entries each); the action data in SRAM.
      const uint32_t expand = u.kind == ResourceKind::kRangeTable ? 2 : 1;
      s.tcam_blocks = DivUp(uint64_t{u.entries} * expand, L::kTcamEntries) *
                      DivUp(std::max<uint32_t>(u.key_bits, 1), L::kTcamBits);
      s.sram_blocks = SramBlocks(u.entries, u.data_bits + 8);
      s.logical_tables = 1;
      break;
    }
    case ResourceKind::kRegister:
    case ResourceKind::kMeter:
      // One stateful ALU; the cells plus a spare block the ALU needs.
      s.sram_blocks = SramBlocks(u.entries, u.kind == ResourceKind::kMeter ? 128 : u.data_bits) + 1;
      s.stateful_alus = 1;
      break;
    case ResourceKind::kCounter:
      s.sram_blocks = SramBlocks(u.entries, u.data_bits ? u.data_bits : 64);
      break;
  }
  return s;
}

ResourceReport BuildResourceReport(const std::vector<ResourceUse>& uses) {
  ResourceReport r;
  r.stages.resize(L::kStages);
  // Memory a stage cannot hold spills into the next stages, as the compiler
  // splits a large table; stateful ALUs cannot spill.
  const auto place = [&](uint32_t StageUse::*field, uint32_t amount, uint32_t limit, size_t stage) {
    while (amount != 0) {
      if (stage >= r.stages.size()) r.stages.resize(stage + 1);
      uint32_t& used = r.stages[stage].*field;
      const uint32_t take = std::min(amount, used < limit ? limit - used : 0u);
      used += take;
      amount -= take;
      if (amount != 0) {
        ++stage;
        if (stage >= r.stages.size()) r.stages.resize(stage + 1);
        ++r.stages[stage].logical_tables;  // each stage a table spans holds a part of it
      }
    }
  };
  for (const ResourceUse& u : uses) {
    if (u.stage >= r.stages.size()) r.stages.resize(u.stage + 1u);
    const StageUse e = EstimateUse(u);
    r.stages[u.stage].stateful_alus += e.stateful_alus;
    r.stages[u.stage].logical_tables += e.logical_tables;
    place(&StageUse::tcam_blocks, e.tcam_blocks, L::kTcamBlocks, u.stage);
    place(&StageUse::sram_blocks, e.sram_blocks, L::kSramBlocks, u.stage);
  }
  if (r.stages.size() > L::kStages) {
    r.errors.push_back(absl::StrCat("uses ", r.stages.size(), " stages; Tofino-1 has ", L::kStages));
  }
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const StageUse& s = r.stages[i];
    const auto over = [&](const char* what, uint32_t used, uint32_t limit) {
      if (used > limit) {
        r.errors.push_back(absl::StrCat("stage ", i, ": ", used, " ", what, " of ", limit));
      }
    };
    over("SRAM blocks", s.sram_blocks, L::kSramBlocks);
    over("TCAM blocks", s.tcam_blocks, L::kTcamBlocks);
    over("stateful ALUs", s.stateful_alus, L::kStatefulAlus);
    over("logical tables", s.logical_tables, L::kLogicalTables);
  }
  return r;
}

std::string FormatResourceReport(absl::string_view program, const std::vector<ResourceUse>& uses,
                                 const ResourceReport& report) {
  std::string out = absl::StrFormat(
      "%s on Tofino-1 (an estimate of the compiler's placement, not bf-p4c itself)\n", program);
  absl::StrAppendFormat(&out, "  %-5s %-22s %-9s %9s %6s %6s %6s %6s %5s\n", "stage", "object",
                        "kind", "entries", "key_b", "data_b", "sram", "tcam", "salu");
  for (const ResourceUse& u : uses) {
    const StageUse e = EstimateUse(u);
    absl::StrAppendFormat(&out, "  %-5u %-22s %-9s %9u %6u %6u %6u %6u %5u\n", u.stage, u.name,
                          KindName(u.kind), u.entries, u.key_bits, u.data_bits, e.sram_blocks,
                          e.tcam_blocks, e.stateful_alus);
  }
  absl::StrAppendFormat(&out, "  per stage (limits: %u SRAM, %u TCAM, %u SALU, %u tables):\n",
                        L::kSramBlocks, L::kTcamBlocks, L::kStatefulAlus, L::kLogicalTables);
  for (size_t i = 0; i < report.stages.size(); ++i) {
    const StageUse& s = report.stages[i];
    if (s.sram_blocks + s.tcam_blocks + s.stateful_alus + s.logical_tables == 0) continue;
    absl::StrAppendFormat(&out, "  %-5u sram %3u/%u  tcam %2u/%u  salu %u/%u  tables %u/%u\n", i,
                          s.sram_blocks, L::kSramBlocks, s.tcam_blocks, L::kTcamBlocks,
                          s.stateful_alus, L::kStatefulAlus, s.logical_tables, L::kLogicalTables);
  }
  if (report.fits()) {
    absl::StrAppend(&out, "  fits on Tofino-1\n");
  } else {
    absl::StrAppend(&out, "  would NOT fit on Tofino-1:\n");
    for (const std::string& e : report.errors) absl::StrAppend(&out, "    ", e, "\n");
  }
  return out;
}

}  // namespace softfino::pipe
