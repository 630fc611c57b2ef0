// The traffic manager's packet replication: multicast groups (Tofino's PRE)
// and mirror sessions. Set up on the control path before the pipes start;
// read-only on the fast path.
#pragma once

#include <cstdint>
#include <vector>

#include "softfino/pipe/intrinsic_metadata.h"
#include "softfino/tm/id_table.h"

namespace softfino::tm {

struct MulticastMember {
  pipe::PortId port;
  uint16_t rid;  // egress_rid of the copy
};

// A mirror session: where copies go, and how much of each is kept (0: all).
struct MirrorSession {
  pipe::PortId port = 0;
  uint8_t qid = 0;
  uint32_t max_len = 0;
};

struct Replication {
  IdTable<std::vector<MulticastMember>> multicast_groups;  // ids 1..65535
  IdTable<MirrorSession> mirror_sessions;
};

}  // namespace softfino::tm
