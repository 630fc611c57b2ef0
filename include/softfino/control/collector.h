// softfino-collector's service: hosts memory regions that switches write
// into and read from over RoCEv2, publishes queue-pair parameters over the
// TCP/JSON handshake, and, with the soft backend, answers the RDMA requests
// itself on DPDK ports (the soft RNIC). One thread does it all: a poll loop
// over the ports' RX queues, with the handshake server polled between
// bursts, so adding a queue pair never races a packet.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/dta/layout.h"
#include "softfino/rdma/handshake.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/tea/layout.h"

namespace softfino::control {

struct RegionSpec {
  std::string name;
  uint64_t bytes = 0;
  uint32_t access = rdma::kAccessAllRemote;
};

// "name:size[:access]": size in bytes with an optional K, M or G suffix
// (powers of 1024); access letters r (remote read), w (remote write),
// a (remote atomic), default "rwa". Errors say what to write instead.
absl::StatusOr<RegionSpec> ParseRegionSpec(absl::string_view text);

enum class CollectorBackend { kSoft, kVerbs };

struct CollectorOptions {
  CollectorBackend backend = CollectorBackend::kSoft;
  std::vector<RegionSpec> regions;
  std::string listen_address = "0.0.0.0";
  uint16_t listen_port = rdma::kDefaultHandshakePort;
  // The collector's IPv4 (host order) on the RoCE network: its GID, and the
  // source of the soft RNIC's answers. Required.
  uint32_t ip = 0;
  uint32_t mtu = 1024;             // the largest path MTU it offers
  std::string verbs_device;        // --backend verbs: "" for the first
  std::chrono::milliseconds exit_when_idle{0};  // 0: until SIGINT/SIGTERM
  // The soft RNIC's poll loop sleeps once no frame has come for a
  // millisecond (dataplane/idle_backoff.h), as a hardware RNIC takes no
  // host CPU: for a collector sharing its CPU with switch workers (a
  // benchmark on a small machine). The first frame after a sleep waits up
  // to 256 us more.
  bool idle_sleep = false;
  // The DTA layout the regions hold, when it does: then {"query": ...}
  // requests on the handshake port are answered (control/dta_queries.h).
  std::optional<dta::Layout> dta_layout;
  // TEA tables (tea/layout.h), each in a region of its own name, sized for
  // it; {"tea": ...} requests on the handshake port change and read them
  // (control/tea_requests.h).
  std::vector<tea::TableConfig> tea_tables;
};

class Collector {
 public:
  // Registers the regions, opens the backend and starts listening. With the
  // soft backend, EAL must be up with at least one port; every port answers.
  static absl::StatusOr<std::unique_ptr<Collector>> Create(const CollectorOptions& options);
  ~Collector();

  // Serves until a stop signal (or idle time, when asked). Returns when done.
  void Run();

  uint16_t handshake_port() const;
  const rdma::MemoryRegionTable& regions() const { return *regions_; }
  // Every counter: frames, answers, drops by reason, per-QP responder
  // events, handshakes.
  nlohmann::json Stats() const;
  // Writes a region's bytes to `path` (tests compare memory byte for byte).
  absl::Status DumpRegion(absl::string_view name, const std::string& path) const;

 private:
  struct Impl;
  explicit Collector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  const rdma::MemoryRegionTable* regions_;
};

}  // namespace softfino::control
