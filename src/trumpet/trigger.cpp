#include "softfino/trumpet/trigger.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "softfino/net/address.h"

namespace softfino::trumpet {
namespace {

uint32_t Mask32(uint32_t v, uint8_t len) { return len == 0 ? 0 : v & (~uint32_t{0} << (32 - len)); }
uint16_t Mask16(uint16_t v, uint8_t len) {
  return len == 0 ? 0 : static_cast<uint16_t>(v & (0xffffu << (16 - len)));
}

// "12ms", "500us", "1s": the largest unit that divides it.
std::string FormatInterval(uint64_t ns) {
  if (ns % 1'000'000'000 == 0) return absl::StrCat(ns / 1'000'000'000, "s");
  if (ns % 1'000'000 == 0) return absl::StrCat(ns / 1'000'000, "ms");
  return absl::StrCat(ns / 1000, "us");
}

const char* ComparisonText(Comparison c) {
  switch (c) {
    case Comparison::kGreater: return ">";
    case Comparison::kGreaterEqual: return ">=";
    case Comparison::kLess: return "<";
    case Comparison::kLessEqual: return "<=";
  }
  return "?";
}

// The shortest text that parses back to exactly `threshold`, so that a
// trigger re-added from its listing (FormatTrigger) is the same trigger; "%g"
// alone rounds to 6 digits (found by test/fuzz/fuzz_trigger). A ratio reads
// best as a percent; when no percent text gives the threshold back exactly
// (the parser divides by 100, which rounds), the fraction itself does.
std::string ThresholdText(double threshold, bool ratio) {
  double back = 0;
  if (ratio) {
    for (int digits = 6; digits <= 17; ++digits) {
      const std::string text = absl::StrFormat("%.*g", digits, threshold * 100);
      if (absl::SimpleAtod(text, &back) && back / 100 == threshold) return text + "%";
    }
  }
  for (int digits = 6; digits < 17; ++digits) {
    const std::string text = absl::StrFormat("%.*g", digits, threshold);
    if (absl::SimpleAtod(text, &back) && back == threshold) return text;
  }
  return absl::StrFormat("%.17g", threshold);
}

}  // namespace

FiveTuple Mask(const FiveTuple& t, const FieldLengths& l) {
  FiveTuple m;
  m.src = Mask32(t.src, l.src);
  m.dst = Mask32(t.dst, l.dst);
  m.sport = Mask16(t.sport, l.sport);
  m.dport = Mask16(t.dport, l.dport);
  m.proto = l.proto ? t.proto : 0;
  return m;
}

const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kPackets: return "packets";
    case Metric::kBytes: return "bytes";
    case Metric::kLost: return "lost";
    case Metric::kBursts: return "bursts";
    case Metric::kCount: break;
  }
  return "?";
}

std::string FormatGroup(const FiveTuple& g, const FieldLengths& l) {
  std::string out;
  const auto add = [&](absl::string_view text) {
    if (!out.empty()) out += ' ';
    absl::StrAppend(&out, text);
  };
  if (l.src) add(absl::StrCat("src=", net::FormatIpv4Prefix({g.src, l.src})));
  if (l.dst) add(absl::StrCat("dst=", net::FormatIpv4Prefix({g.dst, l.dst})));
  if (l.sport) add(absl::StrCat("sport=", g.sport, l.sport == 16 ? "" : absl::StrCat("/", l.sport)));
  if (l.dport) add(absl::StrCat("dport=", g.dport, l.dport == 16 ? "" : absl::StrCat("/", l.dport)));
  if (l.proto) add(absl::StrCat("proto=", g.proto));
  return out.empty() ? "*" : out;
}

std::string FormatTrigger(const Trigger& t) {
  std::string group;
  const FieldLengths& g = t.group_lengths;
  const auto add = [&](absl::string_view name, uint8_t len, uint8_t full) {
    if (len == 0) return;
    absl::StrAppend(&group, " ", name, len == full ? "" : absl::StrCat("/", len));
  };
  add("src", g.src, 32);
  add("dst", g.dst, 32);
  add("sport", g.sport, 16);
  add("dport", g.dport, 16);
  add("proto", g.proto, 8);
  const Predicate& p = t.predicate;
  std::string when = MetricName(p.metric);
  if (p.ratio) absl::StrAppend(&when, "/", MetricName(p.denominator));
  absl::StrAppend(&when, " ", ComparisonText(p.comparison), " ",
                  ThresholdText(p.threshold, p.ratio));
  return absl::StrCat(t.name, ": filter ", FormatGroup(t.filter_value, t.filter_lengths), " group",
                      group.empty() ? " *" : group, " every ", FormatInterval(t.interval_ns),
                      " when ", when);
}

}  // namespace softfino::trumpet
