#include "softfino/pipe/stateful_control.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::pipe {
namespace {

template <typename Map>
std::vector<std::string> Keys(const Map& map) {
  std::vector<std::string> names;
  names.reserve(map.size());
  for (const auto& [name, value] : map) names.push_back(name);
  return names;
}

template <typename Map>
absl::Status NotFound(absl::string_view what, absl::string_view name, const Map& map) {
  if (map.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no ", what, " '", name, "': this program has no ", what, "s"));
  }
  return absl::NotFoundError(absl::StrCat("no ", what, " '", name, "' in this program; it has ",
                                          absl::StrJoin(Keys(map), ", ")));
}

}  // namespace

absl::Status StatefulControl::AddRegisterAccess(std::unique_ptr<RegisterAccess> reg) {
  const std::string name = reg->name();
  if (!registers_.emplace(name, std::move(reg)).second) {
    return absl::AlreadyExistsError(absl::StrCat("register '", name, "' is exposed twice"));
  }
  return absl::OkStatus();
}

absl::Status StatefulControl::AddCounter(CounterArray& counter) {
  if (!counters_.emplace(counter.name(), &counter).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("counter '", counter.name(), "' is exposed twice"));
  }
  return absl::OkStatus();
}

std::vector<std::string> StatefulControl::RegisterNames() const { return Keys(registers_); }
std::vector<std::string> StatefulControl::CounterNames() const { return Keys(counters_); }

absl::StatusOr<RegisterAccess*> StatefulControl::FindRegister(absl::string_view name) const {
  const auto it = registers_.find(name);
  if (it == registers_.end()) return NotFound("register", name, registers_);
  return it->second.get();
}

absl::StatusOr<CounterArray*> StatefulControl::FindCounter(absl::string_view name) const {
  const auto it = counters_.find(name);
  if (it == counters_.end()) return NotFound("counter", name, counters_);
  return it->second;
}

}  // namespace softfino::pipe
