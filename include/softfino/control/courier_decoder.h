// Decodes BurstRadar couriers from a pcap of the monitor port into JSON
// lines, one per courier (softfino-ctl couriers pcap=FILE). Offline: it
// reads a capture, not the switch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "softfino/net/courier.h"

namespace softfino::control {

struct CourierDecodeStats {
  uint64_t frames = 0;     // every frame of the pcap
  uint64_t couriers = 0;   // decoded
  uint64_t other = 0;      // not couriers (other traffic on the monitor port)
  uint64_t truncated = 0;  // to the courier port but too short (a snap length too small?)
  uint64_t seq_gaps = 0;   // entries missing between consecutive couriers (overwritten)
};

// The courier's JSON line: the ring entry's fields (addresses as dotted
// quads), deq_timedelta (deq_tstamp - enq_tstamp, modulo 2^32) and the
// capture time `ts_ns`.
nlohmann::json CourierToJson(const net::CourierEntry& e, uint64_t ts_ns);

// Calls `emit` with each courier of the pcap at `path`, in capture order.
absl::Status DecodeCourierPcap(const std::string& path,
                               const std::function<void(const nlohmann::json&)>& emit,
                               CourierDecodeStats& stats);

}  // namespace softfino::control
