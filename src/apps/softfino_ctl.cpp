// softfino-ctl: asks a running switch over its control socket.
//   softfino-ctl [--socket PATH | --file-prefix PREFIX] COMMAND [key=value ...]
//   softfino-ctl [--socket PATH | --file-prefix PREFIX] --raw '<json request>'
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "softfino/control/control_server.h"
#include "softfino/control/topology.h"
#include "softfino/control/courier_decoder.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct CtlOptions {
  std::string socket;
  std::string file_prefix = "rte";
  std::string switch_name;
  std::string raw;
  double timeout_s = 5;
  std::string command;
  std::vector<std::string> args;
};

constexpr char kFooter[] = R"(Commands (`softfino-ctl help` asks the switch for all of them):
  info                  pipeline, number of ports and pipes, clock mode, pid, uptime
  stats                 every counter (the same JSON as softfino --stats-json)
  ports [port=N]        per-port counters and traffic-manager settings
  pipes [pipe=N]        per-pipe counters
  queues [port=N] [qid=Q]  traffic-manager queues: enqueued, tail drops, depth
  drops                 dropped packets by reason
  help [command=NAME]   every command with its help
  table_add|table_modify table=T entry='{"key": ..., "action": ..., "data": ...}'
  table_delete table=T entry='{"key": {...}}'
  table_batch ops='[{"op": "add", "table": T, "entry": {...}}, ...]'   all or nothing
  table_dump [table=T] [counters=true]   entries as in the config file (counters=true:
                        with each entry's direct counter);  table_clear table=T
  table_counter_read table=T [entry='{"key": {...}}']   direct counters (packets, bytes)
                        of every entry of T, or of one; T must have a direct counter
  table_counter_clear table=T [entry='{"key": {...}}']  zeroes them
  register_list         the program's registers: name, size, width, pipes, initial
  register_read register=R [index=I | from=A to=B] [pipe=P]
                        cells, one value per pipe (registers are per pipe, as on
                        Tofino) or pipe P's; default every cell
  register_write register=R (index=I | from=A to=B) value=V [pipe=P]
                        every pipe, or pipe P; V must fit the register's width
  register_reset [register=R]   back to the initial value (all registers without R)
  counter_list          the program's indexed counters: name, size, type, pipes
  counter_read counter=C [index=I | from=A to=B] [pipe=P]   packets/bytes since the
                        last clear, summed over the pipes (or pipe P's)
  counter_clear counter=C [index=I | from=A to=B]
  mirror_add|mirror_modify session=S port=P [qid=Q] [max_len=L]   L truncates copies
  mirror_delete session=S;  mirror_list
  mcast_add|mcast_modify group=G members='[{"port": P, "rid": R}, ...]'
  mcast_delete group=G;  mcast_list
                        mirror sessions and multicast groups change while the switch
                        runs, published whole to the pipes (as table commits)
  trigger add "NAME: filter ... group ... every 10ms when ..." | trigger del NAME | trigger list
                        Trumpet's triggers (a program hosting Trumpet, e.g. l3fwd with a
                        "trumpet" config section); the same as trigger_add trigger=...
  events [since=SEQ] [follow=true]  the program's events (Trumpet triggers that fired,
                        idle_timeout of table entries with a TTL, ...);
                        follow=true streams them as JSON lines until the switch stops
  couriers pcap=FILE    offline, no switch needed: decodes BurstRadar courier packets in
                        a capture of the monitor port into JSON lines, one per courier
                        (pipelines/burstradar/README.md); a summary goes to stderr

Arguments are key=value; a value that parses as JSON is sent as that JSON
(port=1 sends the number 1, on=true a boolean, list=[1,2] an array), any
other value as a string (prefix=10.0.0.0/8). Quote JSON strings to force a
string: name='"1"'.

Protocol (what --raw sends): one JSON object per line,
  {"id": 1, "cmd": "ports", "args": {"port": 0}}
