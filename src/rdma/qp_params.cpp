#include "softfino/rdma/qp_params.h"

#include <arpa/inet.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "softfino/rdma/memory_region.h"

namespace softfino::rdma {
namespace {

using nlohmann::json;

// Fields each message may carry; the first of each list must be present.
constexpr const char* kRequesterFields[] = {"version", "qpn", "psn", "mac",
                                            "region",  "ip",  "gid", "mtu"};
constexpr const char* kResponderFields[] = {"version", "qpn", "psn",  "mac",  "region", "ip",
                                            "gid",     "mtu", "rkey", "iova", "length"};

absl::Status Bad(absl::string_view message) { return absl::InvalidArgumentError(message); }

std::string Hex(uint64_t v) { return absl::StrCat("0x", absl::Hex(v)); }

// An unsigned integer field of at most `bits` bits.
absl::StatusOr<uint64_t> GetUint(const json& j, const char* key, int bits) {
  const auto it = j.find(key);
  if (it == j.end()) return Bad(absl::StrCat("missing field '", key, "'"));
  // A JSON object built in C++ may hold a signed integer; parsed text holds
  // non-negative ones as unsigned. Both are fine when not negative.
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return Bad(absl::StrCat("field '", key, "' must be a non-negative integer, got ",
                            it->dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  const uint64_t v = it->get<uint64_t>();
  if (bits < 64 && v >> bits != 0) {
    return Bad(absl::StrCat(key, " ", Hex(v), " does not fit in ", bits, " bits"));
  }
  return v;
}

absl::StatusOr<std::string> GetString(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return Bad(absl::StrCat("missing field '", key, "'"));
  if (!it->is_string()) {
    return Bad(absl::StrCat("field '", key, "' must be a string, got ",
                            it->dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  return it->get<std::string>();
}

}  // namespace

Gid GidFromIpv4(uint32_t ipv4) {
  Gid gid{};
  gid[10] = gid[11] = 0xff;
  gid[12] = static_cast<uint8_t>(ipv4 >> 24);
  gid[13] = static_cast<uint8_t>(ipv4 >> 16);
  gid[14] = static_cast<uint8_t>(ipv4 >> 8);
  gid[15] = static_cast<uint8_t>(ipv4);
  return gid;
}

bool IsIpv4MappedGid(const Gid& gid) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(gid.data(), kPrefix, sizeof(kPrefix)) == 0;
}

uint32_t Ipv4OfGid(const Gid& gid) {
  return (uint32_t{gid[12]} << 24) | (uint32_t{gid[13]} << 16) | (uint32_t{gid[14]} << 8) | gid[15];
}

std::string FormatGid(const Gid& gid) {
  char text[INET6_ADDRSTRLEN] = {};
  if (IsIpv4MappedGid(gid)) {
    inet_ntop(AF_INET, gid.data() + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, gid.data(), text, sizeof(text));
  }
  return text;
}

bool IsPathMtu(uint32_t bytes) {
  return bytes == 256 || bytes == 512 || bytes == 1024 || bytes == 2048 || bytes == 4096;
}

absl::Status ValidateQpParams(const QpParams& p, QpRole role) {
  if (p.qpn > kMaxQpn) return Bad(absl::StrCat("qpn ", Hex(p.qpn), " does not fit in 24 bits"));
  if (p.qpn < 2) {
    return Bad(absl::StrCat("qpn ", p.qpn,
                            " is reserved (QP0 and QP1 are InfiniBand's management QPs); use 2 "
                            "to 0xffffff"));
  }
  if (p.psn > kMaxPsn) return Bad(absl::StrCat("psn ", Hex(p.psn), " does not fit in 24 bits"));
  if (!IsValidRegionName(p.region)) {
    return Bad(absl::StrCat("region '", p.region, "' is not a region name: 1 to ",
                            kMaxRegionNameBytes,
                            " letters, digits, '.', '_' or '-', e.g. dta.keywrite"));
  }
  if (p.gid == Gid{} || (IsIpv4MappedGid(p.gid) && Ipv4OfGid(p.gid) == 0)) {
    return Bad(absl::StrCat("address ", FormatGid(p.gid),
                            " is not an endpoint; give the endpoint's own IPv4 ('ip')"));
  }
  const bool mtu_optional = role == QpRole::kRequester && p.mtu == 0;
  if (!mtu_optional && !IsPathMtu(p.mtu)) {
    return Bad(absl::StrCat("mtu ", p.mtu, " is not a path MTU; use 256, 512, 1024, 2048 or 4096",
                            role == QpRole::kRequester ? " (or leave it out)" : ""));
  }
  if (role == QpRole::kResponder) {
    if (p.length == 0) return Bad("length 0: the region is empty");
    if (p.iova != 0 && p.length > 0 - p.iova) {
      return Bad(absl::StrCat("iova ", Hex(p.iova), " + length ", p.length, " passes 2^64"));
    }
  }
  return absl::OkStatus();
}

nlohmann::json QpParamsToJson(const QpParams& p, QpRole role) {
  json j = {{"version", static_cast<unsigned>(kHandshakeVersion)},
            {"qpn", p.qpn},
            {"psn", p.psn},
            {"mac", net::FormatMac(p.mac)},
            {"region", p.region}};
  j[IsIpv4MappedGid(p.gid) ? "ip" : "gid"] = FormatGid(p.gid);
  if (p.mtu != 0 || role == QpRole::kResponder) j["mtu"] = p.mtu;
  if (role == QpRole::kResponder) {
    j["rkey"] = p.rkey;
    j["iova"] = p.iova;
    j["length"] = p.length;
  }
  return j;
}

absl::StatusOr<QpParams> QpParamsFromJson(const nlohmann::json& j, QpRole role) {
  const bool responder = role == QpRole::kResponder;
  const char* what = responder ? "the collector's reply" : "a hello";
  if (!j.is_object()) {
    return Bad(absl::StrCat(what, " must be a JSON object, got ",
                            j.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 64)));
  }
  const auto begin = responder ? std::begin(kResponderFields) : std::begin(kRequesterFields);
  const auto end = responder ? std::end(kResponderFields) : std::end(kRequesterFields);
  for (const auto& [key, value] : j.items()) {
    // Init-capture: clang before 16 cannot capture a structured binding.
    if (std::none_of(begin, end, [&name = key](const char* f) { return name == f; })) {
      return Bad(absl::StrCat("unknown field '", key.substr(0, 64), "' in ", what,
                              "; its fields are ", absl::StrJoin(begin, end, ", ")));
    }
  }
  const absl::StatusOr<uint64_t> version = GetUint(j, "version", 32);
  if (!version.ok()) return version.status();
  if (*version != kHandshakeVersion) {
    return Bad(absl::StrCat("handshake version ", *version, " is not supported; this end speaks ",
                            kHandshakeVersion, ": run the same softfino release on both ends"));
  }

  QpParams p;
  absl::Status status;
  const auto uint_field = [&](const char* key, int bits, auto& out) {
    if (!status.ok()) return;
    absl::StatusOr<uint64_t> v = GetUint(j, key, bits);
    if (v.ok()) {
      out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
    } else {
      status = v.status();
    }
  };
  uint_field("qpn", 24, p.qpn);
  uint_field("psn", 24, p.psn);
  if (responder || j.contains("mtu")) uint_field("mtu", 32, p.mtu);
  if (responder) {
    uint_field("rkey", 32, p.rkey);
    uint_field("iova", 64, p.iova);
    uint_field("length", 64, p.length);
  }
  if (!status.ok()) return status;

  absl::StatusOr<std::string> region = GetString(j, "region");
  if (!region.ok()) return region.status();
  p.region = std::move(*region);

  absl::StatusOr<std::string> mac_text = GetString(j, "mac");
  if (!mac_text.ok()) return mac_text.status();
  absl::StatusOr<net::MacAddress> mac = net::ParseMac(*mac_text);
  if (!mac.ok()) return Bad(absl::StrCat("mac: ", mac.status().message()));
  p.mac = *mac;

  const bool has_ip = j.contains("ip"), has_gid = j.contains("gid");
  if (has_ip == has_gid) {
    return Bad(has_ip ? "give either 'ip' or 'gid', not both"
                      : "missing field 'ip' (the endpoint's IPv4 address; or 'gid')");
  }
  const char* key = has_ip ? "ip" : "gid";
  absl::StatusOr<std::string> text = GetString(j, key);
  if (!text.ok()) return text.status();
  if (has_ip) {
    in_addr a{};
    if (inet_pton(AF_INET, text->c_str(), &a) != 1) {
      return Bad(
          absl::StrCat("ip '", text->substr(0, 64), "' is not an IPv4 address like 10.0.0.2"));
    }
    p.gid = GidFromIpv4(ntohl(a.s_addr));
  } else if (inet_pton(AF_INET6, text->c_str(), p.gid.data()) != 1) {
    return Bad(absl::StrCat("gid '", text->substr(0, 64), "' is not an IPv6 address like fe80::1"));
  }
  if (absl::Status s = ValidateQpParams(p, role); !s.ok()) return s;
  return p;
}

uint32_t RandomPsn() {
  uint32_t v = 0;
  if (getrandom(&v, sizeof(v), 0) != static_cast<ssize_t>(sizeof(v))) v = 0x2a2a2a;
  return v & kMaxPsn;
}

QpnAllocator::QpnAllocator(size_t max_qps, std::optional<uint32_t> first)
    : max_qps_(std::min<size_t>(max_qps, kMaxQpn - 1)),
      next_(first && *first >= 2 && *first <= kMaxQpn ? *first : 2 + RandomPsn() % (kMaxQpn - 1)) {}

absl::StatusOr<uint32_t> QpnAllocator::Allocate() {
  if (used_.size() >= max_qps_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", max_qps_,
                     " queue pairs of this collector are in use; "
                     "disconnect a switch or raise the queue-pair limit"));
  }
  // At most max_qps_ numbers are taken, so this ends within max_qps_ + 1 steps.
  for (;;) {
    const uint32_t qpn = next_;
    next_ = next_ == kMaxQpn ? 2 : next_ + 1;
    if (used_.insert(qpn).second) return qpn;
  }
}

void QpnAllocator::Release(uint32_t qpn) { used_.erase(qpn); }

}  // namespace softfino::rdma
