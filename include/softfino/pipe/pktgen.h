// Tofino's packet generator, timer applications: every period each pipe's
// generator makes batches of packets that enter that pipe's ingress on its
// port 68 (Tofino-1: the port that also serves recirculation), each starting
// with TNA's pktgen_timer_header_t. Programs use them for what needs a
// packet without one arriving: timeouts, resends, periodic export.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

#include "softfino/pipe/intrinsic_metadata.h"

namespace softfino::pipe {

// Where timer packets enter: the pipe's port 68, as on Tofino-1.
constexpr PortId PktgenPort(uint16_t pipe) { return RecirculationPort(pipe); }

// TNA's pktgen_timer_header_t for Tofino-1, 6 bytes:
//   _pad1:3 pipe_id:2 app_id:3 | _pad2:8 | batch_id:16 | packet_id:16
struct [[gnu::packed]] PktgenTimerHeader {
  uint8_t pipe_app;
  uint8_t pad;
  rte_be16_t batch_id;
  rte_be16_t packet_id;

  uint8_t pipe_id() const { return (pipe_app >> 3) & 0x3; }
  uint8_t app_id() const { return pipe_app & 0x7; }
};
static_assert(sizeof(PktgenTimerHeader) == 6);

// One timer application, as bfrt's pktgen app table configures it.
struct PktgenApp {
  uint8_t app_id = 0;             // 0..7
  uint64_t period_ns = 1'000'000;  // between firings
  uint16_t batches = 1;            // per firing
  uint16_t packets_per_batch = 1;
  uint16_t packet_len = 64;        // bytes, header included; the rest is zero
};

}  // namespace softfino::pipe
