#include "softfino/control/control_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "softfino/control/config_file.h"

namespace softfino::control {
namespace {

// Deeper requests are refused before parsing: nlohmann::json's dump() recurses,
// and a 64 KiB line of '[' would otherwise nest 65536 levels on the slow
// path's stack. No command needs more than a few levels.
constexpr int kMaxNesting = 64;

std::string Errno(absl::string_view what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

std::string ErrorLine(const nlohmann::json& id, absl::string_view message) {
  return nlohmann::json{{"id", id}, {"ok", false}, {"error", std::string(message)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// True when brackets outside strings nest deeper than kMaxNesting.
bool TooDeep(absl::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// mkdir -p with mode 0700 for the folders it creates (existing ones are left
// as they are: they may be shared, like /tmp).
absl::Status MakeParentFolders(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string folder = path.substr(0, slash);
    if (mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          Errno(absl::StrCat("cannot create the control socket's folder ", folder)));
    }
  }
  return absl::OkStatus();
}

bool FillAddress(const std::string& path, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

// An existing file at the socket's path: a live switch (refuse), a socket
// left by one that died (remove it), or something else (refuse).
absl::Status ClearStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(Errno(absl::StrCat("cannot check ", path)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat(
        path, " exists and is not a socket; remove it or choose another --control-socket"));
  }
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return absl::InternalError(Errno("socket"));
  const int rc = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(probe);
  // EAGAIN: a listener whose backlog is full, which is just as alive.
  if (rc == 0 || err == EAGAIN) {
    return absl::AlreadyExistsError(
        absl::StrCat("a running switch already serves the control socket ", path,
                     "; stop it, or give this one its own --control-socket (or --file-prefix)"));
  }
  if (err != ECONNREFUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot tell whether a switch serves ", path, " (", std::strerror(err),
                     "); remove the file if none does, or choose another --control-socket"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(
        Errno(absl::StrCat("cannot remove the stale control socket ", path)));
  }
  return absl::OkStatus();
}

}  // namespace

struct ControlServer::Client {
  explicit Client(int f) : fd(f) {}
  ~Client() { close(fd); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd;
  std::string in;   // received, not yet answered; at most max_request_bytes + 1
  std::string out;  // replies; out[0, out_sent) is already written
  size_t out_sent = 0;
  size_t scanned = 0;  // in[0, scanned) holds no '\n'
  bool closing =
      false;  // reads no more; closed once all is answered and written, or at `linger_end`
  Clock::time_point linger_end;
  // When its unread replies last went over the cap without it reading since;
  // zero while it keeps up.
  Clock::time_point stalled_since{};
  Clock::time_point last_heard;       // connected, or last sent us a byte
  Clock::time_point partial_since{};  // `in` holds only an unfinished line since; zero if not

  bool partial() const { return !in.empty() && scanned == in.size(); }

  size_t pending() const { return out.size() - out_sent; }
};

std::string DpdkRuntimeDir(absl::string_view file_prefix) {
  const char* base = "/var/run";
  if (getuid() != 0) {
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    base = xdg != nullptr ? xdg : "/tmp";
  }
  return absl::StrCat(base, "/dpdk/", file_prefix);
}

std::string ReplyToLine(const CommandRegistry& registry, absl::string_view line) {
  if (TooDeep(line)) {
    return ErrorLine(nullptr, absl::StrCat("the request nests more than ", kMaxNesting,
                                           " levels of [] and {}; no command needs that many"));
  }
  nlohmann::json request;
  try {
    request = nlohmann::json::parse(line.begin(), line.end());
  } catch (const nlohmann::json::exception& e) {
    return ErrorLine(nullptr, absl::StrCat("the request is not valid JSON (", DescribeJsonError(e),
                                           "); send one JSON object per line, e.g. "
                                           "{\"id\": 1, \"cmd\": \"help\"}"));
  }
  return registry.Dispatch(request).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Create(
    const CommandRegistry& registry, ControlServerOptions options) {
  const std::string& path = options.path;
  sockaddr_un addr;
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "--control-socket '", path, "' must be an absolute path, e.g. /run/softfino/ctl.sock"));
  }
  if (!FillAddress(path, addr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--control-socket ", path, " is ", path.size(), " bytes long; UNIX sockets allow at most ",
        sizeof(addr.sun_path) - 1, ": choose a shorter path"));
  }
  if (absl::Status s = MakeParentFolders(path); !s.ok()) return s;
  if (absl::Status s = ClearStaleSocket(path, addr); !s.ok()) return s;

  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(Errno("cannot create the control socket"));
  // The file must never exist with a wider mode than 0600, not even between
  // bind() and a chmod(). Linux gives the new file the socket's own mode, so
  // narrow that first (thread-safe); the umask, which POSIX documents for
  // this, is narrowed too for the duration of bind(). The umask is
  // process-wide, but the only other threads (DPDK's) create no files now,
  // and it can only narrow what they would create.
  fchmod(fd, S_IRUSR | S_IWUSR);
  const mode_t old_mask = umask(S_IXUSR | S_IRWXG | S_IRWXO);
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  umask(old_mask);
  if (bound != 0) {
    close(fd);
    errno = bind_errno;
    return absl::FailedPreconditionError(
        Errno(absl::StrCat("cannot bind the control socket ", path)));
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0 || (st.st_mode & 07777) != (S_IRUSR | S_IWUSR) ||
      st.st_uid != geteuid()) {
    close(fd);
    unlink(path.c_str());
    return absl::FailedPreconditionError(absl::StrCat(
        "the control socket ", path,
        " did not come out as mode 0600 owned by this user; "
        "is the folder on a file system that ignores modes? Choose another --control-socket"));
  }
  if (listen(fd, 16) != 0) {
    const std::string message = Errno(absl::StrCat("cannot listen on ", path));
    close(fd);
    unlink(path.c_str());
    return absl::InternalError(message);
  }
  return std::unique_ptr<ControlServer>(
      new ControlServer(registry, std::move(options), fd, st.st_dev, st.st_ino));
}

ControlServer::ControlServer(const CommandRegistry& registry, ControlServerOptions options,
                             int listen_fd, dev_t dev, ino_t ino)
    : registry_(registry),
      options_(std::move(options)),
      listen_fd_(listen_fd),
      dev_(dev),
      ino_(ino) {}

ControlServer::~ControlServer() {
  clients_.clear();
  close(listen_fd_);
  // Another switch may have taken the path over since (after we were judged
  // stale, say); its socket is not ours to remove.
  struct stat st {};
  if (lstat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    unlink(options_.path.c_str());
  }
}

void ControlServer::Poll() {
  std::vector<pollfd>& fds = pollfds_;  // reused: a steady state allocates nothing
  fds.clear();
  fds.push_back({listen_fd_, POLLIN, 0});
  for (const auto& c : clients_) {
    short events = c->closing ? 0 : POLLIN;
    if (c->pending() > 0) events |= POLLOUT;
    fds.push_back({c->fd, events, 0});
  }
  if (poll(fds.data(), fds.size(), 0) < 0) return;  // EINTR: next tick

  const Clock::time_point now = Clock::now();
  const Clock::time_point deadline = now + options_.request_budget;
  size_t budget = options_.max_requests_per_poll;
  const size_t n = clients_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (next_client_ + k) % n;
    Client& c = *clients_[i];
    const short revents = fds[i + 1].revents;
    bool keep = (revents & POLLNVAL) == 0;
    if (keep && !c.closing && (revents & (POLLIN | POLLHUP | POLLERR)) != 0) keep = Read(c);
    if (keep) keep = Answer(c, budget, deadline);
    if (keep && !c.closing && c.partial()) {
      if (c.partial_since == Clock::time_point{}) c.partial_since = now;
      if (now - c.partial_since >= options_.request_timeout) {
        CloseWithError(
            c, absl::StrCat("request line unfinished after ", options_.request_timeout.count(),
                            " ms; send each request as one line ending in '\\n' "
                            "(closing this connection)"));
      }
    }
    if (keep && c.pending() > 0) keep = Write(c);
    const bool done = c.in.empty() && c.pending() == 0;
    if (keep && c.closing && (done || now >= c.linger_end)) keep = false;
    if (keep && c.stalled_since != Clock::time_point{} &&
        now - c.stalled_since >= options_.output_stall) {
      keep = false;  // it stopped reading: its slot and buffers go to others
    }
    if (!keep) clients_[i].reset();
  }
  std::erase(clients_, nullptr);
  next_client_ = clients_.empty() ? 0 : (next_client_ + 1) % clients_.size();
  if (fds[0].revents & POLLIN) Accept();
}

void ControlServer::Accept() {
  // A few per poll: a burst of connections waits in the backlog instead of
  // taking the tick.
  for (int k = 0; k < 8; ++k) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of descriptors: try again next poll
    // The file's mode already keeps other users out; this holds even if
    // someone loosens it.
    ucred cred{};
    socklen_t len = sizeof(cred);
    std::string refusal;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != geteuid() && cred.uid != 0)) {
      refusal = "permission denied: only the user running the switch may use its control socket";
    } else if (clients_.size() >= options_.max_clients && !EvictIdle()) {
      refusal = absl::StrCat("too many control clients (", options_.max_clients,
                             " connected); close one and try again");
    }
    if (!refusal.empty()) {
      const std::string line = ErrorLine(nullptr, refusal) + "\n";
      [[maybe_unused]] ssize_t ignored = send(fd, line.data(), line.size(), MSG_NOSIGNAL);
      close(fd);
      continue;
    }
    clients_.push_back(std::make_unique<Client>(fd));
    clients_.back()->last_heard = Clock::now();
  }
}

