// Values by a 16-bit id, in an array indexed by the id: what the traffic
// manager looks up per packet (multicast groups, mirror sessions). A lookup
// is a bounds check and a load; the swiss table it replaced cost the DTA
// reporter 30 more instructions a packet (callgrind). The array reaches only
// as far as the highest id in use (at most 65,536 slots); copied whole on
// each control-path change, which is rare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace softfino::tm {

template <typename V>
class IdTable {
 public:
  // nullptr when `id` has no value.
  const V* Find(uint16_t id) const {
    return id < slots_.size() && slots_[id].has_value() ? &*slots_[id] : nullptr;
  }
  bool contains(uint16_t id) const { return Find(id) != nullptr; }
  // Throws std::out_of_range or std::bad_optional_access when `id` has no
  // value, as std::map::at does: for the control path and tests.
  const V& at(uint16_t id) const { return slots_.at(id).value(); }
  size_t size() const { return size_; }

  // Creates or replaces the value of `id`.
  void Set(uint16_t id, V value) {
    if (id >= slots_.size()) slots_.resize(size_t{id} + 1);
    if (!slots_[id].has_value()) ++size_;
    slots_[id] = std::move(value);
  }
  void erase(uint16_t id) {
    if (id >= slots_.size() || !slots_[id].has_value()) return;
    slots_[id].reset();
    --size_;
    while (!slots_.empty() && !slots_.back().has_value()) slots_.pop_back();
  }

  // The ids with a value, in ascending order.
  std::vector<uint16_t> Ids() const {
    std::vector<uint16_t> ids;
    for (size_t id = 0; id < slots_.size(); ++id) {
      if (slots_[id].has_value()) ids.push_back(static_cast<uint16_t>(id));
    }
    return ids;
  }

 private:
  std::vector<std::optional<V>> slots_;
  size_t size_ = 0;  // ids with a value
};

}  // namespace softfino::tm
