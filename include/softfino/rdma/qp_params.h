// What the two ends of an RC queue pair must know about each other, and
// its JSON form for the handshake (handshake.h).
//
// The switch (requester) says who it is and which region it wants:
//   {"version": 1, "qpn": 17, "psn": 4660, "mac": "02:00:00:00:00:01",
//    "ip": "10.0.0.1", "region": "dta.keywrite"}            (optional "mtu")
// The collector (responder) answers with its side and the region's keys:
//   {"version": 1, "qpn": 9001, "psn": 4660, "mac": "02:00:00:00:00:02",
//    "ip": "10.0.0.2", "mtu": 1024, "region": "dta.keywrite",
//    "rkey": 2766411201, "iova": 140213349261312, "length": 1048576}
// "gid": "fe80::..." may stand instead of "ip" for a non-IPv4 GID.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/net/address.h"

namespace softfino::rdma {

inline constexpr int kHandshakeVersion = 1;
inline constexpr uint32_t kMaxQpn = 0xffffff;  // QPNs and PSNs are 24 bits
inline constexpr uint32_t kMaxPsn = 0xffffff;

// A RoCE GID: an IPv6 address, or an IPv4 address mapped into one
// (::ffff:a.b.c.d, how RoCEv2 names IPv4 endpoints).
using Gid = std::array<uint8_t, 16>;
Gid GidFromIpv4(uint32_t ipv4);  // host byte order
bool IsIpv4MappedGid(const Gid& gid);
uint32_t Ipv4OfGid(const Gid& gid);     // host byte order; only for IPv4-mapped GIDs
std::string FormatGid(const Gid& gid);  // "10.0.0.2" when IPv4-mapped, else IPv6 text

// Path MTUs RoCE allows: 256, 512, 1024, 2048, 4096 bytes.
bool IsPathMtu(uint32_t bytes);

struct QpParams {
  uint32_t qpn = 0;  // this side's QP number
  // In a requester's hello: the PSN of its first request. In the
  // responder's reply: the PSN it expects first (normally the hello's,
  // confirmed; a requester must start there).
  uint32_t psn = 0;
  std::string region;  // which memory region ("dta.keywrite")
  // The region, filled in by the responder only.
  uint32_t rkey = 0;
  uint64_t iova = 0;  // remote base address, for RETH/AtomicETH
  uint64_t length = 0;
  Gid gid{};  // this side's RoCEv2 address
  net::MacAddress mac{};
  // Path MTU in bytes. A hello may leave it 0 (take the collector's); the
  // reply always carries the one to use.
  uint32_t mtu = 0;

  friend bool operator==(const QpParams&, const QpParams&) = default;
};

// Which message a QpParams is: the requester's hello or the responder's reply.
enum class QpRole { kRequester, kResponder };

// Every field within range for the role, or an error naming the first bad
// field and its value ("qpn 0x1234567 does not fit in 24 bits").
absl::Status ValidateQpParams(const QpParams& params, QpRole role);
// One JSON object; the responder's fields only for kResponder.
nlohmann::json QpParamsToJson(const QpParams& params, QpRole role);
// Parses and validates. Unknown fields are refused (a typo must not pass
// as a missing optional field).
absl::StatusOr<QpParams> QpParamsFromJson(const nlohmann::json& json, QpRole role);

// A fresh random starting PSN (IBA: chosen per connection so that a stale
// packet of an earlier connection is unlikely to fit the window).
uint32_t RandomPsn();

// The collector's queue-pair numbers: unique among live QPs, never 0 or 1
// (IB's management QPs), and not handed out again soon after release (a
// late packet for an old QP must not land on a new one): numbers advance
// from a random start and wrap at 2^24.
class QpnAllocator {
 public:
  // `first`: the first QPN to give (2..0xffffff; tests); by default a random one.
  explicit QpnAllocator(size_t max_qps = 4096, std::optional<uint32_t> first = std::nullopt);
  absl::StatusOr<uint32_t> Allocate();
  void Release(uint32_t qpn);
  bool InUse(uint32_t qpn) const { return used_.contains(qpn); }
  size_t size() const { return used_.size(); }

 private:
  const size_t max_qps_;
  uint32_t next_;
  absl::flat_hash_set<uint32_t> used_;
};

}  // namespace softfino::rdma
