// A Trumpet trigger (SIGCOMM'16): for each packet matching a filter, group by
// a flow granularity, and every time interval report each group whose
// predicate holds. E.g. "for flows from 10.1.0.0/16, per source /24, every
// 10 ms, report when lost/packets > 10%".
#pragma once

#include <cstdint>
#include <string>

namespace softfino::trumpet {

// The IPv4 5-tuple in host byte order. Trumpet looks at IPv4 TCP/UDP flows
// (other IP packets have ports 0).
struct FiveTuple {
  uint32_t src = 0, dst = 0;
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  friend bool operator==(const FiveTuple&, const FiveTuple&) = default;
};

// A prefix length per field: how much of each field a filter looks at, or a
// group key keeps. src/dst 0..32, sport/dport 0..16, proto 0 or 8.
struct FieldLengths {
  uint8_t src = 0, dst = 0, sport = 0, dport = 0, proto = 0;
  friend bool operator==(const FieldLengths&, const FieldLengths&) = default;
};

// The tuple with every field cut to its length (bits past it zero).
FiveTuple Mask(const FiveTuple& t, const FieldLengths& lengths);

// Per-flow statistics Trumpet keeps for one epoch, summed over a group.
enum class Metric : uint8_t {
  kPackets,
  kBytes,   // IP bytes as on the wire (frame length)
  kLost,    // TCP retransmissions: a data segment that ends at or before the
            // highest sequence end seen for the flow
  kBursts,  // packets that start a burst: the flow's first packet, or one
            // arriving more than burst_gap after the flow's previous one
  kCount,
};
const char* MetricName(Metric m);

enum class Comparison : uint8_t { kGreater, kGreaterEqual, kLess, kLessEqual };

// metric (or metric / denominator) compared with threshold. A ratio whose
// denominator is 0 never holds.
struct Predicate {
  Metric metric = Metric::kPackets;
  bool ratio = false;
  Metric denominator = Metric::kPackets;
  Comparison comparison = Comparison::kGreater;
  double threshold = 0;  // a ratio's threshold is a fraction (10% -> 0.1)

  // Inline: the sweep checks a per-flow trigger's predicate for every flow
  // it matches, every epoch.
  double Value(const uint64_t (&sums)[static_cast<int>(Metric::kCount)]) const {
    const double num = static_cast<double>(sums[static_cast<int>(metric)]);
    if (!ratio) return num;
    const uint64_t den = sums[static_cast<int>(denominator)];
    return den == 0 ? -1 : num / static_cast<double>(den);
  }
  bool Holds(double value) const {
    if (ratio && value < 0) return false;  // no denominator: nothing to say
    switch (comparison) {
      case Comparison::kGreater: return value > threshold;
      case Comparison::kGreaterEqual: return value >= threshold;
      case Comparison::kLess: return value < threshold;
      case Comparison::kLessEqual: return value <= threshold;
    }
    return false;
  }
};

struct Trigger {
  uint32_t id = 0;  // given by the trigger set; stable while the trigger lives
  std::string name;
  FiveTuple filter_value;     // already masked by filter_lengths
  FieldLengths filter_lengths;  // all zero: every flow
  FieldLengths group_lengths;
  uint64_t interval_ns = 0;
  Predicate predicate;

  bool Matches(const FiveTuple& t) const { return Mask(t, filter_lengths) == filter_value; }
};

// The trigger in the text form ParseTrigger reads.
std::string FormatTrigger(const Trigger& t);
std::string FormatGroup(const FiveTuple& group, const FieldLengths& lengths);

}  // namespace softfino::trumpet
