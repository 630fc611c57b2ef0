// Switch events (e.g. Trumpet triggers that fired) carried as DTA Append
// reports: the event manager turns each event into a fixed record of
// kEventRecordWords 32-bit words and sends one Append report per word to a
// list, so the translator writes the records, in order, into the list's ring
// in collector memory; the collector's "events" query turns the ring back
// into events.
//
// Record (word: content; every word is one report's data, big-endian on the
// wire and in the ring):
//   0   kEventRecordMagic << 24 | trigger id (24 bits)
//   1   interval start, microseconds, high 32 bits
//   2   interval start, microseconds, low 32 bits
//   3   interval length, microseconds
//   4   group source IPv4 address (cut to the trigger's group lengths)
//   5   group destination IPv4 address
//   6   group source port << 16 | destination port
//   7   group protocol << 24 | event sequence number (low 24 bits)
//   8   value (the predicate's left side), IEEE-754 double, high 32 bits
//   9   value, low 32 bits
//   10  CRC-32 (ISO-HDLC, zlib's crc32) of words 0..9 as 40 big-endian bytes
// Why this shape: reports travel over UDP and may be lost, so a record must
// be recognisable on its own (the magic byte) and checkable (the CRC); a
// reader that meets a word that does not start a valid record skips it and
// resynchronises, counting what it skipped. The sequence number lets a
// reader see whole records that went missing. Microseconds: Trumpet's
// intervals are whole milliseconds.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace softfino::dta {

inline constexpr uint32_t kEventRecordWords = 11;
inline constexpr uint32_t kEventRecordMagic = 0xE7;

struct EventRecord {
  uint32_t trigger_id = 0;  // 24 bits
  uint64_t interval_start_us = 0;
  uint32_t interval_us = 0;
  uint32_t src = 0, dst = 0;  // group key, host order
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  uint32_t seq = 0;  // 24 bits
  double value = 0;
};

// The record's words, host order (a report carries each big-endian).
std::array<uint32_t, kEventRecordWords> EncodeEventRecord(const EventRecord& r);

// What a scan of consecutive entries found.
struct EventScan {
  std::vector<EventRecord> records;
  uint64_t consumed = 0;  // entries scanned; the first of the rest may start a record
  uint64_t skipped = 0;   // entries that started no valid record (lost or damaged reports)
};

// Scans `entries` (host order) for records. Stops before a possible record
// that has not fully arrived, so scanning again from `consumed` with more
// entries finds it.
EventScan ScanEventRecords(std::span<const uint32_t> entries);

}  // namespace softfino::dta
