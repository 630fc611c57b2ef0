#include "softfino/gen/dta_workload.h"

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

namespace softfino::gen {

namespace {

enum Kind { kKeyWrite, kKeyIncrement, kAppend, kPostcarding };

}  // namespace

absl::StatusOr<DtaWorkload> MakeDtaWorkload(const DtaWorkloadConfig& c) {
  std::vector<Kind> kinds;
  if (c.primitive == "keywrite") kinds = {kKeyWrite};
  else if (c.primitive == "keyincrement") kinds = {kKeyIncrement};
  else if (c.primitive == "append") kinds = {kAppend};
  else if (c.primitive == "postcarding") kinds = {kPostcarding};
  else if (c.primitive == "mix") kinds = {kKeyWrite, kKeyIncrement, kAppend, kPostcarding};
  else {
    return absl::InvalidArgumentError(absl::StrCat(
        "primitive \"", c.primitive, "\": use keywrite, keyincrement, append, postcarding or mix"));
  }
  if (absl::Status s = net::ValidateDtaRedundancy(c.redundancy); !s.ok()) return s;
  if (absl::Status s = net::ValidateDtaPathLength(c.path_length); !s.ok()) return s;
  if (c.keys == 0 || c.lists == 0 || c.reporters == 0 || c.reporters > 65535 ||
      c.hop_values == 0 || !(c.rate_pps > 0)) {
    return absl::InvalidArgumentError(
        "keys, lists, hop values and rate must be positive, reporters 1..65535");
  }
  std::mt19937_64 rng(c.seed);
  // Distinct random 32-bit keys (0 excluded: nothing special, but readable).
  std::vector<uint32_t> keys;
  {
    std::map<uint32_t, bool> seen;
    while (keys.size() < c.keys) {
      const auto k = static_cast<uint32_t>(rng());
      if (k != 0 && !seen[k]) {
        seen[k] = true;
        keys.push_back(k);
      }
    }
  }
  DtaWorkload w;
  std::map<uint32_t, uint32_t> kw_last;
  std::map<uint32_t, uint64_t> ki_sum;
  std::map<uint32_t, std::vector<uint32_t>> ap_entries;
  std::map<uint32_t, std::vector<uint32_t>> pc_paths;
  std::vector<uint8_t> seq(c.reporters, 0);
  std::array<uint8_t, 256> buf;
  const double gap_ns = 1e9 / c.rate_pps;
  auto emit = [&](net::DtaReport r, uint32_t reporter) {
    net::DtaAddresses a;
    a.src_mac = {0x02, 0x44, 0x54, 0x41, static_cast<uint8_t>(reporter >> 8),
                 static_cast<uint8_t>(reporter)};
    a.dst_mac = {0x02, 0x44, 0x54, 0x41, 0xff, 0xff};
    a.src_ip = 0x0a000001 + reporter;  // 10.0.0.1 + reporter
    a.dst_ip = 0x0a00ffff;              // the translator, 10.0.255.255
    a.src_port = static_cast<uint16_t>(net::kDtaReportPort + 1 + reporter % 1000);
    r.seqnum = seq[reporter]++;
    const size_t n = net::BuildDtaReport(buf, a, c.form, r);
    w.frames.emplace_back(buf.begin(), buf.begin() + n);
    w.timestamps_ns.push_back(static_cast<uint64_t>(gap_ns * (w.frames.size() - 1)));
  };
  std::uniform_int_distribution<uint32_t> pick_key(0, c.keys - 1);
  while (w.frames.size() < c.reports) {
    const Kind kind = kinds[rng() % kinds.size()];
    const auto reporter = static_cast<uint32_t>(rng() % c.reporters);
    const uint32_t key = keys[pick_key(rng)];
    switch (kind) {
      case kKeyWrite: {
        const auto data = static_cast<uint32_t>(rng() | 1);  // never 0: see key_write.h
        kw_last[key] = data;
        emit(net::DtaKeyWrite(c.redundancy, key, data), reporter);
        break;
      }
      case kKeyIncrement: {
        const uint64_t add = 1 + rng() % 1500;  // e.g. bytes of a packet
        ki_sum[key] += add;
        emit(net::DtaKeyIncrement(c.redundancy, key, add), reporter);
        break;
      }
      case kAppend: {
        const auto list = static_cast<uint32_t>(rng() % c.lists);
        const auto data = static_cast<uint32_t>(rng());
        ap_entries[list].push_back(data);
        emit(net::DtaAppend(list, data), reporter);
        break;
      }
      case kPostcarding: {
        // A whole path, its postcards back to back in a random hop order.
        std::vector<uint32_t> path(c.path_length);
        for (auto& v : path) v = 1 + static_cast<uint32_t>(rng() % c.hop_values);
        pc_paths[key] = path;
        std::vector<uint8_t> hops(c.path_length);
        std::iota(hops.begin(), hops.end(), 1);
        std::shuffle(hops.begin(), hops.end(), rng);
        for (uint8_t h : hops) emit(net::DtaPostcard(key, h, path[h - 1]), reporter);
        break;
      }
    }
  }
  auto keyed = [](const auto& m) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : m) j[std::to_string(k)] = v;
    return j;
  };
  if (std::count(kinds.begin(), kinds.end(), kKeyWrite)) {
    w.truth["keywrite"] = {{"redundancy", c.redundancy}, {"data", keyed(kw_last)}};
  }
  if (std::count(kinds.begin(), kinds.end(), kKeyIncrement)) {
    w.truth["keyincrement"] = {{"redundancy", c.redundancy}, {"sum", keyed(ki_sum)}};
  }
  if (std::count(kinds.begin(), kinds.end(), kAppend)) {
    w.truth["append"] = {{"entries", keyed(ap_entries)}};
  }
  if (std::count(kinds.begin(), kinds.end(), kPostcarding)) {
    w.truth["postcarding"] = {{"path_length", c.path_length}, {"paths", keyed(pc_paths)}};
  }
  return w;
}

}  // namespace softfino::gen
