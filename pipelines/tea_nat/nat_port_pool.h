// The public addresses and ports a NAT hands out to flows it learns (the
// slow path's side of tea_nat's learning): every address of the pool with
// every port of the range, one flow each, in order. A flow asked about
// again (its insert retried) gets the same endpoint. Endpoints are never
// taken back: there is no FIN/idle tracking yet.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "softfino/tea/key.h"

namespace softfino::pipelines {

class NatPortPool {
 public:
  struct Endpoint {
    uint32_t address;  // IPv4, host order
    uint16_t port;
  };

  NatPortPool() = default;
  NatPortPool(std::vector<uint32_t> addresses, uint16_t first_port, uint16_t last_port)
      : addresses_(std::move(addresses)), first_port_(first_port), last_port_(last_port) {}

  uint64_t size() const {
    return uint64_t{addresses_.size()} * (uint64_t{last_port_} - first_port_ + 1);
  }
  uint64_t allocated() const { return given_.size(); }

  // The flow's endpoint: the one it got before, else the next free one;
  // none when the pool is used up.
  std::optional<Endpoint> For(const tea::Key& flow) {
    if (const auto it = given_.find(flow); it != given_.end()) return it->second;
    if (next_ >= size()) return std::nullopt;
    const uint64_t ports = uint64_t{last_port_} - first_port_ + 1;
    const Endpoint e{addresses_[next_ / ports], static_cast<uint16_t>(first_port_ + next_ % ports)};
    ++next_;
    given_.emplace(flow, e);
    return e;
  }

 private:
  std::vector<uint32_t> addresses_;
  uint16_t first_port_ = 0, last_port_ = 0;
  uint64_t next_ = 0;
  absl::flat_hash_map<tea::Key, Endpoint> given_;
};

}  // namespace softfino::pipelines