answered by one line,
  {"id": 1, "ok": true, "result": ...}  or  {"id": 1, "ok": false, "error": "..."}
The result is printed as indented JSON on stdout; an error goes to stderr as
"softfino-ctl: <error>".

Finding the switch: softfino serves its socket at --control-socket PATH, by
default at softfino.sock in DPDK's runtime folder for its --file-prefix
(/var/run/dpdk/<prefix>/ for root, $XDG_RUNTIME_DIR/dpdk/<prefix>/ or
/tmp/dpdk/<prefix>/ for other users). Give softfino-ctl the same --socket, or
the same --file-prefix (default "rte", as DPDK's), and with --switch NAME for
a switch of a softfino --topology. The socket is mode 0600:
run softfino-ctl as the user running the switch.

Examples:
  softfino-ctl info
  softfino-ctl --file-prefix sw1 ports port=1
  softfino-ctl --socket /run/sw.sock --raw '{"id": 7, "cmd": "queues", "args": {"port": 1}}'

Exit status: 0 on success; 1 when the switch answers with an error, cannot be
reached or does not answer in time.
)";

int Fail(absl::string_view message) {
  std::fprintf(stderr, "softfino-ctl: %.*s\n", static_cast<int>(message.size()), message.data());
  return 1;
}

// key=value words into the args object; returns an error message or "".
std::string ParseArgs(const std::vector<std::string>& words, json& args) {
  args = json::object();
  for (const std::string& word : words) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::StrCat("argument '", word, "' is not key=value (e.g. port=1)");
    }
    const std::string key = word.substr(0, eq);
    if (args.contains(key)) return absl::StrCat("argument '", key, "' is given twice");
    json value = json::parse(word.substr(eq + 1), nullptr, /*allow_exceptions=*/false);
    args[key] = value.is_discarded() ? json(word.substr(eq + 1)) : std::move(value);
  }
  return "";
}

// Connects to `path`; returns the socket, or -1 with `error` set to what the
// user should do about it.
int Connect(const std::string& path, const std::string& how_started, double timeout_s,
            std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    error = absl::StrCat("socket path ", path, " is longer than UNIX sockets allow (",
                         sizeof(addr.sun_path) - 1, " bytes)");
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = absl::StrCat("socket: ", std::strerror(errno));
    return -1;
  }
  // connect() to a listener whose backlog is full waits, up to this.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_s);
  tv.tv_usec = static_cast<suseconds_t>((timeout_s - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  const int err = errno;
  close(fd);
  switch (err) {
    case ENOENT:
      error = absl::StrCat("no switch at ", path, ": is softfino running with ", how_started, "?");
      break;
    case ECONNREFUSED:
      error = absl::StrCat("no switch at ", path,
                           ": the socket is left over from a switch that is not running; is "
                           "softfino running with ",
                           how_started, "?");
      break;
    case EACCES:
    case EPERM:
      error = absl::StrCat("permission denied on ", path,
                           ": the control socket is mode 0600; run softfino-ctl as the user "
                           "running the switch");
      break;
    case EAGAIN:
    case EINPROGRESS:
      error = absl::StrCat("the switch at ", path, " accepted no connection within ", timeout_s,
                           " s (is it stuck, or serving too many clients?)");
      break;
    default:
      error = absl::StrCat("cannot connect to ", path, ": ", std::strerror(err));
  }
  return -1;
}

// Sends `line` and reads one reply line, all within `timeout_s`.
bool Exchange(int fd, const std::string& path, const std::string& line, double timeout_s,
              std::string& reply, std::string& error) {
  const Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(timeout_s));
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    // The switch hung up mid-request (it refuses oversize requests so); its
    // reply, if any, says why, so read on.
    if (n < 0) break;
    sent += static_cast<size_t>(n);
  }
  char buf[4096];
  for (;;) {
    const size_t newline = reply.find('\n');
    if (newline != std::string::npos) {
      reply.resize(newline);
      return true;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd pfd{fd, POLLIN, 0};
    const int ready = left > 0 ? poll(&pfd, 1, static_cast<int>(left)) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      error = absl::StrCat("no reply from the switch at ", path, " within ", timeout_s, " s");
      return false;
    }
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!reply.empty()) return true;  // a last line without '\n'
      error = absl::StrCat("the switch at ", path, " closed the connection without replying");
      return false;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
}

