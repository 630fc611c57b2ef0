#include "softfino/gen/distribution.h"

#include <cmath>
#include <fstream>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace softfino::gen {

namespace {

constexpr char kForms[] =
    "const:V, exp:MEAN, lognormal:MEDIAN,SIGMA, uniform:LO,HI or file:PATH (microseconds)";

// The numbers after "kind:", exactly `count` of them, each finite and >= 0.
absl::StatusOr<std::vector<double>> Numbers(absl::string_view spec, absl::string_view args,
                                            size_t count) {
  std::vector<double> out;
  for (absl::string_view word : absl::StrSplit(args, ',')) {
    double v;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(word), &v) || !std::isfinite(v) || v < 0) {
      return absl::InvalidArgumentError(absl::StrCat("distribution '", spec, "': '", word,
                                                     "' is not a number >= 0; give ", kForms));
    }
    out.push_back(v);
  }
  if (out.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat("distribution '", spec, "' needs ", count,
                                                   " number(s) after the colon; give ", kForms));
  }
  return out;
}

}  // namespace

absl::StatusOr<Distribution> Distribution::Parse(absl::string_view spec) {
  const size_t colon = spec.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("distribution '", spec, "' has no kind; give ", kForms));
  }
  const absl::string_view kind = spec.substr(0, colon), args = spec.substr(colon + 1);
  Distribution d;
  d.spec_ = std::string(spec);
  if (kind == "file") {
    std::ifstream in{std::string(args)};
    if (!in) {
      return absl::NotFoundError(absl::StrCat("distribution '", spec, "': cannot read ", args));
    }
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      absl::string_view text = absl::StripAsciiWhitespace(line);
      if (text.empty() || text[0] == '#') continue;
      const absl::string_view first = absl::StripAsciiWhitespace(text.substr(0, text.find(',')));
      double v;
      if (!absl::SimpleAtod(first, &v) || !std::isfinite(v) || v < 0) {
        // A header line ("duration_us,...") is fine before the first value.
        if (d.values_.empty() && !first.empty() && std::isalpha(first[0])) continue;
        return absl::InvalidArgumentError(absl::StrCat(
            args, ":", n, ": '", first, "' is not a duration in microseconds (a number >= 0)"));
      }
      d.values_.push_back(v);
    }
    if (d.values_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(args, " holds no values (one duration in microseconds per line)"));
    }
    d.kind_ = Kind::kEmpirical;
    return d;
  }
  struct Form {
    const char* name;
    Kind kind;
    size_t count;
  };
  static constexpr Form kKinds[] = {{"const", Kind::kConst, 1},
                                    {"exp", Kind::kExp, 1},
                                    {"lognormal", Kind::kLognormal, 2},
                                    {"uniform", Kind::kUniform, 2}};
  for (const Form& f : kKinds) {
    if (kind != f.name) continue;
    auto n = Numbers(spec, args, f.count);
    if (!n.ok()) return n.status();
    d.kind_ = f.kind;
    d.a_ = (*n)[0];
    d.b_ = f.count > 1 ? (*n)[1] : 0;
    if ((f.kind == Kind::kExp || f.kind == Kind::kLognormal) && d.a_ <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("distribution '", spec, "': the mean or median must be above 0"));
    }
    if (f.kind == Kind::kUniform && d.b_ <= d.a_) {
      return absl::InvalidArgumentError(
          absl::StrCat("distribution '", spec, "': uniform:LO,HI needs LO < HI"));
    }
    return d;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("distribution '", spec, "': unknown kind '", kind, "'; give ", kForms));
}

double Distribution::Sample(std::mt19937_64& rng) const {
  switch (kind_) {
    case Kind::kConst:
      return a_;
    case Kind::kExp:
      return std::exponential_distribution<double>(1 / a_)(rng);
    case Kind::kLognormal:
      return std::lognormal_distribution<double>(std::log(a_), b_)(rng);
    case Kind::kUniform:
      return std::uniform_real_distribution<double>(a_, b_)(rng);
    case Kind::kEmpirical:
      return values_[std::uniform_int_distribution<size_t>(0, values_.size() - 1)(rng)];
  }
  return 0;
}

double Distribution::Mean() const {
  switch (kind_) {
    case Kind::kConst:
    case Kind::kExp:
      return a_;
    case Kind::kLognormal:
      return a_ * std::exp(b_ * b_ / 2);
    case Kind::kUniform:
      return (a_ + b_) / 2;
    case Kind::kEmpirical:
      return std::accumulate(values_.begin(), values_.end(), 0.0) /
             static_cast<double>(values_.size());
  }
  return 0;
}

}  // namespace softfino::gen
