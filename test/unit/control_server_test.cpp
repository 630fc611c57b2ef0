// The control socket against real clients in-process: everything the switch
// does on its slow path, driven by calling Poll() as SlowPath::Tick() would.
#include "softfino/control/control_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace softfino::control {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// A client socket; -1 when connect() failed.
int Dial(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void Send(int fd, const std::string& text) {
  ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

ControlServerOptions Options(const std::function<void(ControlServerOptions&)>& set) {
  ControlServerOptions options;
  set(options);
  return options;
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/softfino-ctl-unit.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/sub/ctl.sock";
    ASSERT_TRUE(registry_
                    .Register("echo", "Returns its args.",
                              [](const json& args) -> absl::StatusOr<json> { return args; })
                    .ok());
    ASSERT_TRUE(
        registry_
            .Register("big", "Returns 8 KiB.",
                      [](const json&) -> absl::StatusOr<json> { return std::string(8192, 'x'); })
            .ok());
  }
  void TearDown() override {
    for (int fd : fds_) close(fd);
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start(ControlServerOptions options = {}) {
    options.path = path_;
    auto server = ControlServer::Create(registry_, std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  int Connect() {
    const int fd = Dial(path_);
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }
  // Polls the server (as the slow path's ticks do) until `done`, for at most 2 s.
  bool PollUntil(const std::function<bool()>& done) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < end) {
      server_->Poll();
      if (done()) return true;
      usleep(200);
    }
    return false;
  }
  // Polls until a whole line arrives on `fd`; "" on timeout or EOF.
  std::string ReadLine(int fd) {
    std::string line;
    char c;
    const bool got = PollUntil([&] {
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) return false;
        if (read(fd, &c, 1) != 1) return true;
        if (c == '\n') return true;
        line.push_back(c);
      }
    });
    return got ? line : "";
  }
  // True once the server has closed `fd` (EOF or reset, after any data).
  bool Closed(int fd) {
    return PollUntil([&] {
      char buf[4096];
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) return false;
      return read(fd, buf, sizeof(buf)) <= 0;
    });
  }
  json Ask(int fd, const std::string& line) {
    Send(fd, line + "\n");
    const std::string reply = ReadLine(fd);
    return reply.empty() ? json() : json::parse(reply);
  }

  std::string dir_, path_;
  CommandRegistry registry_;
  std::unique_ptr<ControlServer> server_;
  std::vector<int> fds_;
};

TEST_F(ControlServerTest, SocketIsPrivateAndRemovedAtExit) {
  Start();
  struct stat st {};
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, geteuid());
  ASSERT_EQ(lstat((dir_ + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);  // the folder it created
  server_.reset();
  EXPECT_NE(lstat(path_.c_str(), &st), 0);
}

TEST_F(ControlServerTest, AnswersRequestsInOrder) {
  Start();
  const int fd = Connect();
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Ask(fd, R"({"id": 1, "cmd": "echo", "args": {"a": 1}})"),
            json({{"id", 1}, {"ok", true}, {"result", {{"a", 1}}}}));
  // Pipelined in one write, with CRLF and a blank line between.
  Send(fd, "{\"id\": 2, \"cmd\": \"echo\"}\r\n\n{\"id\": 3, \"cmd\": \"nosuch\"}\n");
  EXPECT_EQ(json::parse(ReadLine(fd))["id"], 2);
  const json unknown = json::parse(ReadLine(fd));
  EXPECT_EQ(unknown["id"], 3);
  EXPECT_THAT(unknown["error"].get<std::string>(), HasSubstr("known commands: big, echo, help"));
}

TEST_F(ControlServerTest, MalformedJsonKeepsTheConnection) {
  Start();
  const int fd = Connect();
  EXPECT_THAT(Ask(fd, "{not json")["error"].get<std::string>(), HasSubstr("not valid JSON"));
  EXPECT_EQ(Ask(fd, R"({"id": 4, "cmd": "echo"})")["ok"], true);
}

TEST_F(ControlServerTest, OversizeRequestIsRefusedAndClosed) {
  Start();
  const int fd = Connect();
  const int other = Connect();
  const std::string huge = R"({"cmd": "echo", "args": {"pad": ")" + std::string(100 * 1024, 'x');
  // The server may hang up before all of it is sent; that is the point.
  [[maybe_unused]] const ssize_t sent = send(fd, huge.data(), huge.size(), MSG_NOSIGNAL);
  const std::string reply = ReadLine(fd);
  ASSERT_FALSE(reply.empty());
  EXPECT_THAT(json::parse(reply)["error"].get<std::string>(),
              HasSubstr("request longer than 65536 bytes"));
  EXPECT_TRUE(Closed(fd));
  EXPECT_EQ(Ask(other, R"({"id": 5, "cmd": "echo"})")["id"], 5);
}

