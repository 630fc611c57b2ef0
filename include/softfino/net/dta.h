// DTA (Direct Telemetry Access, SIGCOMM'23) report wire formats: what a
// reporter switch sends to a translator, and the NACK the translator sends
// back. See REFERENCE.md, DTA.
//
// A report: Ethernet (one optional 802.1Q tag) | IPv4 | UDP to port 40040 |
// DTA base header | primitive header, chosen by the base header's opcode.
// A NACK: Ethernet | IPv4 | UDP to port 40044 | NACK header.
// Every multi-byte field is big endian and bit fields are numbered from the
// most significant bit, so the structs below hold raw wire bytes and the
// accessors convert; a struct can be laid over a packet without copying.
//
// The base header exists in two forms in the wild (REFERENCE.md, Decision:
// accept both, chosen by config, default the 3-byte form):
//   2-byte: opcode:8 | immediate:1 reserved:7                  (their reporter P4)
//   3-byte: opcode:8 | seqnum:8 | immediate:1 retransmitable:1 reserved:6
//                                                  (their generator and manager)
// Nothing in a report says which form it uses, so the receiver is told. A
// report of one form read as the other always has the wrong length (the forms
// differ by one byte and every primitive has a fixed size), which is why the
// parser refuses trailing bytes: that is its only way to notice a
// misconfigured form. Reserved bits are ignored on receipt and sent as zero.
//
// Fast path (parsers, builders): no allocation, no exceptions, no
// absl::Status. Control path (form names, config validation): absl::Status
// with a message that says what to fix.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "softfino/net/address.h"
#include "softfino/net/reason_counters.h"

namespace softfino::net {

inline constexpr uint16_t kDtaReportPort = 40040;  // reports, reporter -> translator
inline constexpr uint16_t kDtaNackPort = 40044;    // NACKs, translator -> reporter

// Key-Write and Key-Increment write `redundancy` copies (rows); the paper
// recommends 2 and the collector's structures are laid out for at most 4.
inline constexpr uint8_t kDtaMinRedundancy = 1;
inline constexpr uint8_t kDtaMaxRedundancy = 4;
// Postcarding hops are numbered from 1, as DTA's translator does; each hop
// has its own CRC-32 polynomial and there are five of them, so five hops.
inline constexpr uint8_t kDtaMinHop = 1;
inline constexpr uint8_t kDtaMaxHop = 5;

enum class DtaOpcode : uint8_t {
  kKeyWrite = 0x01,
  kAppend = 0x02,
  kKeyIncrement = 0x03,
  kPostcarding = 0x04,
};

enum class DtaBaseForm : uint8_t {
  kTwoByte = 2,    // opcode, immediate: DTA's reporter P4
  kThreeByte = 3,  // opcode, seqnum, immediate, retransmitable: DTA's generator
};
inline constexpr DtaBaseForm kDefaultDtaBaseForm = DtaBaseForm::kThreeByte;
// The header's size in bytes (the enum's value).
constexpr uint32_t DtaBaseBytes(DtaBaseForm form) { return static_cast<uint32_t>(form); }

// Big-endian loads and stores on byte arrays, at any alignment.
constexpr uint16_t DtaLoad16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
constexpr uint32_t DtaLoad32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
constexpr uint64_t DtaLoad64(const uint8_t* p) {
  return (uint64_t{DtaLoad32(p)} << 32) | DtaLoad32(p + 4);
}
constexpr void DtaStore32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
constexpr void DtaStore64(uint8_t* p, uint64_t v) {
  DtaStore32(p, static_cast<uint32_t>(v >> 32));
  DtaStore32(p + 4, static_cast<uint32_t>(v));
}

// --- base headers ---

inline constexpr uint8_t kDtaImmediateBit = 0x80;       // first bit of the flags byte
inline constexpr uint8_t kDtaRetransmitableBit = 0x40;  // second bit, 3-byte form only

// 2-byte form: opcode:8, immediate:1, reserved:7.
struct [[gnu::packed]] DtaBaseHeader2 {
  uint8_t opcode;
  uint8_t flags;

