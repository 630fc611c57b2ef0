#include "softfino/control/dta_event_export.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace softfino::control {

using nlohmann::json;

namespace {

constexpr absl::string_view kSpecExample = "e.g. --events-dta 10.0.0.2,list=3";

absl::Status SpecError(absl::string_view spec, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("--events-dta ", spec, ": ", problem, "; ", kSpecExample));
}

// The record of a Trumpet-style event, or nothing when a field is missing.
std::optional<dta::EventRecord> RecordOf(const json& e) {
  const auto uint = [&](const char* key) -> std::optional<uint64_t> {
    const auto it = e.find(key);
    if (it == e.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<uint64_t>();
  };
  const auto id = uint("trigger_id"), start = uint("interval_start_ns"),
             length = uint("interval_ns"), seq = uint("seq");
  const auto key = e.find("group_key");
  const auto value = e.find("value");
  if (!id || !start || !length || !seq || key == e.end() || !key->is_array() || key->size() != 5 ||
      value == e.end() || !value->is_number()) {
    return std::nullopt;
  }
  for (const json& k : *key) {
    if (!k.is_number_unsigned()) return std::nullopt;
  }
  dta::EventRecord r;
  r.trigger_id = static_cast<uint32_t>(*id);
  r.interval_start_us = *start / 1000;
  r.interval_us = static_cast<uint32_t>(*length / 1000);
  r.src = (*key)[0].get<uint32_t>();
  r.dst = (*key)[1].get<uint32_t>();
  r.sport = (*key)[2].get<uint16_t>();
  r.dport = (*key)[3].get<uint16_t>();
  r.proto = (*key)[4].get<uint8_t>();
  r.seq = static_cast<uint32_t>(*seq);
  r.value = value->get<double>();
  return r;
}

}  // namespace

absl::StatusOr<DtaEventExportOptions> ParseDtaEventExport(absl::string_view spec) {
  DtaEventExportOptions o;
  std::vector<absl::string_view> parts = absl::StrSplit(spec, ',');
  std::vector<absl::string_view> host = absl::StrSplit(parts[0], absl::MaxSplits(':', 1));
  in_addr addr{};
  if (inet_pton(AF_INET, std::string(host[0]).c_str(), &addr) != 1) {
    return SpecError(spec, absl::StrCat("\"", host[0], "\" is not an IPv4 address (the translator's)"));
  }
  o.address = ntohl(addr.s_addr);
  if (host.size() == 2) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(host[1], &port) || port == 0 || port > 65535) {
      return SpecError(spec, absl::StrCat("port \"", host[1], "\" is not 1..65535"));
    }
    o.port = static_cast<uint16_t>(port);
  }
  bool have_list = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::vector<absl::string_view> kv = absl::StrSplit(parts[i], absl::MaxSplits('=', 1));
    if (kv.size() != 2) return SpecError(spec, absl::StrCat("\"", parts[i], "\" is not key=value"));
    uint64_t number = 0;
    const bool numeric = absl::SimpleAtoi(kv[1], &number);
    if (kv[0] == "list") {
      if (!numeric || number > 0xffffffff) return SpecError(spec, "list must be 0..2^32-1");
      o.list = static_cast<uint32_t>(number);
      have_list = true;
    } else if (kv[0] == "form") {
      auto form = net::ParseDtaBaseForm(kv[1]);
      if (!form.ok()) return SpecError(spec, form.status().message());
      o.form = *form;
    } else if (kv[0] == "rate") {
      if (!numeric || number == 0) return SpecError(spec, "rate must be reports per second, > 0");
      o.rate = number;
    } else if (kv[0] == "queue") {
      if (!numeric || number == 0) return SpecError(spec, "queue must be a number of events, > 0");
      o.queue = number;
    } else {
      return SpecError(spec, absl::StrCat("unknown option \"", kv[0], "\" (list, form, rate, queue)"));
    }
  }
  if (!have_list) return SpecError(spec, "list=L is missing (the Append list the events go to)");
  return o;
}

absl::StatusOr<std::unique_ptr<DtaEventExporter>> DtaEventExporter::Create(
    const DtaEventExportOptions& options) {
  std::unique_ptr<DtaEventExporter> e(new DtaEventExporter(options));
  e->fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (e->fd_ < 0) return absl::InternalError(absl::StrCat("--events-dta: socket: ", strerror(errno)));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(options.port);
  to.sin_addr.s_addr = htonl(options.address);
  if (connect(e->fd_, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--events-dta: cannot send to ", inet_ntoa(to.sin_addr), ":", options.port,
                     ": ", strerror(errno), " (is there a route to the translator?)"));
  }
  e->last_refill_ = Clock::now();
  return e;
}

DtaEventExporter::~DtaEventExporter() {
  if (fd_ >= 0) close(fd_);
}

void DtaEventExporter::Add(const json& event) {
  const std::optional<dta::EventRecord> r = RecordOf(event);
  if (!r) {
    ++counts_.not_exportable;
    return;
  }
  if (queue_.size() >= options_.queue) {
    ++counts_.queue_full;
    return;
  }
  queue_.push_back(dta::EncodeEventRecord(*r));
  ++counts_.events;
}

bool DtaEventExporter::SendReport(uint32_t data) {
  uint8_t report[net::DtaBaseBytes(net::DtaBaseForm::kThreeByte) + sizeof(net::DtaAppendHeader)];
  size_t at = 0;
  report[at++] = static_cast<uint8_t>(net::DtaOpcode::kAppend);
  if (options_.form == net::DtaBaseForm::kThreeByte) report[at++] = seqnum_;
  report[at++] = 0;  // not immediate, not retransmitable
  net::DtaStore32(report + at, options_.list);
  net::DtaStore32(report + at + 4, data);
  at += sizeof(net::DtaAppendHeader);
  if (send(fd_, report, at, MSG_DONTWAIT) == static_cast<ssize_t>(at)) {
    ++seqnum_;
    ++counts_.reports;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return false;
  // E.g. ECONNREFUSED: an earlier datagram found no listener. This one may
  // not have gone; it counts as lost, and the record's CRC tells the reader.
  ++counts_.send_errors;
  return true;
}

void DtaEventExporter::Send(Clock::time_point now) {
  const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  last_refill_ = now;
  // At most 10 ms of reports in one go.
  const double cap = std::max(1.0, static_cast<double>(options_.rate) / 100);
  tokens_ = std::min(cap, tokens_ + elapsed * static_cast<double>(options_.rate));
  while (!queue_.empty() && tokens_ >= 1) {
    if (!SendReport(queue_.front()[next_word_])) return;
    tokens_ -= 1;
    if (++next_word_ == dta::kEventRecordWords) {
      next_word_ = 0;
      queue_.pop_front();
    }
  }
}

void DtaEventExporter::Drain(std::chrono::milliseconds limit) {
  const Clock::time_point end = Clock::now() + limit;
  while (!queue_.empty() && Clock::now() < end) {
    Send(Clock::now());
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

json DtaEventExporter::Counters() const {
  in_addr a{};
  a.s_addr = htonl(options_.address);
  return json{{"to", absl::StrCat(inet_ntoa(a), ":", options_.port)},
              {"list", options_.list},
              {"events", counts_.events},
              {"not_exportable", counts_.not_exportable},
              {"queue_full", counts_.queue_full},
              {"waiting", queue_.size()},
              {"reports", counts_.reports},
              {"send_errors", counts_.send_errors}};
}

}  // namespace softfino::control
