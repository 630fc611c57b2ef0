// Sends the switch's events to a DTA collector as Append reports
// (softfino --events-dta): each event becomes one record of
// dta::kEventRecordWords words (dta/event_record.h), one Append report per
// word, to one list, as UDP datagrams to a DTA translator, which writes them
// into the list's ring in the collector's memory. The collector's "events"
// query reads them back.
//
// Slow path only. It never blocks: records wait in a bounded queue and go out
// at a bounded rate (a translator port, and a kernel socket buffer, take
// bursts badly); when the queue is full the newest events are not queued and
// are counted. A report the kernel refuses for another reason is lost and
// counted; the record it belonged to fails its CRC at the collector, which
// skips it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/dta/event_record.h"
#include "softfino/net/dta.h"

namespace softfino::control {

struct DtaEventExportOptions {
  uint32_t address = 0;  // the translator's IPv4 address, host order
  uint16_t port = net::kDtaReportPort;
  uint32_t list = 0;
  net::DtaBaseForm form = net::kDefaultDtaBaseForm;
  uint64_t rate = 100000;      // reports per second
  size_t queue = 65536;        // records waiting at most
};

// "ADDRESS[:PORT],list=L[,form=2-byte|3-byte][,rate=REPORTS_PER_S][,queue=RECORDS]",
// e.g. "10.0.0.2,list=3". The error names the part that is wrong.
absl::StatusOr<DtaEventExportOptions> ParseDtaEventExport(absl::string_view spec);

class DtaEventExporter {
 public:
  using Clock = std::chrono::steady_clock;

  static absl::StatusOr<std::unique_ptr<DtaEventExporter>> Create(const DtaEventExportOptions& options);
  ~DtaEventExporter();
  DtaEventExporter(const DtaEventExporter&) = delete;
  DtaEventExporter& operator=(const DtaEventExporter&) = delete;

  // Queues the event's record. An event without the fields of a record
  // (trigger_id, interval_start_ns, interval_ns, group_key, value, seq) is
  // counted as not exportable.
  void Add(const nlohmann::json& event);
  // Sends what the rate allows by `now`.
  void Send(Clock::time_point now);
  // Sends everything still queued, at the rate, for at most `limit` (exit).
  void Drain(std::chrono::milliseconds limit);
  nlohmann::json Counters() const;

 private:
  explicit DtaEventExporter(const DtaEventExportOptions& options) : options_(options) {}
  // False when the socket cannot take it now (try again later).
  bool SendReport(uint32_t data);

  DtaEventExportOptions options_;
  int fd_ = -1;
  std::deque<std::array<uint32_t, dta::kEventRecordWords>> queue_;
  uint32_t next_word_ = 0;  // of queue_.front() to send next
  double tokens_ = 0;
  Clock::time_point last_refill_{};
  uint8_t seqnum_ = 0;  // the 3-byte base header's
  struct {
    uint64_t events = 0, not_exportable = 0, queue_full = 0, reports = 0, send_errors = 0;
  } counts_;
};

}  // namespace softfino::control
