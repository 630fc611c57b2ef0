#include "softfino/rdma/handshake.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace softfino::rdma {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How long an answered connection may stay open for the client to read its
// reply and hang up, at most.
constexpr auto kLinger = std::chrono::milliseconds(1000);

// A reply is a few hundred bytes; anything much longer is not ours.
constexpr size_t kMaxReplyBytes = 64 * 1024;

std::string ErrorLine(absl::string_view message) {
  return json{{"error", std::string(message)}}.dump(-1, ' ', false,
                                                    json::error_handler_t::replace) +
         "\n";
}

// Closes a descriptor on every return path of the client.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int MillisLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

}  // namespace

// ---------------------------------------------------------------- handler

RegionHandshakeHandler::RegionHandshakeHandler(const MemoryRegionTable& regions, QpnAllocator& qpns,
                                               CollectorEndpoint self, Install install,
                                               Remove remove)
    : regions_(regions),
      qpns_(qpns),
      self_(self),
      install_(std::move(install)),
      remove_(std::move(remove)) {}

absl::StatusOr<QpParams> RegionHandshakeHandler::Accept(const QpParams& hello) {
  absl::StatusOr<MemoryRegion> region = regions_.Find(hello.region);
  if (!region.ok()) return region.status();
  absl::StatusOr<uint32_t> qpn = qpns_.Allocate();
  if (!qpn.ok()) return qpn.status();
  QpParams reply;
  reply.qpn = *qpn;
  reply.psn = hello.psn;
  reply.region = region->name;
  reply.rkey = region->rkey;
  reply.iova = region->iova;
  reply.length = region->length;
  reply.gid = self_.gid;
  reply.mac = self_.mac;
  reply.mtu = hello.mtu == 0 ? self_.mtu : std::min(hello.mtu, self_.mtu);
  if (install_) {
    if (absl::Status s = install_(hello, reply); !s.ok()) {
      qpns_.Release(reply.qpn);
      return s;
    }
  }
  return reply;
}

void RegionHandshakeHandler::Abandon(const QpParams& reply) {
  if (remove_) remove_(reply);
  qpns_.Release(reply.qpn);
}

// ----------------------------------------------------------------- server

struct HandshakeServer::Client {
  Client(int f, Clock::time_point d) : fd(f), deadline(d) {}
  ~Client() { close(fd); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd;
  Clock::time_point deadline;
  std::string in;
  bool answered = false;  // `out` holds the whole answer
  std::string out;
  size_t sent = 0;
  std::optional<QpParams> reply;  // accepted: abandoned unless fully sent
  bool finished = false;          // all sent and half-closed: waiting for EOF
};

absl::StatusOr<std::unique_ptr<HandshakeServer>> HandshakeServer::Create(
    HandshakeServerOptions options, HandshakeHandler& handler) {
  const std::string where = absl::StrCat(options.address, ":", options.port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.address.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("handshake address '", options.address,
                                                   "' is not an IPv4 address; use e.g. 0.0.0.0"));
  }
  if (options.max_clients == 0 || options.max_line_bytes == 0) {
    return absl::InvalidArgumentError("handshake server needs max_clients and max_line_bytes > 0");
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create a TCP socket: ", std::strerror(errno)));
  }
  // A restarted collector must not wait out TIME_WAIT of its last run.
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0) {
    const int err = errno;
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot listen for queue-pair handshakes on ", where, ": ", std::strerror(err),
        err == EADDRINUSE ? "; is another softfino-collector running? Choose another port" : ""));
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<HandshakeServer>(
      new HandshakeServer(std::move(options), handler, fd, ntohs(addr.sin_port)));
}

HandshakeServer::HandshakeServer(HandshakeServerOptions options, HandshakeHandler& handler,
                                 int listen_fd, uint16_t port)
    : options_(std::move(options)), handler_(handler), listen_fd_(listen_fd), port_(port) {}