TEST_F(ControlServerTest, RequestsBeforeAnOversizeOneAreAnswered) {
  Start(Options([](ControlServerOptions& o) { o.max_request_bytes = 100; }));
  const int fd = Connect();
  Send(fd, R"({"id": 6, "cmd": "echo"})"
           "\n" +
               std::string(200, 'y'));
  EXPECT_EQ(json::parse(ReadLine(fd))["id"], 6);
  EXPECT_THAT(ReadLine(fd), HasSubstr("request longer than 100 bytes"));
  EXPECT_TRUE(Closed(fd));
}

TEST_F(ControlServerTest, SilentAndHalfLineClientsDoNotStallOthers) {
  Start();
  const int silent = Connect();
  const int half = Connect();
  Send(half, R"({"id": 1, "cmd": )");
  ASSERT_GE(silent, 0);
  const int fd = Connect();
  EXPECT_EQ(Ask(fd, R"({"id": 7, "cmd": "echo"})")["id"], 7);
  EXPECT_EQ(server_->client_count(), 3u);
  // The half line completes later and is answered then.
  Send(half, R"("echo"})"
             "\n");
  EXPECT_EQ(json::parse(ReadLine(half))["id"], 1);
}

TEST_F(ControlServerTest, ClientThatNeverReadsIsDropped) {
  Start(Options([](ControlServerOptions& o) {
    o.max_output_bytes = 64 * 1024;
    o.output_stall = std::chrono::milliseconds(50);
  }));
  const int lazy = Connect();
  const int fd = Connect();
  ASSERT_TRUE(PollUntil([&] { return server_->client_count() == 2; }));
  // Far more replies (800 KB) than the kernel's socket buffers and the cap
  // hold: the server answers up to the cap, waits, then gives up on it.
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += "{\"cmd\": \"big\"}\n";
  Send(lazy, burst);
  // Meanwhile others are served.
  EXPECT_EQ(Ask(fd, R"({"id": 8, "cmd": "echo"})")["id"], 8);
  EXPECT_TRUE(PollUntil([&] { return server_->client_count() == 1; }));
  EXPECT_TRUE(Closed(lazy));
  EXPECT_EQ(Ask(fd, R"({"id": 9, "cmd": "echo"})")["id"], 9);
}

TEST_F(ControlServerTest, ClientThatPipelinesAndReadsIsServed) {
  // Replies far beyond the limit in total, but read as they come.
  Start(Options([](ControlServerOptions& o) { o.max_output_bytes = 16 * 1024; }));
  const int fd = Connect();
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += "{\"cmd\": \"big\"}\n";
  Send(fd, burst);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(json::parse(ReadLine(fd))["result"].get<std::string>().size(), 8192u) << i;
  }
  EXPECT_EQ(server_->client_count(), 1u);
}

TEST_F(ControlServerTest, ExtraClientsAreRefused) {
  Start(Options([](ControlServerOptions& o) { o.max_clients = 2; }));
  Connect();
  Connect();
  ASSERT_TRUE(PollUntil([&] { return server_->client_count() == 2; }));
  const int extra = Connect();
  ASSERT_GE(extra, 0);  // the kernel's backlog takes it; the server then says no
  EXPECT_THAT(ReadLine(extra), HasSubstr("too many control clients (2 connected)"));
  EXPECT_TRUE(Closed(extra));
  EXPECT_EQ(server_->client_count(), 2u);
}

// Slowloris: half a request, then nothing. The line's clock runs from its
// first byte; others are served meanwhile, and the stalled client is told
// and closed. A client that keeps finishing its lines is never timed out.
TEST_F(ControlServerTest, UnfinishedRequestLineTimesOut) {
  Start(Options([](ControlServerOptions& o) { o.request_timeout = std::chrono::milliseconds(300); }));
  const int stalled = Connect();
  const int busy = Connect();
  Send(stalled, R"({"id": 1, "cmd": "ec)");
  const auto begun = std::chrono::steady_clock::now();
  // `busy` sends a request every 100 ms for 600 ms, each line finished.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(Ask(busy, absl::StrCat(R"({"id": )", 10 + i, R"(, "cmd": "echo"})"))["id"], 10 + i);
    usleep(100000);
  }
  const std::string told = ReadLine(stalled);
  EXPECT_THAT(told, HasSubstr("request line unfinished after 300 ms"));
  EXPECT_TRUE(Closed(stalled));
  EXPECT_GE(std::chrono::steady_clock::now() - begun, std::chrono::milliseconds(300));
  EXPECT_EQ(Ask(busy, R"({"id": 99, "cmd": "echo"})")["id"], 99);
  EXPECT_EQ(server_->client_count(), 1u);
}