  bool immediate() const { return flags & kDtaImmediateBit; }
  void set_flags(bool immediate) { flags = immediate ? kDtaImmediateBit : 0; }
};
static_assert(sizeof(DtaBaseHeader2) == 2);

// 3-byte form: opcode:8, seqnum:8, immediate:1, retransmitable:1, reserved:6.
struct [[gnu::packed]] DtaBaseHeader3 {
  uint8_t opcode;
  uint8_t seqnum;
  uint8_t flags;

  bool immediate() const { return flags & kDtaImmediateBit; }
  bool retransmitable() const { return flags & kDtaRetransmitableBit; }
  void set_flags(bool immediate, bool retransmitable) {
    flags = static_cast<uint8_t>((immediate ? kDtaImmediateBit : 0) |
                                 (retransmitable ? kDtaRetransmitableBit : 0));
  }
};
static_assert(sizeof(DtaBaseHeader3) == 3);

// --- primitive headers ---

// 0x01 Key-Write: redundancy:8, key:32, data:32.
struct [[gnu::packed]] DtaKeyWriteHeader {
  uint8_t redundancy;
  uint8_t key[4];
  uint8_t data[4];

  uint32_t key_value() const { return DtaLoad32(key); }
  uint32_t data_value() const { return DtaLoad32(data); }
  void set_key(uint32_t v) { DtaStore32(key, v); }
  void set_data(uint32_t v) { DtaStore32(data, v); }
};
static_assert(sizeof(DtaKeyWriteHeader) == 9);

// 0x02 Append: list_id:32, data:32.
struct [[gnu::packed]] DtaAppendHeader {
  uint8_t list_id[4];
  uint8_t data[4];

  uint32_t list_id_value() const { return DtaLoad32(list_id); }
  uint32_t data_value() const { return DtaLoad32(data); }
  void set_list_id(uint32_t v) { DtaStore32(list_id, v); }
  void set_data(uint32_t v) { DtaStore32(data, v); }
};
static_assert(sizeof(DtaAppendHeader) == 8);

// 0x03 Key-Increment: redundancy:8, key:32, counter:64.
struct [[gnu::packed]] DtaKeyIncrementHeader {
  uint8_t redundancy;
  uint8_t key[4];
  uint8_t counter[8];

  uint32_t key_value() const { return DtaLoad32(key); }
  uint64_t counter_value() const { return DtaLoad64(counter); }
  void set_key(uint32_t v) { DtaStore32(key, v); }
  void set_counter(uint64_t v) { DtaStore64(counter, v); }
};
static_assert(sizeof(DtaKeyIncrementHeader) == 13);

// 0x04 Postcarding: key:32, hop:8, data:32.
struct [[gnu::packed]] DtaPostcardHeader {
  uint8_t key[4];
  uint8_t hop;
  uint8_t data[4];

  uint32_t key_value() const { return DtaLoad32(key); }
  uint32_t data_value() const { return DtaLoad32(data); }
  void set_key(uint32_t v) { DtaStore32(key, v); }
  void set_data(uint32_t v) { DtaStore32(data, v); }
};
static_assert(sizeof(DtaPostcardHeader) == 9);

// NACK (UDP 40044): seqnum:8, nack:1, reserved:7.
inline constexpr uint8_t kDtaNackBit = 0x80;
struct [[gnu::packed]] DtaNackHeader {
  uint8_t seqnum;
  uint8_t flags;