HandshakeServer::~HandshakeServer() {
  while (!clients_.empty()) Close(clients_.size() - 1, false);
  close(listen_fd_);
}

void HandshakeServer::Poll() {
  std::vector<pollfd>& fds = pollfds_;  // reused: a steady state allocates nothing
  fds.clear();
  fds.push_back({listen_fd_, POLLIN, 0});
  for (const auto& c : clients_) {
    const bool writing = c->answered && !c->finished;
    fds.push_back({c->fd, static_cast<short>(writing ? POLLOUT : POLLIN), 0});
  }
  if (poll(fds.data(), fds.size(), 0) < 0) return;  // EINTR: next time

  const Clock::time_point now = Clock::now();
  // Backwards, so that Close (which erases) leaves the indexes still to
  // visit alone.
  for (size_t i = clients_.size(); i-- > 0;) {
    Client& c = *clients_[i];
    const short revents = fds[i + 1].revents;
    const bool readable = (revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    bool keep = (revents & POLLNVAL) == 0;
    if (keep && readable && !c.answered) keep = Read(c);
    if (keep && readable && c.finished) keep = Drain(c);
    // Written in the same poll it was answered in: the reply almost always
    // fits the socket buffer at once.
    if (keep && c.answered && !c.finished) keep = Write(c);
    if (keep && c.answered && !c.finished && c.sent == c.out.size()) {
      if (c.reply) ++stats_.connected;
      c.reply.reset();  // delivered: nothing to abandon
      // Not close() yet: closing with unread input (the rest of an oversize
      // line, say) resets the connection, and a reset may overtake the
      // reply. Half-close, and wait for the client to hang up.
      shutdown(c.fd, SHUT_WR);
      c.finished = true;
      c.deadline = now + std::min<Clock::duration>(kLinger, options_.client_timeout);
    }
    if (!keep) {
      Close(i, false);
    } else if (now >= c.deadline) {
      Close(i, !c.finished);
    }
  }
  if (fds[0].revents & POLLIN) Accept(now);
}

void HandshakeServer::Accept(Clock::time_point now) {
  // A few per poll: a burst of connections waits in the backlog instead of
  // taking the main loop's time.
  for (int k = 0; k < 8; ++k) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of descriptors: next poll
    ++stats_.connections;
    if (clients_.size() >= options_.max_clients) {
      ++stats_.too_many;
      const std::string line = ErrorLine(absl::StrCat(
          "collector busy: ", clients_.size(), " handshakes in progress; try again in a moment"));
      [[maybe_unused]] ssize_t ignored = send(fd, line.data(), line.size(), MSG_NOSIGNAL);
      close(fd);
      continue;
    }
    clients_.push_back(std::make_unique<Client>(fd, now + options_.client_timeout));
  }
}

bool HandshakeServer::Read(Client& c) {
  const size_t cap = options_.max_line_bytes + 1;  // a whole line and its '\n'
  const size_t old_size = c.in.size();
  c.in.resize(cap);
  const ssize_t got = recv(c.fd, c.in.data() + old_size, cap - old_size, MSG_DONTWAIT);
  const int err = errno;
  c.in.resize(old_size + (got > 0 ? static_cast<size_t>(got) : 0));
  if (got < 0) return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
  if (got == 0) {
    // The client finished sending without a newline: take what it sent as
    // the line; with nothing sent, there is no one to answer.
    if (c.in.empty()) return false;
    Answer(c, c.in);
    return true;
  }
  const size_t newline = c.in.find('\n', old_size);
  if (newline != std::string::npos) {
    Answer(c, absl::string_view(c.in).substr(0, newline));
  } else if (c.in.size() > options_.max_line_bytes) {
    ++stats_.refused;
    c.answered = true;
    c.out = ErrorLine(absl::StrCat("hello longer than ", options_.max_line_bytes,
                                   " bytes; send one JSON object on one line"));
  }
  return true;
}

