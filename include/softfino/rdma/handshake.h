// The queue-pair handshake over TCP: one JSON line each way per connection
// (qp_params.h shows both). The switch's slow path connects, sends its
// hello and reads the collector's reply, then installs the parameters in
// its tables; an error comes back as {"error": "..."}.
//
// The server runs in softfino-collector's main loop beside everything else,
// so Poll() never blocks and does bounded work: non-blocking sockets, a
// bounded number of connections, a bounded hello, and a deadline per
// connection, so a client that connects and says nothing (or reads
// nothing) costs a slot until then and never the collector's time.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/rdma/qp_params.h"

namespace softfino::rdma {

inline constexpr uint16_t kDefaultHandshakePort = 18515;

// Decides each hello: sets up the collector's end of the queue pair (a
// soft RNIC QP, or a verbs QP moved to RTS) and says what the switch needs.
class HandshakeHandler {
 public:
  virtual ~HandshakeHandler() = default;
  // The reply's fields for the responder role, or why not (the message goes
  // to the switch as is, so it should say what to fix).
  virtual absl::StatusOr<QpParams> Accept(const QpParams& hello) = 0;
  // An accepted reply never reached the switch (it hung up or stopped
  // reading): tear down what Accept set up.
  virtual void Abandon(const QpParams& reply) = 0;
};

// The handler for regions in a MemoryRegionTable (the soft backend): the
// region's rkey, iova and length, a QPN from `qpns`, the hello's PSN as the
// expected one, and the smaller of the two MTUs. `install`, when given,
// creates the responder's QP state (and may refuse); `remove` undoes it.
struct CollectorEndpoint {
  net::MacAddress mac{};
  Gid gid{};            // GidFromIpv4(collector's IPv4)
  uint32_t mtu = 1024;  // the largest path MTU the collector takes
};
class RegionHandshakeHandler : public HandshakeHandler {
 public:
  using Install = std::function<absl::Status(const QpParams& hello, const QpParams& reply)>;
  using Remove = std::function<void(const QpParams& reply)>;
  RegionHandshakeHandler(const MemoryRegionTable& regions, QpnAllocator& qpns,
                         CollectorEndpoint self, Install install = nullptr,
                         Remove remove = nullptr);
  absl::StatusOr<QpParams> Accept(const QpParams& hello) override;
  void Abandon(const QpParams& reply) override;

 private:
  const MemoryRegionTable& regions_;
  QpnAllocator& qpns_;
  const CollectorEndpoint self_;
  Install install_;
  Remove remove_;
};

struct HandshakeServerOptions {
  std::string address = "0.0.0.0";        // IPv4 to listen on
  uint16_t port = kDefaultHandshakePort;  // 0: any free port (see port())
  size_t max_clients = 32;                // more are told so and closed
  size_t max_line_bytes = 4096;           // a longer hello is refused
  // From connect to the reply written: a client slower than this is closed.
  std::chrono::milliseconds client_timeout{2000};
  // Requests {"query": Q} are answered with query(Q) (a JSON line), or an
  // {"error": ...} line; without it they are refused. The collector answers
  // DTA queries this way.
  std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json&)> query;
  // Other requests, one-member objects {KIND: R} for each KIND here, are
  // answered the same way with requests[KIND](R) (counted as queries). The
  // collector answers TEA's table requests, {"tea": ...}, this way.
  std::map<std::string, std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json&)>>
      requests;
};

struct HandshakeStats {
  uint64_t connections = 0;  // accepted by the kernel
  uint64_t connected = 0;    // replies with parameters, delivered
  uint64_t refused = 0;      // error replies: bad hello, or the handler said no
  uint64_t timed_out = 0;    // no hello, or the reply not read, in time
  uint64_t too_many = 0;     // turned away at max_clients
  uint64_t abandoned = 0;    // accepted, but the reply never got out
  uint64_t queries = 0;      // {"query": ...} and other requests answered (errors included)
};

class HandshakeServer {
 public:
  // Listens on options.address:options.port. `handler` must outlive the server.
  static absl::StatusOr<std::unique_ptr<HandshakeServer>> Create(HandshakeServerOptions options,
                                                                 HandshakeHandler& handler);
  ~HandshakeServer();  // closes every connection (abandoning unsent replies)
  HandshakeServer(const HandshakeServer&) = delete;
  HandshakeServer& operator=(const HandshakeServer&) = delete;

  // Accepts, reads, answers, writes and expires what is ready now; never
  // blocks. Call it from the main loop (every few milliseconds is plenty).
  void Poll();

  uint16_t port() const { return port_; }       // the bound port, also when options.port was 0
  int listen_fd() const { return listen_fd_; }  // for an epoll/poll set, if the loop has one
  size_t client_count() const { return clients_.size(); }
  const HandshakeStats& stats() const { return stats_; }

 private:
  struct Client;
  using Clock = std::chrono::steady_clock;

  HandshakeServer(HandshakeServerOptions options, HandshakeHandler& handler, int listen_fd,
                  uint16_t port);
  void Accept(Clock::time_point now);
  bool Read(Client& client);  // false: close it now
  void Answer(Client& client, absl::string_view line);
  bool Write(Client& client);  // false: close it now
  bool Drain(Client& client);  // after the reply: discards input; false at EOF
  void Close(size_t index, bool expired);

  const HandshakeServerOptions options_;
  HandshakeHandler& handler_;
  const int listen_fd_;
  const uint16_t port_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<pollfd> pollfds_;
  HandshakeStats stats_;
};

// The switch's side: connects to the collector at host:port, sends `hello`
// and returns the collector's validated reply. Blocks for at most `timeout`
// in all (DNS resolution of a name aside: give an address to avoid it).
// Errors name the collector and what to do ("collector at 10.0.0.2:18515
// refused: no region named dta.keywrite; it has dta.append, tea.nat").
absl::StatusOr<QpParams> RequestQueuePair(absl::string_view host, uint16_t port,
                                          const QpParams& hello, std::chrono::milliseconds timeout);

// Any other request to the collector's handshake port (e.g. {"query": ...},
// see HandshakeServerOptions::query): one JSON line out, its one-line JSON
// reply back; an {"error": ...} reply comes back as an error.
absl::StatusOr<nlohmann::json> CollectorRequest(absl::string_view host, uint16_t port,
                                                const nlohmann::json& request,
                                                std::chrono::milliseconds timeout);

}  // namespace softfino::rdma