  bool nack() const { return flags & kDtaNackBit; }
  void set_flags(bool nack) { flags = nack ? kDtaNackBit : 0; }
};
static_assert(sizeof(DtaNackHeader) == 2);

// The size of `opcode`'s primitive header; 0 for a byte that is no opcode.
constexpr uint32_t DtaPrimitiveBytes(uint8_t opcode) {
  switch (static_cast<DtaOpcode>(opcode)) {
    case DtaOpcode::kKeyWrite:
      return sizeof(DtaKeyWriteHeader);
    case DtaOpcode::kAppend:
      return sizeof(DtaAppendHeader);
    case DtaOpcode::kKeyIncrement:
      return sizeof(DtaKeyIncrementHeader);
    case DtaOpcode::kPostcarding:
      return sizeof(DtaPostcardHeader);
  }
  return 0;
}
constexpr uint32_t DtaPrimitiveBytes(DtaOpcode opcode) {
  return DtaPrimitiveBytes(static_cast<uint8_t>(opcode));
}
// "key_write", "append", "key_increment", "postcarding"; "unknown" otherwise.
const char* DtaOpcodeName(DtaOpcode opcode);

// --- decoded reports and NACKs ---

// One report's fields in host order. The parser fills it; the builder reads
// the same struct, so what one writes the other reads back. Fields the
// opcode does not carry are 0, as are seqnum and retransmitable in the
// 2-byte form (which has neither).
struct DtaReport {
  DtaOpcode opcode = DtaOpcode::kKeyWrite;
  uint8_t seqnum = 0;
  bool immediate = false;
  bool retransmitable = false;
  uint8_t redundancy = 0;  // Key-Write, Key-Increment
  uint8_t hop = 0;         // Postcarding
  uint32_t key = 0;        // Key-Write, Key-Increment, Postcarding
  uint32_t list_id = 0;    // Append
  uint32_t data = 0;       // Key-Write, Append, Postcarding
  uint64_t counter = 0;    // Key-Increment

  // Set by the parser, ignored by the builder. The sender's address is
  // where a NACK goes; the offsets let a program rewrite the packet in place.
  uint32_t src_ip = 0;  // host order
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t l3_offset = 0;         // IPv4 header
  uint16_t l4_offset = 0;         // UDP header
  uint16_t base_offset = 0;       // DTA base header
  uint16_t primitive_offset = 0;  // primitive header
};

// Reports of each primitive, for reporters, generators and tests. The base
// fields (seqnum, immediate, retransmitable) are set on the result.
constexpr DtaReport DtaKeyWrite(uint8_t redundancy, uint32_t key, uint32_t data) {
  DtaReport r;
  r.opcode = DtaOpcode::kKeyWrite;
  r.redundancy = redundancy;
  r.key = key;
  r.data = data;
  return r;
}
constexpr DtaReport DtaAppend(uint32_t list_id, uint32_t data) {
  DtaReport r;
  r.opcode = DtaOpcode::kAppend;
  r.list_id = list_id;
  r.data = data;
  return r;
}
constexpr DtaReport DtaKeyIncrement(uint8_t redundancy, uint32_t key, uint64_t counter) {
  DtaReport r;
  r.opcode = DtaOpcode::kKeyIncrement;
  r.redundancy = redundancy;
  r.key = key;
  r.counter = counter;
  return r;
}
constexpr DtaReport DtaPostcard(uint32_t key, uint8_t hop, uint32_t data) {
  DtaReport r;
  r.opcode = DtaOpcode::kPostcarding;
  r.key = key;
  r.hop = hop;
  r.data = data;
  return r;
}

struct DtaNack {
  uint8_t seqnum = 0;
  bool nack = false;

