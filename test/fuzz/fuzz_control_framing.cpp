// The control socket's line framing (control/control_server.h): a client
// connects to a real ControlServer over a UNIX socket and sends the input
// in pieces (fuzz_util.h Chunks: each chunk is one write, followed by one
// Poll), then closes its sending side and reads until the server closes.
// Small limits (200-byte requests, 4 requests per poll) so the fuzzer
// reaches the over-long line and the per-poll budget.
//
// Invariants: the server answers exactly one line per non-blank request
// line, in order, each valid JSON with "ok"; a line longer than the limit
// gets one error and the connection is closed after the replies before it;
// the server never hangs (it closes within a bounded number of polls).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "softfino/control/command_registry.h"
#include "softfino/control/control_server.h"
#include "test/fuzz/fuzz_util.h"

namespace control = softfino::control;
using nlohmann::json;

namespace {

constexpr size_t kMaxRequest = 200;

struct Server {
  control::CommandRegistry registry;
  std::unique_ptr<control::ControlServer> server;
};

Server& TheServer() {
  static Server* s = [] {
    auto* srv = new Server;
    FUZZ_CHECK(srv->registry
                   .Register("echo", "Returns its args.",
                             [](const json& args) -> absl::StatusOr<json> { return args; })
                   .ok());
    control::ControlServerOptions o;
    o.path = "/tmp/softfino-fuzz-" + std::to_string(getpid()) + "/ctl.sock";
    o.max_request_bytes = kMaxRequest;
    o.max_requests_per_poll = 4;
    o.request_budget = std::chrono::microseconds(1'000'000);
    o.linger = std::chrono::milliseconds(5000);
    auto server = control::ControlServer::Create(srv->registry, o);
    FUZZ_CHECK(server.ok());
    srv->server = *std::move(server);
    // The server removes its socket file when it goes; then its folder.
    std::atexit([] {
      const std::string dir = "/tmp/softfino-fuzz-" + std::to_string(getpid());
      TheServer().server.reset();
      rmdir(dir.c_str());
    });
    return srv;
  }();
  return *s;
}

// What the server must answer: replies for the non-blank lines, and
// whether a too-long line ends the connection (with one more reply).
size_t ExpectedReplies(const std::string& sent, bool* overflow) {
  size_t replies = 0;
  *overflow = false;
  for (absl::string_view line : absl::StrSplit(sent, '\n')) {
    if (line.size() > kMaxRequest) {
      *overflow = true;
      return replies + 1;
    }
    if (!absl::StripAsciiWhitespace(line).empty()) ++replies;
  }
  return replies;
}

// Reads what is there; false once the server closed the connection.
bool Drain(int fd, std::string& got) {
  char buf[4096];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNRESET);
    return errno != ECONNRESET;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Server& s = TheServer();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", s.server->path().c_str());
  FUZZ_CHECK(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);

  std::string sent, got;
  bool open = true;
  softfino::fuzz::Chunks chunks(data, size);
  while (auto chunk = chunks.Next()) {
    if (!open) break;
    if (!chunk->empty()) {
      const ssize_t n = send(fd, chunk->data(), chunk->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent.append(reinterpret_cast<const char*>(chunk->data()), static_cast<size_t>(n));
    }
    s.server->Poll();
    open = Drain(fd, got);
  }
  shutdown(fd, SHUT_WR);
  // Closing our side makes the server answer the rest and hang up.
  for (int polls = 0; open; ++polls) {
    FUZZ_CHECK(polls < 10000);
    s.server->Poll();
    open = Drain(fd, got);
  }
  close(fd);
  s.server->Poll();
  FUZZ_CHECK(s.server->client_count() == 0);

  // A last line without '\n' is answered at the end, as if it had one.
  bool overflow = false;
  const size_t want = ExpectedReplies(sent, &overflow);
  size_t replies = 0;
  for (absl::string_view line : absl::StrSplit(got, '\n', absl::SkipEmpty())) {
    const json r = json::parse(line, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(r.is_object() && r.contains("ok"));
    ++replies;
  }
  if (replies != want) {
    std::fprintf(stderr, "sent %zu bytes, %zu replies, want %zu (overflow %d)\n", sent.size(),
                 replies, want, overflow);
  }
  FUZZ_CHECK(replies == want);
  return 0;
}
