// A distribution of durations (microseconds) given on the command line, as
// softfino-gen bursts takes burst durations and gaps:
//   const:V              always V
//   exp:MEAN             exponential with this mean
//   lognormal:MEDIAN,SIGMA  log-normal: ln(x) is normal with mean ln(MEDIAN)
//                        and standard deviation SIGMA (mean MEDIAN*e^(SIGMA^2/2))
//   uniform:LO,HI        uniform on [LO, HI)
//   file:PATH            the values of a CSV file (first column, one per line,
//                        '#' comments), drawn uniformly with replacement: an
//                        empirical distribution, e.g. measured from a trace
// Parsing is control path (absl::Status says what to fix); sampling draws
// from the caller's generator so one seed makes one workload.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace softfino::gen {

class Distribution {
 public:
  enum class Kind { kConst, kExp, kLognormal, kUniform, kEmpirical };

  static absl::StatusOr<Distribution> Parse(absl::string_view spec);

  double Sample(std::mt19937_64& rng) const;
  double Mean() const;
  Kind kind() const { return kind_; }
  // The spec it was parsed from, for reports.
  const std::string& spec() const { return spec_; }

 private:
  Kind kind_ = Kind::kConst;
  double a_ = 0, b_ = 0;        // const: V; exp: mean; lognormal: median, sigma; uniform: lo, hi
  std::vector<double> values_;  // empirical
  std::string spec_;
};

}  // namespace softfino::gen
