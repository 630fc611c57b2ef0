#include "softfino/control/courier_decoder.h"

#include <pcap/pcap.h>

#include <memory>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace softfino::control {

namespace {

std::string Dotted(uint32_t ip) {
  return absl::StrFormat("%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

}  // namespace

nlohmann::json CourierToJson(const net::CourierEntry& e, uint64_t ts_ns) {
  return {{"seq", e.seq},
          {"src_ip", Dotted(e.src_ip)},
          {"dst_ip", Dotted(e.dst_ip)},
          {"src_port", e.src_port},
          {"dst_port", e.dst_port},
          {"proto", e.proto},
          {"egress_port", e.egress_port},
          {"enq_tstamp", e.enq_tstamp},
          {"deq_tstamp", e.deq_tstamp},
          {"deq_timedelta", static_cast<uint32_t>(e.deq_tstamp - e.enq_tstamp)},
          {"enq_qdepth", e.enq_qdepth},
          {"deq_qdepth", e.deq_qdepth},
          {"pkt_length", e.pkt_length},
          {"ts_ns", ts_ns}};
}

absl::Status DecodeCourierPcap(const std::string& path,
                               const std::function<void(const nlohmann::json&)>& emit,
                               CourierDecodeStats& stats) {
  char error[PCAP_ERRBUF_SIZE] = "";
  // Nanosecond timestamps whatever the file holds (softfino writes either).
  std::unique_ptr<pcap_t, decltype(&pcap_close)> pcap(
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, error),
      &pcap_close);
  if (!pcap) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, " as a pcap (", error,
                                            "); give the capture of the "
                                            "monitor port, e.g. its net_pcap tx_pcap"));
  }
  if (pcap_datalink(pcap.get()) != DLT_EN10MB) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an Ethernet capture (link type ",
                                                   pcap_datalink(pcap.get()),
                                                   "); couriers are Ethernet frames"));
  }
  bool have_last = false;
  uint32_t last_seq = 0;
  pcap_pkthdr* hdr;
  const u_char* data;
  int rc;
  while ((rc = pcap_next_ex(pcap.get(), &hdr, &data)) == 1) {
    ++stats.frames;
    net::CourierEntry e;
    switch (net::ParseCourier(std::span<const uint8_t>(data, hdr->caplen), e)) {
      case net::CourierParse::kNotCourier:
        ++stats.other;
        continue;
      case net::CourierParse::kTruncated:
        ++stats.truncated;
        continue;
      case net::CourierParse::kCourier:
        break;
    }
    ++stats.couriers;
    // Couriers of one pipe leave in seq order; a jump forward is entries
    // the ring lost (several pipes interleave, so this is a hint only).
    if (have_last && e.seq > last_seq + 1) stats.seq_gaps += e.seq - last_seq - 1;
    have_last = true;
    last_seq = e.seq;
    emit(CourierToJson(e, static_cast<uint64_t>(hdr->ts.tv_sec) * 1'000'000'000u +
                              static_cast<uint64_t>(hdr->ts.tv_usec)));
  }
  if (rc == PCAP_ERROR) {
    return absl::DataLossError(absl::StrCat(path, ": ", pcap_geterr(pcap.get()), " after ",
                                            stats.frames, " frames (is the capture cut short?)"));
  }
  return absl::OkStatus();
}

}  // namespace softfino::control
