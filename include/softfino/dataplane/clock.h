// Where packet times come from. Real: the TSC when a burst is received.
// Virtual: the timestamp the port stamped on each packet (net_pcap: the pcap
// record's time, in microseconds), spaced out by the ingress port's own line
// rate so back-to-back packets arrive one wire time apart, as they would on
// a wire. Virtual time makes queueing exact and repeatable in tests.
#pragma once

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "softfino/tm/time.h"

namespace softfino::dataplane {

enum class ClockMode { kReal, kVirtual };

class RealClock {
 public:
  RealClock() : ps_per_tsc_(1e12 / static_cast<double>(rte_get_tsc_hz())) {}
  tm::Picoseconds Now() const {
    return static_cast<tm::Picoseconds>(static_cast<double>(rte_rdtsc()) * ps_per_tsc_);
  }

 private:
  double ps_per_tsc_;
};

// The rx timestamp field that drivers fill (RTE_MBUF_DYNFIELD_TIMESTAMP_NAME).
class RxTimestamp {
 public:
  // Fails when no started port registered the field: virtual time then has
  // nothing to go by.
  static absl::StatusOr<RxTimestamp> Find();
  // The packet's time as the driver stamped it; net_pcap counts microseconds.
  tm::Picoseconds Of(const rte_mbuf* m) const {
    return *RTE_MBUF_DYNFIELD(m, offset_, const uint64_t*) * tm::kPsPerUs;
  }
  // Sets the field, rounding up to the driver's microseconds (a packet is
  // never received before it was sent), for packets crossing an internal link.
  void Stamp(rte_mbuf* m, tm::Picoseconds ps) const {
    *RTE_MBUF_DYNFIELD(m, offset_, uint64_t*) = (ps + tm::kPsPerUs - 1) / tm::kPsPerUs;
  }
  static bool Available();

 private:
  explicit RxTimestamp(int offset) : offset_(offset) {}
  int offset_;
};

}  // namespace softfino::dataplane
