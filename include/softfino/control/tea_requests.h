// The collector's TEA control requests, on its handshake port as
// {"tea": REQUEST} lines (softfino-collector tea ... sends them). The
// switch's slow path asks for a table's layout after its queue-pair
// handshake, and inserts and deletes entries; anyone may look up.
//   {"op": "layout"}
//     -> {"table", "rkey", "iova", "length", "bucket_count", "slots",
//         "bucket_bytes", "window_bytes", "table_offset", "shadow_offset",
//         "shadow_row_bytes", "shadow_packet_bytes", "shadow_lanes",
//         "key_bytes", "value_bytes", "hash": "crc_32"}   (tea/layout.h)
//   {"op": "insert", "key": K, "value": V, "replace": false}
//     -> {"h", "bucket", "slot", "offset"}   (offset of the entry in the region)
//   {"op": "delete", "key": K}  -> {"deleted": true}
//   {"op": "lookup", "key": K}  -> {"found", "h", "window_offset"[, "value",
//                                   "value_hex", "bucket", "slot"]}
//   {"op": "stats"}             -> the table's counters
// A line may carry a batch, {"tea": [REQUEST, ...]} (at most kMaxTeaBatch,
// kMaxTeaBatchBytes in all), answered by an array in the same order, a
// refused request as {"error": ...}: bulk loads take one connection per
// batch rather than per entry.
// Every request may name its table ("table": "tea.nat"); it must when the
// collector hosts several. K: 32 hex digits (the 16 key bytes, "0x"
// optional) or a 5-tuple {"src": "10.0.0.1", "dst": "10.0.0.2", "sport":
// 1234, "dport": 80, "proto": 6}. V: an integer below 2^64 or a hex string
// ("0x0a0000010050" for NAT-style ip|port|flags bytes; JSON readers lose
// integers above 2^53).
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "softfino/rdma/memory_region.h"
#include "softfino/tea/table.h"

namespace softfino::control {

inline constexpr size_t kMaxTeaBatch = 256;
inline constexpr size_t kMaxTeaBatchBytes = 64 * 1024;

struct TeaHostedTable {
  tea::Table table;
  rdma::MemoryRegion region;  // where it lives: the switch's rkey and iova
};

absl::StatusOr<nlohmann::json> AnswerTeaRequest(std::span<TeaHostedTable> tables,
                                                const nlohmann::json& request);

nlohmann::json TeaCounters(const tea::TableCounters& counters);

}  // namespace softfino::control
