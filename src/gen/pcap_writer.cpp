#include "softfino/gen/pcap_writer.h"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace softfino::gen {

struct PcapWriter::Handles {
  pcap_t* pcap = nullptr;
  pcap_dumper_t* dumper = nullptr;
  ~Handles() {
    if (dumper != nullptr) pcap_dump_close(dumper);
    if (pcap != nullptr) pcap_close(pcap);
  }
};

PcapWriter::PcapWriter(std::unique_ptr<Handles> h) : h_(std::move(h)) {}
PcapWriter::PcapWriter(PcapWriter&&) noexcept = default;
PcapWriter& PcapWriter::operator=(PcapWriter&&) noexcept = default;
PcapWriter::~PcapWriter() = default;

absl::StatusOr<PcapWriter> PcapWriter::Open(const std::string& path) {
  auto h = std::make_unique<Handles>();
  h->pcap = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  if (h->pcap == nullptr) return absl::InternalError("libpcap: cannot make a pcap handle");
  h->dumper = pcap_dump_open(h->pcap, path.c_str());
  if (h->dumper == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write ", path, ": ", pcap_geterr(h->pcap)));
  }
  PcapWriter w(std::move(h));
  w.path_ = path;
  return w;
}

void PcapWriter::Write(std::span<const uint8_t> frame, uint64_t timestamp_ns) {
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(timestamp_ns / 1'000'000'000);
  // With nanosecond precision the "usec" field holds nanoseconds.
  hdr.ts.tv_usec = static_cast<suseconds_t>(timestamp_ns % 1'000'000'000);
  hdr.caplen = hdr.len = static_cast<bpf_u_int32>(frame.size());
  pcap_dump(reinterpret_cast<u_char*>(h_->dumper), &hdr, frame.data());
}

absl::Status PcapWriter::Close() {
  if (h_ == nullptr || h_->dumper == nullptr) return absl::OkStatus();
  const bool ok = pcap_dump_flush(h_->dumper) == 0 && !ferror(pcap_dump_file(h_->dumper));
  h_.reset();
  if (!ok) return absl::DataLossError(absl::StrCat("writing ", path_, " failed: ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::Status WritePcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames,
                       const std::vector<uint64_t>& timestamps_ns) {
  auto pcap = PcapWriter::Open(path);
  if (!pcap.ok()) return pcap.status();
  for (size_t i = 0; i < frames.size(); ++i) pcap->Write(frames[i], timestamps_ns[i]);
  return pcap->Close();
}

}  // namespace softfino::gen
