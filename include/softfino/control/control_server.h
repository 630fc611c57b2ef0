// The control socket: a UNIX stream socket on the slow path that answers
// JSON-lines requests from softfino-ctl (or anything that can write a line):
//   -> {"id": 7, "cmd": "ports", "args": {"port": 1}}
//   <- {"id": 7, "ok": true, "result": {...}}
//   <- {"id": 7, "ok": false, "error": "port 7 does not exist; ..."}
// It runs on the main lcore, which may also be polling a pipe, so Poll()
// never blocks and does a bounded amount of work: non-blocking sockets, a
// bounded number of clients, bounded buffers per client, a bounded number of
// requests (and time) per poll. A client that sends half a line costs a slot
// and its buffers, never the switch's time. A client's unread replies are
// capped: past the cap its further requests wait (it may be reading slowly),
// and if it then reads nothing for `output_stall` it is dropped (it is not
// reading at all). A request line unfinished after `request_timeout` closes
// its client, and with every slot taken a client silent for `idle_evict`
// gives its slot to a newcomer, so clients that connect and stall cannot
// lock others out.
//
// The socket file is mode 0600 (only the switch's user, and root, may
// connect), and is removed when the server goes away.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/control/command_registry.h"

namespace softfino::control {

struct ControlServerOptions {
  std::string path;
  size_t max_clients = 64;                       // more are told so and closed
  size_t max_request_bytes = 64 * 1024;          // per line; longer: error, then close
  size_t max_output_bytes = 1024 * 1024;         // replies a client has not read; beyond: wait
  std::chrono::milliseconds output_stall{2000};  // over the cap this long, unread: drop
  size_t max_requests_per_poll = 64;             // over all clients
  // Stop answering for this poll once this much time went into requests
  // (at least one request is always answered, so progress is guaranteed).
  std::chrono::microseconds request_budget{500};
  // A client that closed its side, or was told it is being closed, gets this
  // long to read what is left for it.
  std::chrono::milliseconds linger{1000};
  // A request line begun but not finished this long after its first byte:
  // the client is told and closed (it would hold its slot for good).
  std::chrono::milliseconds request_timeout{5000};
  // With every slot taken, a newcomer gets the slot of the client silent
  // longest, if it has sent nothing for this long and waits for nothing.
  std::chrono::milliseconds idle_evict{5000};
};

// The socket file's name inside DPDK's runtime folder (rte_eal_get_runtime_dir():
// /var/run/dpdk/<file-prefix> for root), beside DPDK's telemetry socket, so
// each --file-prefix gets its own and softfino-ctl can find it by prefix.
inline constexpr absl::string_view kControlSocketName = "softfino.sock";

// The folder DPDK's EAL uses for --file-prefix `prefix`, computed the way EAL
// does (so a client can find the socket without starting EAL): /var/run for
// root, else $XDG_RUNTIME_DIR, else /tmp; then /dpdk/<prefix>.
std::string DpdkRuntimeDir(absl::string_view file_prefix);

// The whole protocol for one line of input, without the socket: parses the
// request and dispatches it. Returns the reply as one line (no newline).
std::string ReplyToLine(const CommandRegistry& registry, absl::string_view line);

class ControlServer {
 public:
  // Listens at options.path, creating its folder (mode 0700) when missing.
  // Fails when a live process already listens there; removes a stale socket
  // file left by a switch that died.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Create(const CommandRegistry& registry,
                                                               ControlServerOptions options);
  ~ControlServer();  // closes every client and removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Accepts, reads, answers and writes what is ready now; never blocks.
  void Poll();

  const std::string& path() const { return options_.path; }
  size_t client_count() const { return clients_.size(); }

 private:
  struct Client;
  using Clock = std::chrono::steady_clock;

  ControlServer(const CommandRegistry& registry, ControlServerOptions options, int listen_fd,
                dev_t dev, ino_t ino);
  void Accept();
  // Each returns false when the client is to be closed now.
  bool Read(Client& client);
  bool Answer(Client& client, size_t& budget, Clock::time_point deadline);
  bool Write(Client& client);
  // Tells the client why, then closes it once that is written (or lingered).
  void CloseWithError(Client& client, absl::string_view message);
  // At capacity: drops the client silent longest (options_.idle_evict);
  // false when none qualifies.
  bool EvictIdle();

  const CommandRegistry& registry_;
  const ControlServerOptions options_;
  const int listen_fd_;
  // The socket file we created; removed at exit only if it is still ours.
  const dev_t dev_;
  const ino_t ino_;
  std::vector<std::unique_ptr<Client>> clients_;
  size_t next_client_ = 0;  // round-robin start, so no client always goes first
  std::vector<pollfd> pollfds_;
  std::string scratch_;  // read buffer
};

}  // namespace softfino::control