bool ControlServer::EvictIdle() {
  const Clock::time_point now = Clock::now();
  auto oldest = clients_.end();
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    const Client& c = **it;
    if (c.closing || !c.in.empty() || c.pending() > 0 || now - c.last_heard < options_.idle_evict) {
      continue;
    }
    if (oldest == clients_.end() || c.last_heard < (*oldest)->last_heard) oldest = it;
  }
  if (oldest == clients_.end()) return false;
  const std::string line =
      ErrorLine(nullptr, absl::StrCat("closed to make room for another client: this one sent "
                                      "nothing for ",
                                      options_.idle_evict.count(), " ms while all ",
                                      options_.max_clients, " slots were taken")) +
      "\n";
  [[maybe_unused]] ssize_t ignored =
      send((*oldest)->fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  clients_.erase(oldest);
  return true;
}

void ControlServer::CloseWithError(Client& c, absl::string_view message) {
  c.in.clear();
  c.scanned = 0;
  c.partial_since = {};
  c.closing = true;
  c.linger_end = Clock::now() + options_.linger;
  c.out += ErrorLine(nullptr, message);
  c.out += '\n';
}

bool ControlServer::Read(Client& c) {
  const size_t cap = options_.max_request_bytes + 1;  // a full line and its '\n'
  if (c.in.size() >= cap) return true;  // full of complete lines waiting for an answer
  // Through one shared buffer, so a client's own buffer grows only with
  // what it actually sent.
  scratch_.resize(cap);
  const ssize_t got = read(c.fd, scratch_.data(), cap - c.in.size());
  if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (got == 0) {
    // The client is done sending (e.g. `echo ... | nc -U`); answer what it
    // sent, a last line without '\n' included, then close.
    if (!c.in.empty() && c.in.back() != '\n') c.in.push_back('\n');
    c.closing = true;
    c.linger_end = Clock::now() + options_.linger;
    return true;
  }
  c.in.append(scratch_.data(), static_cast<size_t>(got));
  c.last_heard = Clock::now();
  return true;
}