// Many connections that say nothing cannot lock others out: with every slot
// taken, a newcomer gets the slot of the one silent longest (past
// idle_evict); a client silent for less keeps its slot, and so does one
// that spoke recently.
TEST_F(ControlServerTest, IdleClientsGiveTheirSlotsToNewcomers) {
  Start(Options([](ControlServerOptions& o) {
    o.max_clients = 3;
    o.idle_evict = std::chrono::milliseconds(200);
  }));
  const int first = Connect();
  ASSERT_TRUE(PollUntil([&] { return server_->client_count() == 1; }));
  usleep(50000);
  const int second = Connect();
  const int talker = Connect();
  ASSERT_TRUE(PollUntil([&] { return server_->client_count() == 3; }));
  // Too early: all are recent, the newcomer is refused.
  const int early = Connect();
  EXPECT_THAT(ReadLine(early), HasSubstr("too many control clients (3 connected)"));
  usleep(250000);
  EXPECT_EQ(Ask(talker, R"({"id": 5, "cmd": "echo"})")["id"], 5);
  // Now `first` has been silent longest: it makes room, and says why.
  const int late = Connect();
  EXPECT_EQ(Ask(late, R"({"id": 6, "cmd": "echo"})")["id"], 6);
  EXPECT_THAT(ReadLine(first), HasSubstr("closed to make room for another client"));
  EXPECT_TRUE(Closed(first));
  // The next newcomer takes `second`'s slot; `talker`, which just spoke, stays.
  const int later = Connect();
  EXPECT_EQ(Ask(later, R"({"id": 7, "cmd": "echo"})")["id"], 7);
  EXPECT_TRUE(Closed(second));
  EXPECT_EQ(Ask(talker, R"({"id": 8, "cmd": "echo"})")["id"], 8);
  EXPECT_EQ(server_->client_count(), 3u);
}

TEST_F(ControlServerTest, LastLineWithoutNewlineIsAnsweredAtEof) {
  Start();
  const int fd = Connect();
  Send(fd, R"({"id": 9, "cmd": "echo"})");
  shutdown(fd, SHUT_WR);
  EXPECT_EQ(json::parse(ReadLine(fd))["id"], 9);
  EXPECT_TRUE(Closed(fd));
  EXPECT_TRUE(PollUntil([&] { return server_->client_count() == 0; }));
}

TEST_F(ControlServerTest, BoundedRequestsPerPoll) {
  Start(Options([](ControlServerOptions& o) { o.max_requests_per_poll = 1; }));
  const int fd = Connect();
  ASSERT_TRUE(PollUntil([&] { return server_->client_count() == 1; }));
  Send(fd, "{\"id\": 1, \"cmd\": \"echo\"}\n{\"id\": 2, \"cmd\": \"echo\"}\n");
  usleep(10000);  // both lines are in the server's socket now
  server_->Poll();
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) got.append(buf, n);
  EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 1);  // one answer this poll
  EXPECT_EQ(json::parse(ReadLine(fd))["id"], 2);           // the next on a later one
}

TEST_F(ControlServerTest, RefusesToStartBesideALiveServer) {
  Start();
  auto second = ControlServer::Create(registry_, {.path = path_});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("a running switch already serves the control socket " + path_));
  // And the first one still works.
  EXPECT_EQ(Ask(Connect(), R"({"id": 10, "cmd": "echo"})")["id"], 10);
}

TEST_F(ControlServerTest, ReplacesAStaleSocket) {
  ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0700), 0);
  {
    // A socket file with no listener: what a killed switch leaves.
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  Start();
  EXPECT_EQ(Ask(Connect(), R"({"id": 11, "cmd": "echo"})")["id"], 11);
}

TEST_F(ControlServerTest, RefusesToReplaceAFile) {
  ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0700), 0);
  std::ofstream(path_) << "not a socket\n";
  auto server = ControlServer::Create(registry_, {.path = path_});
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()),
              HasSubstr(path_ + " exists and is not a socket"));
}

TEST_F(ControlServerTest, RefusesBadPaths) {
  EXPECT_THAT(
      std::string(ControlServer::Create(registry_, {.path = "rel.sock"}).status().message()),
      HasSubstr("must be an absolute path"));
  EXPECT_THAT(
      std::string(ControlServer::Create(registry_, {.path = "/tmp/" + std::string(200, 'a')})
                      .status()
                      .message()),
      HasSubstr("UNIX sockets allow at most 107"));
}

TEST(DpdkRuntimeDirTest, FollowsEal) {
  if (getuid() == 0) {
    EXPECT_EQ(DpdkRuntimeDir("sw1"), "/var/run/dpdk/sw1");
  } else {
    EXPECT_THAT(DpdkRuntimeDir("sw1"), ::testing::EndsWith("/dpdk/sw1"));
  }
}

}  // namespace
}  // namespace softfino::control