// `couriers pcap=FILE`: decoded here, from a capture; the switch is not asked.
int DecodeCouriers(const json& args) {
  for (const auto& [key, value] : args.items()) {
    if (key != "pcap") {
      return Fail(absl::StrCat("couriers: unknown argument '", key, "'; give pcap=FILE"));
    }
  }
  if (!args.contains("pcap") || !args["pcap"].is_string()) {
    return Fail("couriers: give the monitor port's capture as pcap=FILE");
  }
  softfino::control::CourierDecodeStats stats;
  const absl::Status status = softfino::control::DecodeCourierPcap(
      args["pcap"].get<std::string>(),
      [](const json& courier) { std::printf("%s\n", courier.dump().c_str()); }, stats);
  std::fflush(stdout);
  if (!status.ok()) return Fail(status.message());
  std::fprintf(stderr,
               "softfino-ctl: %llu couriers in %llu frames (%llu other, %llu truncated; "
               "%llu entries missing between consecutive sequence numbers)\n",
               static_cast<unsigned long long>(stats.couriers),
               static_cast<unsigned long long>(stats.frames),
               static_cast<unsigned long long>(stats.other),
               static_cast<unsigned long long>(stats.truncated),
               static_cast<unsigned long long>(stats.seq_gaps));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app;
  CtlOptions o;
  app.name("softfino-ctl");
  app.description(
      "softfino-ctl: ask a running softfino switch over its control socket.\n\n"
      "  softfino-ctl [--socket PATH | --file-prefix PREFIX] COMMAND [key=value ...]\n"
      "  softfino-ctl [--socket PATH | --file-prefix PREFIX] --raw '<json request>'");
  app.footer(kFooter);
  auto* socket_opt = app.add_option("--socket", o.socket,
                                    "The switch's control socket (softfino --control-socket)");
  app.add_option("--file-prefix", o.file_prefix,
                 "Find the socket of the switch started with this DPDK --file-prefix")
      ->default_val("rte")
      ->excludes(socket_opt);
  app.add_option("--switch", o.switch_name,
                 "In a softfino --topology, the switch of this name (its socket is "
                 "softfino-NAME.sock beside the default one)")
      ->excludes(socket_opt);
  auto* raw_opt = app.add_option(
      "--raw", o.raw, "Send this request line as it is and print the result of its reply");
  app.add_option("--timeout", o.timeout_s, "Seconds to wait for the switch's reply")
      ->default_val(5)
      ->check(CLI::Range(0.001, 3600.0));
  auto* command_opt =
      app.add_option("command", o.command, "The command (see below; `help` lists them all)")
          ->excludes(raw_opt);
  app.add_option("args", o.args, "The command's arguments, key=value")->needs(command_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.raw.empty() && o.command.empty()) {
    return Fail(
        "give a COMMAND (e.g. info, or help for the list) or --raw; see softfino-ctl --help");
  }

  if (o.command == "couriers") {
    json args;
    if (std::string error = ParseArgs(o.args, args); !error.empty()) return Fail(error);
    return DecodeCouriers(args);
  }

  // `trigger add TEXT | del NAME | list`: the trigger_* commands, with the
  // trigger as one word as users write it.
  if (o.command == "trigger") {
    const std::string verb = o.args.empty() ? "" : o.args[0];
    const std::string rest = o.args.size() > 1 ? absl::StrJoin(o.args.begin() + 1, o.args.end(), " ") : "";
    if (verb == "add" && !rest.empty()) {
      o.command = "trigger_add";
      o.args = {"trigger=" + json(rest).dump()};
    } else if (verb == "del" && !rest.empty()) {
      o.command = "trigger_del";
      o.args = {"name=" + json(rest).dump()};
    } else if (verb == "list" && rest.empty()) {
      o.command = "trigger_list";
      o.args = {};
    } else {
      return Fail("trigger: use 'trigger add \"NAME: filter ... group ... every 10ms when ...\"', "
                  "'trigger del NAME' or 'trigger list'");
    }
  }

  std::string line;
  json args;
  if (!o.raw.empty()) {
    // A request that parses travels compacted onto one line; one that does
    // not travels as given (on one line) so the switch can say what is wrong.
    const json request = json::parse(o.raw, nullptr, /*allow_exceptions=*/false);
    line = request.is_discarded() ? absl::StrReplaceAll(o.raw, {{"\n", " "}, {"\r", " "}})
                                  : request.dump();
  } else {
    if (std::string error = ParseArgs(o.args, args); !error.empty()) return Fail(error);
    line = json{{"id", getpid()}, {"cmd", o.command}, {"args", args}}.dump();
  }
  line += '\n';

  const bool by_prefix = o.socket.empty();
  const std::string path = by_prefix
                               ? absl::StrCat(softfino::control::DpdkRuntimeDir(o.file_prefix), "/",
                                              o.switch_name.empty()
                                                  ? std::string(softfino::control::kControlSocketName)
                                                  : softfino::control::TopologySocketName(o.switch_name))
                               : o.socket;
  const std::string how_started =
      by_prefix ? absl::StrCat("--file-prefix ", o.file_prefix,
                               " and its default control socket (or give --socket PATH)")
                : absl::StrCat("--control-socket ", path);
  // One request, one reply object (or an error for the user).
  const auto ask = [&](const std::string& request, json& reply, std::string& error) {
    const int fd = Connect(path, how_started, o.timeout_s, error);
    if (fd < 0) return false;
    std::string text;
    const bool answered = Exchange(fd, path, request, o.timeout_s, text, error);
    close(fd);
    if (!answered) return false;
    reply = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (reply.is_discarded() || !reply.is_object() || !reply.contains("ok")) {
      error = absl::StrCat("the switch at ", path,
                           " sent something that is not a reply: ", text.substr(0, 200));
      return false;
    }
    if (reply["ok"] != true) {
      const json& message = reply.contains("error") ? reply["error"] : reply;
      error = message.is_string() ? message.get<std::string>() : message.dump();
      return false;
    }
    return true;
  };

  // `events follow=true`: stream them as JSON lines until the switch stops.
  if (o.command == "events" && args.value("follow", false) == true) {
    args.erase("follow");
    uint64_t since = args.value("since", uint64_t{0});
    for (bool first = true;; first = false) {
      args["since"] = since;
      json reply;
      std::string error;
      if (!ask(json{{"id", getpid()}, {"cmd", "events"}, {"args", args}}.dump() + "\n", reply, error)) {
        // The switch went away after we followed it: the stream ends there.
        if (!first) return 0;
        return Fail(error);
      }
      const json& result = reply["result"];
      for (const json& e : result["events"]) std::printf("%s\n", e.dump().c_str());
      std::fflush(stdout);
      if (result.value("missed", 0) > 0) {
        std::fprintf(stderr, "softfino-ctl: %llu events left the switch's backlog unread\n",
                     static_cast<unsigned long long>(result["missed"].get<uint64_t>()));
      }
      since = result["next"].get<uint64_t>();
      if (result["events"].empty()) usleep(100'000);
    }
  }

  json reply;
  std::string error;
  if (!ask(line, reply, error)) return Fail(error);
  const json& result = reply.contains("result") ? reply["result"] : json();
  std::printf("%s\n", result.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  return 0;
}
