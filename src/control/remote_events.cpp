#include "softfino/control/remote_events.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace softfino::control {

using nlohmann::json;

namespace {

// How long to wait between asks when the other switch had nothing more.
constexpr auto kAskEvery = std::chrono::milliseconds(10);
constexpr auto kRetryEvery = std::chrono::seconds(1);

}  // namespace

absl::StatusOr<RemoteEventSource> RemoteEventSource::Parse(absl::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == spec.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--events-from ", spec, ": expected NAME=SOCKET, e.g. sw2=/var/run/dpdk/sw2/softfino.sock"));
  }
  const std::string path(spec.substr(eq + 1));
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("--events-from ", spec, ": the socket path is longer than ",
                                                   sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  return RemoteEventSource(std::string(spec.substr(0, eq)), path);
}

RemoteEventSource::RemoteEventSource(RemoteEventSource&& o) noexcept
    : name_(std::move(o.name_)),
      path_(std::move(o.path_)),
      fd_(o.fd_),
      asked_(o.asked_),
      out_(std::move(o.out_)),
      in_(std::move(o.in_)),
      since_(o.since_),
      next_try_(o.next_try_),
      next_ask_(o.next_ask_),
      down_logged_(o.down_logged_),
      counts_(o.counts_),
      last_error_(std::move(o.last_error_)) {
  o.fd_ = -1;
}

RemoteEventSource::~RemoteEventSource() {
  if (fd_ >= 0) close(fd_);
}

void RemoteEventSource::Connect(Clock::time_point now) {
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (fd_ < 0 || connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const std::string why = strerror(errno);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    next_try_ = now + kRetryEvery;
    last_error_ = why;
    if (!down_logged_) {
      std::fprintf(stderr, "softfino: events from %s: cannot reach %s (%s); retrying every second\n",
                   name_.c_str(), path_.c_str(), why.c_str());
      down_logged_ = true;
      ++counts_.outages;
    }
    return;
  }
  if (down_logged_) {
    std::fprintf(stderr, "softfino: events from %s: connected to %s\n", name_.c_str(), path_.c_str());
  }
  down_logged_ = false;
  ++counts_.connects;
  asked_ = false;
  next_ask_ = now;
}

void RemoteEventSource::Disconnect(Clock::time_point now, absl::string_view why) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  asked_ = false;
  out_.clear();
  in_.clear();
  last_error_ = std::string(why);
  next_try_ = now + kRetryEvery;
  std::fprintf(stderr, "softfino: events from %s: %.*s; retrying every second\n", name_.c_str(),
               static_cast<int>(why.size()), why.data());
  down_logged_ = true;
  ++counts_.outages;
}

void RemoteEventSource::Answer(const std::string& line,
                               const std::function<void(json)>& emit, Clock::time_point now) {
  json reply = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object() || !reply.value("ok", false) || !reply.contains("result") ||
      !reply["result"].is_object() || !reply["result"].contains("events") ||
      !reply["result"]["events"].is_array()) {
    ++counts_.errors;
    const std::string error = reply.is_object() && reply.contains("error") && reply["error"].is_string()
                                  ? reply["error"].get<std::string>()
                                  : "an answer that is not an events result";
    // Not an events source (e.g. another kind of program): ask again later.
    last_error_ = error;
    next_ask_ = now + kRetryEvery;
    return;
  }
  json& result = reply["result"];
  // The other switch numbers its events from 0 again when it restarts.
  if (const uint64_t total = result.value("total", since_); total < since_) {
    std::fprintf(stderr, "softfino: events from %s: the switch restarted; reading from its first event\n",
                 name_.c_str());
    since_ = 0;
    ++counts_.restarts;
    next_ask_ = now;
    return;
  }
  uint64_t got = 0;
  for (json& e : result["events"]) {
    if (!e.is_object()) continue;
    if (e.contains("seq")) {
      e["switch_seq"] = e["seq"];
      e.erase("seq");
    }
    e["switch"] = name_;
    emit(std::move(e));
    ++got;
  }
  counts_.events += got;
  counts_.missed += result.value("missed", uint64_t{0});
  since_ = result.value("next", since_ + got);
  // A full answer means more are waiting: ask again at once.
  next_ask_ = got >= kMaxPerAsk ? now : now + kAskEvery;
}

void RemoteEventSource::Poll(Clock::time_point now, const std::function<void(json)>& emit) {
  if (fd_ < 0) {
    if (now < next_try_) return;
    Connect(now);
    if (fd_ < 0) return;
  }
  if (!asked_ && now >= next_ask_) {
    out_ = json{{"id", counts_.connects},
                {"cmd", "events"},
                {"args", {{"since", since_}, {"max", kMaxPerAsk}}}}
               .dump() +
           "\n";
    asked_ = true;
  }
  while (!out_.empty()) {
    const ssize_t n = send(fd_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      out_.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    return Disconnect(now, absl::StrCat("writing: ", strerror(errno)));
  }
  if (!asked_) return;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) return Disconnect(now, "the switch closed the socket");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return Disconnect(now, absl::StrCat("reading: ", strerror(errno)));
    }
    in_.append(buf, static_cast<size_t>(n));
    if (const size_t end = in_.find('\n'); end != std::string::npos) {
      const std::string line = in_.substr(0, end);
      in_.erase(0, end + 1);
      asked_ = false;
      Answer(line, emit, now);
      return;
    }
    if (in_.size() > kMaxAnswerBytes) return Disconnect(now, "an answer over 16 MiB");
  }
}

json RemoteEventSource::Status() const {
  return json{{"switch", name_},     {"socket", path_},
              {"connected", fd_ >= 0}, {"events", counts_.events},
              {"missed", counts_.missed}, {"connects", counts_.connects},
              {"outages", counts_.outages}, {"restarts", counts_.restarts},
              {"errors", counts_.errors},
              {"next", since_},       {"last_error", last_error_}};
}

}  // namespace softfino::control