void HandshakeServer::Answer(Client& c, absl::string_view line) {
  c.answered = true;
  line = absl::StripAsciiWhitespace(line);  // "\r\n" from telnet
  const json request = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (request.is_object() && request.contains("query")) {
    ++stats_.queries;
    absl::StatusOr<json> answer =
        options_.query ? options_.query(request["query"])
                       : absl::UnimplementedError("this collector answers no queries");
    c.out = answer.ok() ? answer->dump() + "\n" : ErrorLine(answer.status().message());
    return;
  }
  if (request.is_object() && request.size() == 1) {
    const auto handler = options_.requests.find(request.begin().key());
    if (handler != options_.requests.end()) {
      ++stats_.queries;
      absl::StatusOr<json> answer = handler->second(request.begin().value());
      c.out = answer.ok() ? answer->dump() + "\n" : ErrorLine(answer.status().message());
      return;
    }
  }
  absl::StatusOr<QpParams> reply;
  if (request.is_discarded()) {
    reply = absl::InvalidArgumentError(
        absl::StrCat("the hello is not JSON; send one JSON object on one line, e.g. "
                     "{\"version\": ",
                     kHandshakeVersion,
                     ", \"qpn\": 17, \"psn\": 0, \"mac\": \"02:00:00:00:00:01\", \"ip\": "
                     "\"10.0.0.1\", \"region\": \"dta.keywrite\"}"));
  } else {
    absl::StatusOr<QpParams> hello = QpParamsFromJson(request, QpRole::kRequester);
    if (!hello.ok()) {
      reply = absl::InvalidArgumentError(absl::StrCat("bad hello: ", hello.status().message()));
    } else {
      reply = handler_.Accept(*hello);
      if (reply.ok()) {
        // The handler is ours, but what goes on the wire must be checked
        // like what comes in.
        if (absl::Status s = ValidateQpParams(*reply, QpRole::kResponder); !s.ok()) {
          handler_.Abandon(*reply);
          reply = absl::InternalError(absl::StrCat(
              "the collector produced a bad reply (a bug; please report it): ", s.message()));
        }
      }
    }
  }
  if (!reply.ok()) {
    ++stats_.refused;
    c.out = ErrorLine(reply.status().message());
    return;
  }
  c.out = QpParamsToJson(*reply, QpRole::kResponder).dump() + "\n";
  c.reply = std::move(*reply);
}