bool ControlServer::Answer(Client& c, size_t& budget, Clock::time_point deadline) {
  size_t start = 0;
  bool more_lines = true;  // false once `in` is known to hold no complete line
  while (budget > 0) {
    // At least one request per poll is always answered, however slow.
    if (budget < options_.max_requests_per_poll && Clock::now() >= deadline) break;
    // in[0, scanned) held no '\n' last time: a line trickling in byte by byte
    // is not searched again from its start on every poll.
    const size_t newline = c.in.find('\n', std::max(start, c.scanned));
    if (newline == std::string::npos) {
      more_lines = false;
      break;
    }
    // Past the cap on unread replies, its next requests wait until it reads:
    // answering them would let a client grow the switch's memory at will.
    if (c.pending() > options_.max_output_bytes) {
      if (!Write(c)) return false;
      if (c.pending() > options_.max_output_bytes) {
        if (c.stalled_since == Clock::time_point{}) c.stalled_since = Clock::now();
        break;
      }
    }
    absl::string_view line(c.in.data() + start, newline - start);
    start = newline + 1;
    line = absl::StripAsciiWhitespace(line);  // "\r\n" from telnet, blank lines
    if (line.empty()) continue;
    c.out += ReplyToLine(registry_, line);
    c.out += '\n';
    --budget;
  }
  if (start > 0) c.partial_since = {};  // a line ended: the next one starts its own clock
  c.in.erase(0, start);
  c.scanned = more_lines ? 0 : c.in.size();
  if (!more_lines && c.in.size() > options_.max_request_bytes) {
    // The rest of the line may still be on its way, so the connection cannot
    // find the start of the next request again: say why, and close it.
    CloseWithError(c, absl::StrCat("request longer than ", options_.max_request_bytes,
                                   " bytes; send one JSON request per line, each at "
                                   "most that long (closing this connection)"));
  }
  return true;
}

bool ControlServer::Write(Client& c) {
  const ssize_t sent =
      send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  c.out_sent += static_cast<size_t>(sent);
  if (sent > 0) c.stalled_since = {};
  if (c.out_sent == c.out.size()) {
    c.out.clear();
    c.out_sent = 0;
  } else if (c.out_sent >= 64 * 1024) {
    c.out.erase(0, c.out_sent);  // amortised: written bytes do not pile up either
    c.out_sent = 0;
  }
  return true;
}

}  // namespace softfino::control
