// Trumpet's trigger language (trumpet/trigger_parser.h): a trigger file
// (text) and a trigger in its JSON form, both from users of the control
// socket or the config file.
//
// Invariants: what parses (from either form) formats (FormatTrigger) into a
// line that parses back to the same trigger, which is the text the listing
// form (TriggerToJson) shows; a parsed filter value is already masked by its
// lengths; lengths are within their fields.
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/trumpet/trigger.h"
#include "softfino/trumpet/trigger_parser.h"
#include "test/fuzz/fuzz_util.h"

namespace trumpet = softfino::trumpet;

namespace {

bool Same(const trumpet::Trigger& a, const trumpet::Trigger& b) {
  return a.name == b.name && a.filter_value == b.filter_value &&
         a.filter_lengths == b.filter_lengths && a.group_lengths == b.group_lengths &&
         a.interval_ns == b.interval_ns && a.predicate.metric == b.predicate.metric &&
         a.predicate.ratio == b.predicate.ratio &&
         (!a.predicate.ratio || a.predicate.denominator == b.predicate.denominator) &&
         a.predicate.comparison == b.predicate.comparison &&
         a.predicate.threshold == b.predicate.threshold;
}

bool LengthsValid(const trumpet::FieldLengths& l) {
  return l.src <= 32 && l.dst <= 32 && l.sport <= 16 && l.dport <= 16 &&
         (l.proto == 0 || l.proto == 8);
}

void Check(const trumpet::Trigger& t) {
  FUZZ_CHECK(LengthsValid(t.filter_lengths) && LengthsValid(t.group_lengths));
  FUZZ_CHECK(trumpet::Mask(t.filter_value, t.filter_lengths) == t.filter_value);
  const std::string line = trumpet::FormatTrigger(t);
  absl::StatusOr<trumpet::Trigger> again = trumpet::ParseTrigger(line);
  if (!again.ok()) {
    std::fprintf(stderr, "formatted: %s\nerror: %s\n", line.c_str(),
                 std::string(again.status().message()).c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(Same(t, *again));
  // The listing form (trigger_list) shows the trigger as its text.
  const nlohmann::json j = trumpet::TriggerToJson(t);
  FUZZ_CHECK(j["name"] == t.name && j["text"] == line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto file = trumpet::ParseTriggerFile(text); file.ok()) {
    for (const trumpet::Trigger& t : *file) Check(t);
  }
  // The same bytes as the JSON form.
  if (auto j = softfino::fuzz::ParseJson(data, size)) {
    if (auto t = trumpet::TriggerFromJson(*j); t.ok()) Check(*t);
  }
  return 0;
}
