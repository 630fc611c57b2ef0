// Time in the traffic manager: picoseconds, so that the wire time of a byte
// is an exact integer at every Ethernet speed (800 ps at 10G, 320 at 25G,
// 200 at 40G, 80 at 100G) and queueing in virtual time is exact.
#pragma once

#include <cstdint>

namespace softfino::tm {

using Picoseconds = uint64_t;
inline constexpr Picoseconds kPsPerNs = 1000;
inline constexpr Picoseconds kPsPerUs = 1000 * kPsPerNs;
inline constexpr Picoseconds kNever = ~Picoseconds{0};

// Bytes a frame occupies on the wire beyond its pkt_len (which has no FCS):
// FCS 4 + preamble and start delimiter 8 + inter-frame gap 12.
inline constexpr uint32_t kWireOverheadBytes = 24;

// Buffer cells, as a Tofino TM counts queue depth.
inline constexpr uint32_t kCellBytes = 80;
constexpr uint32_t Cells(uint32_t bytes) { return (bytes + kCellBytes - 1) / kCellBytes; }

}  // namespace softfino::tm