  // Set by the parser, ignored by the builder.
  uint32_t src_ip = 0;  // host order
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t l3_offset = 0;    // IPv4 header
  uint16_t nack_offset = 0;  // NACK header
};

// --- parsing (fast path) ---

// Why a frame is not a usable report or NACK, dense from 0 so that callers
// count drops by reason in a plain array (DtaDropCounters). Checks run from
// the outside in, so the reason names the first layer that is wrong.
enum class DtaParseError : uint8_t {
  kOk = 0,
  kNotDta,              // not IPv4/UDP to the DTA port (other traffic, not an error)
  kTruncatedEthernet,   // shorter than the Ethernet (and VLAN) header
  kTruncatedIpv4,       // shorter than the IPv4 header or its total length
  kBadIpv4Header,       // version != 4, IHL < 5, total length < IHL
  kBadIpv4Checksum,     // header checksum wrong
  kIpv4Fragment,        // MF set or a fragment offset: reports are never fragmented
  kTruncatedUdp,        // the UDP header runs past the IPv4 datagram
  kBadUdpLength,        // UDP length != the rest of the IPv4 datagram
  kTruncatedBase,       // the base header does not fit in the UDP payload
  kBadOpcode,           // not one of the four primitives
  kTruncatedPrimitive,  // the opcode's primitive header does not fit
  kTrailingBytes,       // bytes after the primitive (or NACK) header
  kBadRedundancy,       // Key-Write/Key-Increment redundancy not in 1..4
  kBadHop,              // Postcarding hop not in 1..5
  kTruncatedNack,       // the NACK header does not fit in the UDP payload
  kCount,               // number of values, for counter arrays
};
inline constexpr size_t kDtaParseErrorCount = static_cast<size_t>(DtaParseError::kCount);
// snake_case names for stats ("bad_opcode"), one per value.
const char* DtaParseErrorName(DtaParseError e);

// Drops by reason; index kOk counts frames that parsed.
using DtaDropCounters = ReasonCounters<DtaParseError>;

// Parses `frame` (from the Ethernet header) as a report whose base header
// has `form`. On kOk `*out` holds the report; otherwise `*out` is unchanged.
// The UDP checksum is not checked: reporters send 0 over IPv4, as Tofino
// does when it builds a packet without a checksum engine.
// Inline (dta_parse_inl.h): the translator parses every report it receives.
inline DtaParseError ParseDtaReport(std::span<const uint8_t> frame, DtaBaseForm form,
                                    DtaReport* out);
// The same on an mbuf's first segment (a report is far smaller than one).
inline DtaParseError ParseDtaReport(const rte_mbuf* m, DtaBaseForm form, DtaReport* out);
// Parses `frame` as a NACK (UDP to 40044). On kOk `*out` holds it.
DtaParseError ParseDtaNack(std::span<const uint8_t> frame, DtaNack* out);

// --- building (fast path) ---

// The addresses of a report or NACK. The destination port is fixed by what
// is built (40040 for reports, 40044 for NACKs).
struct DtaAddresses {
  MacAddress src_mac{};
  MacAddress dst_mac{};
  uint32_t src_ip = 0;  // host order
  uint32_t dst_ip = 0;  // host order
  // Vary it per reporter or flow where the receiver spreads load by RSS.
  uint16_t src_port = kDtaReportPort;
  uint8_t tos = 0;
  uint8_t ttl = 64;
  bool vlan = false;      // insert an 802.1Q tag
  uint16_t vlan_tci = 0;  // PCP:3 DEI:1 VID:12
};

// Frame sizes (no Ethernet padding: builders write exactly the datagram).
uint32_t DtaReportFrameBytes(DtaBaseForm form, DtaOpcode opcode, bool vlan);
uint32_t DtaNackFrameBytes(bool vlan);

// Writes a complete report at the start of `buf`: Ethernet, IPv4 (DF set, ID
// 0, valid header checksum), UDP to 40040 with checksum 0, the base header
// of `form` and the primitive header of `r.opcode`. Fields are written as
// given, out-of-range redundancy and hop included, so that tests and
// generators can make bad reports; seqnum and retransmitable are dropped in
// the 2-byte form. Returns the frame length, or 0 when `buf` is too small or
// `r.opcode` is not a primitive (then `buf` may have been written to).
size_t BuildDtaReport(std::span<uint8_t> buf, const DtaAddresses& addresses, DtaBaseForm form,
                      const DtaReport& r);
// The same for a NACK to 40044.
size_t BuildDtaNack(std::span<uint8_t> buf, const DtaAddresses& addresses, const DtaNack& n);

// --- configuration (control path) ---

// Form names in configs: "2-byte" and "3-byte" (the header's size, which is
// what tells the two apart on the wire). Anything else is refused with both
// names and what each is.
absl::StatusOr<DtaBaseForm> ParseDtaBaseForm(absl::string_view name);
const char* DtaBaseFormName(DtaBaseForm form);

// Redundancy (Key-Write copies, Key-Increment rows): 1..4.
absl::Status ValidateDtaRedundancy(int64_t redundancy);
// A Postcarding hop number: 1..5.
absl::Status ValidateDtaHop(int64_t hop);
// Hops per Postcarding path (a path's last hop number): 1..5.
absl::Status ValidateDtaPathLength(int64_t hops);

}  // namespace softfino::net

#include "softfino/net/dta_parse_inl.h"  // IWYU pragma: export
