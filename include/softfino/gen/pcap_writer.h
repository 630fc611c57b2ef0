// Writes frames to a pcap file (Ethernet link type, nanosecond timestamps),
// as every workload of softfino-gen does. libpcap does the format.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace softfino::gen {

class PcapWriter {
 public:
  static absl::StatusOr<PcapWriter> Open(const std::string& path);
  PcapWriter(PcapWriter&&) noexcept;
  PcapWriter& operator=(PcapWriter&&) noexcept;
  ~PcapWriter();

  void Write(std::span<const uint8_t> frame, uint64_t timestamp_ns);
  // Flushes and closes; says whether everything reached the file.
  absl::Status Close();

 private:
  struct Handles;
  explicit PcapWriter(std::unique_ptr<Handles> h);
  std::unique_ptr<Handles> h_;
  std::string path_;
};

// Writes every frame with its timestamp (same lengths) to `path`.
absl::Status WritePcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames,
                       const std::vector<uint64_t>& timestamps_ns);

}  // namespace softfino::gen