bool HandshakeServer::Drain(Client& c) {
  char discard[4096];
  for (int k = 0; k < 4; ++k) {  // bounded: a client may send for ever
    const ssize_t n = recv(c.fd, discard, sizeof(discard), MSG_DONTWAIT);
    if (n == 0) return false;  // it hung up: done
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
  return true;
}

bool HandshakeServer::Write(Client& c) {
  if (c.sent == c.out.size()) return true;
  const ssize_t n =
      send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  c.sent += static_cast<size_t>(n);
  return true;
}

void HandshakeServer::Close(size_t index, bool expired) {
  Client& c = *clients_[index];
  if (expired) {
    ++stats_.timed_out;
    if (!c.answered) {
      // Best effort: a client that is listening learns why.
      const std::string line =
          ErrorLine(absl::StrCat("no hello within ", options_.client_timeout.count(),
                                 " ms; send one JSON line right after connecting"));
      [[maybe_unused]] ssize_t ignored =
          send(c.fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  }
  if (c.reply) {
    ++stats_.abandoned;
    handler_.Abandon(*c.reply);
  }
  clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(index));
}

// ----------------------------------------------------------------- client

namespace {

// One JSON line to the collector's handshake port and its one-line JSON
// reply, within `timeout` in all. An {"error": ...} reply is an error.
absl::StatusOr<json> ExchangeLine(absl::string_view host, uint16_t port, const json& request,
                                  std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const std::string where = absl::StrCat("collector at ", host, ":", port);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string host_text(host);
  if (const int rc = getaddrinfo(host_text.c_str(), nullptr, &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve the collector's address '", host, "': ", gai_strerror(rc)));
  }
  sockaddr_in addr = *reinterpret_cast<const sockaddr_in*>(found->ai_addr);
  freeaddrinfo(found);
  addr.sin_port = htons(port);

  const Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return absl::InternalError(absl::StrCat("cannot create a TCP socket: ", std::strerror(errno)));
  }
  const auto unreachable = [&](int err) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to the ", where, " (", std::strerror(err),
        "); is softfino-collector running there with its handshake on port ", port, "?"));
  };
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) return unreachable(errno);
    if (!WaitFor(fd.get(), POLLOUT, deadline)) {
      return absl::DeadlineExceededError(
          absl::StrCat("the ", where, " did not accept a connection within ", timeout.count(),
                       " ms; check the address and that the port is open"));
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return unreachable(err);
  }

  const std::string line = request.dump() + "\n";
  const auto no_reply = [&] {
    return absl::DeadlineExceededError(absl::StrCat("the ", where, " sent no reply within ",
                                                    timeout.count(), " ms; is it overloaded?"));
  };
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!WaitFor(fd.get(), POLLOUT, deadline)) return no_reply();
    } else {
      return absl::UnavailableError(absl::StrCat("the ", where, " closed the connection (",
                                                 std::strerror(errno), ") before the request"));
    }
  }

  std::string in;
  char buf[4096];
  for (;;) {
    if (in.find('\n') != std::string::npos) break;
    if (in.size() > kMaxReplyBytes) {
      return absl::DataLossError(absl::StrCat("the ", where, " sent more than ", kMaxReplyBytes,
                                              " bytes without a newline; is it a collector?"));
    }
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      if (in.empty()) {
        return absl::UnavailableError(
            absl::StrCat("the ", where, " closed the connection without a reply"));
      }
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!WaitFor(fd.get(), POLLIN, deadline)) return no_reply();
    } else {
      return absl::UnavailableError(
          absl::StrCat("reading the ", where, "'s reply: ", std::strerror(errno)));
    }
  }
  const absl::string_view reply_line =
      absl::StripAsciiWhitespace(absl::string_view(in).substr(0, in.find('\n')));
  const json reply = json::parse(reply_line.begin(), reply_line.end(), nullptr, false);
  if (reply.is_discarded()) {
    return absl::DataLossError(absl::StrCat("the ", where, " sent a reply that is not JSON ('",
                                            reply_line.substr(0, 64), "'); is it a collector?"));
  }
  if (reply.is_object() && reply.contains("error")) {
    const json& error = reply["error"];
    return absl::FailedPreconditionError(absl::StrCat(
        where, " refused: ", error.is_string() ? error.get<std::string>() : error.dump()));
  }
  return reply;
}

}  // namespace

absl::StatusOr<nlohmann::json> CollectorRequest(absl::string_view host, uint16_t port,
                                                const nlohmann::json& request,
                                                std::chrono::milliseconds timeout) {
  return ExchangeLine(host, port, request, timeout);
}

absl::StatusOr<QpParams> RequestQueuePair(absl::string_view host, uint16_t port,
                                          const QpParams& hello,
                                          std::chrono::milliseconds timeout) {
  const std::string where = absl::StrCat("collector at ", host, ":", port);
  if (absl::Status s = ValidateQpParams(hello, QpRole::kRequester); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("hello for the ", where, ": ", s.message()));
  }
  absl::StatusOr<json> reply = ExchangeLine(host, port, QpParamsToJson(hello, QpRole::kRequester), timeout);
  if (!reply.ok()) return reply.status();
  absl::StatusOr<QpParams> params = QpParamsFromJson(*reply, QpRole::kResponder);
  if (!params.ok()) {
    return absl::DataLossError(
        absl::StrCat("the ", where, " sent a bad reply: ", params.status().message()));
  }
  if (params->region != hello.region) {
    return absl::DataLossError(absl::StrCat("the ", where, " answered for region ", params->region,
                                            ", not the requested ", hello.region));
  }
  return params;
}

}  // namespace softfino::rdma
