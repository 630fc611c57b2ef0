#include "softfino/dta/event_record.h"

#include <bit>
#include <cstring>

#include "softfino/net/crc.h"

namespace softfino::dta {

namespace {

constexpr uint32_t kPayloadWords = kEventRecordWords - 1;

// CRC-32/ISO-HDLC over the words as big-endian bytes.
uint32_t RecordCrc(const uint32_t* words) {
  static const net::Crc crc = *net::Crc::Create(*net::CrcSpecByName("crc_32"));
  uint8_t bytes[kPayloadWords * 4];
  for (uint32_t i = 0; i < kPayloadWords; ++i) {
    bytes[4 * i] = static_cast<uint8_t>(words[i] >> 24);
    bytes[4 * i + 1] = static_cast<uint8_t>(words[i] >> 16);
    bytes[4 * i + 2] = static_cast<uint8_t>(words[i] >> 8);
    bytes[4 * i + 3] = static_cast<uint8_t>(words[i]);
  }
  return static_cast<uint32_t>(crc.Compute(bytes, sizeof(bytes)));
}

bool StartsRecord(uint32_t word) { return (word >> 24) == kEventRecordMagic; }

}  // namespace

std::array<uint32_t, kEventRecordWords> EncodeEventRecord(const EventRecord& r) {
  const uint64_t value = std::bit_cast<uint64_t>(r.value);
  std::array<uint32_t, kEventRecordWords> w = {
      kEventRecordMagic << 24 | (r.trigger_id & 0xffffff),
      static_cast<uint32_t>(r.interval_start_us >> 32),
      static_cast<uint32_t>(r.interval_start_us),
      r.interval_us,
      r.src,
      r.dst,
      uint32_t{r.sport} << 16 | r.dport,
      uint32_t{r.proto} << 24 | (r.seq & 0xffffff),
      static_cast<uint32_t>(value >> 32),
      static_cast<uint32_t>(value),
      0};
  w[kPayloadWords] = RecordCrc(w.data());
  return w;
}

EventScan ScanEventRecords(std::span<const uint32_t> entries) {
  EventScan scan;
  uint64_t i = 0;
  while (i < entries.size()) {
    if (!StartsRecord(entries[i])) {
      ++i;
      ++scan.skipped;
      continue;
    }
    if (entries.size() - i < kEventRecordWords) break;  // may still be arriving
    const uint32_t* w = entries.data() + i;
    if (RecordCrc(w) != w[kPayloadWords]) {
      ++i;
      ++scan.skipped;
      continue;
    }
    EventRecord r;
    r.trigger_id = w[0] & 0xffffff;
    r.interval_start_us = uint64_t{w[1]} << 32 | w[2];
    r.interval_us = w[3];
    r.src = w[4];
    r.dst = w[5];
    r.sport = static_cast<uint16_t>(w[6] >> 16);
    r.dport = static_cast<uint16_t>(w[6]);
    r.proto = static_cast<uint8_t>(w[7] >> 24);
    r.seq = w[7] & 0xffffff;
    r.value = std::bit_cast<double>(uint64_t{w[8]} << 32 | w[9]);
    scan.records.push_back(r);
    i += kEventRecordWords;
  }
  scan.consumed = i;
  return scan;
}

}  // namespace softfino::dta
