// The traffic manager's packet replication: multicast groups (Tofino's PRE)
// and mirror sessions. Set up on the control path before the pipes start;
// read-only on the fast path.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "softfino/pipe/intrinsic_metadata.h"

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
  absl::flat_hash_map<uint16_t, std::vector<MulticastMember>> multicast_groups;
  absl::flat_hash_map<pipe::MirrorSessionId, MirrorSession> mirror_sessions;
};

}  // namespace softfino::tm
