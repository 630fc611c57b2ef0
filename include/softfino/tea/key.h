// TEA's keys and values as they sit in a bucket of the table in server
// memory (layout.h), and the hash that picks a key's bucket. The switch
// computes the same hash with a Tofino Hash unit, so the formula is part of
// the memory contract:
//
//   h(key) = CRC-32(the 16 key bytes) & (bucket_count - 1)
//
// CRC-32 is CRC-32/ISO-HDLC (TNA's HashAlgorithm_t.CRC32, zlib's crc32:
// reflected, polynomial 0x04c11db7, init and xor-out 0xffffffff), over the
// key's 16 bytes in memory order.
//
// A key is 16 opaque bytes. Flow keys use the fixed 5-tuple form below
// (IPv4 only: an IPv6 5-tuple needs 37 bytes, a wider bucket and another
// table format version). A value is 8 bytes, stored in network order so a
// P4 parser extracts it as one bit<64> field; the program decides what the
// bits mean (NAT: translated IPv4, port, flags; firewall: connection state).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "softfino/net/crc32_fold.h"

namespace softfino::tea {

inline constexpr uint32_t kKeyBytes = 16;
inline constexpr uint32_t kValueBytes = 8;

using Key = std::array<uint8_t, kKeyBytes>;

// A 5-tuple in the key form, every field in network order:
//   bytes 0..3   source IPv4        bytes 8..9   source port
//   bytes 4..7   destination IPv4   bytes 10..11 destination port
//   byte  12     IP protocol        bytes 13..15 zero
// Addresses and ports are given in host order.
struct FiveTuple {
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t protocol = 0;
};
Key KeyOfFiveTuple(const FiveTuple& t);

// "0x" and 32 hex digits, as JSON requests and answers carry a key.
std::string KeyToHex(const Key& key);
// 32 hex digits with an optional "0x"; the error says what to write.
absl::StatusOr<Key> KeyFromHex(absl::string_view text);

// Several memory servers hosting one table (pipelines/tea_common/
// tea_servers.h): a key's primary server is
//   primary = (((CRC-32(key) * 0x9E3779B1) mod 2^32) * servers) >> 32
// (the CRC scrambled by Fibonacci hashing, so that the server does not
// depend on the same bits as the bucket), its replica (primary + 1) mod
// servers; the control plane inserts it in both.
constexpr uint32_t PrimaryServer(uint32_t hash, uint32_t servers) {
  return static_cast<uint32_t>((uint64_t{hash * 0x9E3779B1u} * servers) >> 32);
}
constexpr uint32_t ReplicaServer(uint32_t primary, uint32_t servers) {
  return (primary + 1) % servers;
}

// The bucket hash: CRC-32/ISO-HDLC of the key bytes, unmasked: Ethernet's
// CRC-32, by PCLMULQDQ (net::Crc32Of16Bytes; rte_net_crc where the CPU
// lacks it). A table CRC of ours was 3% slower per packet in
// tea_nat_bench than rte_net_crc, and rte_net_crc 3% slower than the fold.
class KeyHash {
 public:
  static absl::StatusOr<KeyHash> Create() { return KeyHash(); }
  uint32_t operator()(const Key& key) const {
    static_assert(sizeof(Key) == 16);
    return net::Crc32Of16Bytes(key.data());
  }
  // The hashes of n keys at once, out[i] for the key whose bytes (a Key's
  // data()) are at key_bytes[i]: a burst's keys hashed in one loop overlap
  // (net::Crc32Of16ByteBlocks). Byte pointers, so that the caller's array
  // goes straight to the fold (a copy of Key pointers into byte pointers
  // was 5 instructions a packet).
  static void Many(const uint8_t* const* key_bytes, uint32_t n, uint32_t* out) {
    static_assert(sizeof(Key) == 16);
    net::Crc32Of16ByteBlocks(key_bytes, n, out);
  }
};

}  // namespace softfino::tea
