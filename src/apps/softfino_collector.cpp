// softfino-collector: hosts the memory that switches write into and read
// from over RoCEv2. `softfino-collector [EAL args] -- [app args]`.
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "softfino/control/collector.h"
#include "softfino/control/config_file.h"
#include "softfino/control/dta_queries.h"
#include "softfino/control/tea_requests.h"
#include "softfino/dta/layout.h"
#include "softfino/rdma/handshake.h"
#include "softfino/tea/layout.h"
#include "softfino/control/eal_args.h"
#include "softfino/control/signals.h"
#include "softfino/net/crc.h"

namespace {

using namespace softfino;

struct AppOptions {
  std::string backend = "soft";
  std::vector<std::string> regions;
  std::string listen = "0.0.0.0:18515";
  std::string ip;
  uint32_t mtu = 1024;
  std::string device;
  unsigned exit_when_idle_ms = 0;
  bool idle_sleep = false;
  std::string stats_json;
  std::vector<std::string> dumps;
  std::string dta_layout;
  std::vector<std::string> tea_tables;
};

struct QueryOptions {
  std::string dta_layout;
  std::string connect;
  std::vector<std::string> memory;
  std::vector<std::string> requests;
  std::string requests_file;
};

void DefineOptions(CLI::App& app, AppOptions& o) {
  app.name("softfino-collector [EAL args] --");
  app.description(
      "softfino-collector: memory for switches to write into and read from over RoCEv2\n"
      "(DTA's collector structures, TEA's tables). Switches get a queue pair and a\n"
      "region's keys over a TCP/JSON handshake (--listen), then send RDMA WRITE, READ,\n"
      "FETCH_ADD and CMP_SWAP straight into the region.\n\n"
      "EAL args (DPDK's own, before --) give the soft backend its port(s), e.g.\n"
      "  -l 0 --vdev=net_af_packet0,iface=veth1");
  app.add_option("--backend", o.backend,
                 "'soft': the soft RNIC answers RoCEv2 on DPDK ports (any NIC, CI); "
                 "'verbs': a RoCEv2 NIC answers in hardware (rdma-core)")
      ->check(CLI::IsMember({"soft", "verbs"}))
      ->default_val("soft");
  app.add_option("--region", o.regions,
                 "A memory region to host, name:size[:access], e.g. dta.keywrite:64M or "
                 "tea.nat:1G:rw (access letters r, w, a; default rwa). Repeatable");
  app.add_option("--dta-layout", o.dta_layout,
                 "A JSON file of DTA structure sizes (the translator's \"layout\"): hosts "
                 "the regions dta.keywrite, dta.keyincrement, dta.append, dta.postcarding "
                 "that it turns on, sized for it")
      ->check(CLI::ExistingFile);
  app.add_option("--tea-table", o.tea_tables,
                 "A TEA table to host, NAME:buckets=N[,slots=S][,packet=BYTES][,lanes=L], e.g. "
                 "tea.nat:buckets=1M,packet=256: N buckets (a power of two; K, M, G allowed) of "
                 "S 32-byte entries (default 1); packet>0 adds the shadow rows for remote "
                 "deferral, L per bucket (default 1). Its region has the same name; the layout "
                 "is in include/softfino/tea/layout.h. Repeatable")
      ->type_name("SPEC");
  app.add_option("--ip", o.ip,
                 "The collector's IPv4 address on the RoCE network (its GID; the source "
                 "address of the soft RNIC's answers)")
      ->required();
  app.add_option("--listen", o.listen, "Where switches connect for queue pairs, ADDR:PORT")
      ->default_val("0.0.0.0:18515");
  app.add_option("--mtu", o.mtu, "The largest path MTU offered: 256, 512, 1024, 2048 or 4096")
      ->check(CLI::IsMember({256, 512, 1024, 2048, 4096}))
      ->default_val(1024);
  app.add_option("--device", o.device, "--backend verbs: the RDMA device (default: the first)");
  app.add_option("--exit-when-idle", o.exit_when_idle_ms,
                 "Stop once no frame has arrived for this many milliseconds; 0 runs until "
                 "SIGINT/SIGTERM")
      ->default_val(0);
  app.add_flag("--idle-sleep", o.idle_sleep,
               "Soft RNIC: sleep between polls once no frame has come for 1 ms (16 to 256 us, "
               "doubling), instead of spinning on a CPU as a DPDK poller does; the first frame "
               "after a sleep waits that much longer");
  app.add_option("--stats-json", o.stats_json, "At exit, also write every counter to this file");
  app.add_option("--dump-region", o.dumps,
                 "At exit, write a region's bytes to a file, NAME=FILE. Repeatable");
}

int Fail(absl::string_view message) {
  std::fprintf(stderr, "softfino-collector: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return 1;
}

absl::StatusOr<dta::Layout> LoadLayout(const std::string& path) {
  auto json = control::LoadJsonFile(path);
  if (!json.ok()) return json.status();
  auto config = dta::ParseLayoutConfig(*json);
  if (!config.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  auto layout = dta::Layout::Create(*config);
  if (!layout.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", layout.status().message()));
  return layout;
}

int Run(const AppOptions& o) {
  control::CollectorOptions options;
  options.backend =
      o.backend == "verbs" ? control::CollectorBackend::kVerbs : control::CollectorBackend::kSoft;
  for (const std::string& text : o.regions) {
    auto spec = control::ParseRegionSpec(text);
    if (!spec.ok()) return Fail(spec.status().message());
    options.regions.push_back(*spec);
  }
  if (!o.dta_layout.empty()) {
    auto layout = LoadLayout(o.dta_layout);
    if (!layout.ok()) return Fail(absl::StrCat("--dta-layout ", layout.status().message()));
    for (const dta::RegionSize& r : layout->Regions()) {
      options.regions.push_back({r.name, r.bytes, rdma::kAccessAllRemote});
    }
    options.dta_layout = *std::move(layout);
  }
  for (const std::string& text : o.tea_tables) {
    auto config = tea::ParseTableSpec(text);
    if (!config.ok()) return Fail(absl::StrCat("--tea-table: ", config.status().message()));
    options.tea_tables.push_back(*config);
  }
  if (options.regions.empty() && options.tea_tables.empty()) {
    return Fail("no memory to host: give --region, --dta-layout or --tea-table");
  }
  in_addr addr{};
  if (inet_pton(AF_INET, o.ip.c_str(), &addr) != 1) {
    return Fail(absl::StrCat("--ip '", o.ip, "' is not an IPv4 address like 10.0.0.2"));
  }
  options.ip = ntohl(addr.s_addr);
  const std::vector<std::string> listen = absl::StrSplit(o.listen, ':');
  int port = 0;
  if (listen.size() != 2 || !absl::SimpleAtoi(listen[1], &port) || port < 0 || port > 65535) {
    return Fail(absl::StrCat("--listen '", o.listen, "' is not ADDR:PORT like 0.0.0.0:18515"));
  }
  options.listen_address = listen[0];
  options.listen_port = static_cast<uint16_t>(port);
  options.mtu = o.mtu;
  options.verbs_device = o.device;
  options.exit_when_idle = std::chrono::milliseconds(o.exit_when_idle_ms);
  options.idle_sleep = o.idle_sleep;
  std::vector<std::pair<std::string, std::string>> dumps;
  for (const std::string& d : o.dumps) {
    const std::vector<std::string> kv = absl::StrSplit(d, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return Fail(absl::StrCat("--dump-region '", d, "' is not NAME=FILE"));
    }
    dumps.emplace_back(kv[0], kv[1]);
  }

  auto collector = control::Collector::Create(options);
  if (!collector.ok()) return Fail(collector.status().message());
  for (const auto& [name, file] : dumps) {
    if (!(*collector)->regions().Find(name).ok()) {
      return Fail(absl::StrCat("--dump-region: ", (*collector)->regions().Find(name).status().message()));
    }
  }
  control::InstallStopSignalHandlers();
  std::fprintf(stderr, "softfino-collector: %s backend, %zu region(s), handshake on %s:%u\n",
               o.backend.c_str(), options.regions.size() + options.tea_tables.size(),
               options.listen_address.c_str(),
               (*collector)->handshake_port());
  std::fflush(stderr);
  (*collector)->Run();

  const nlohmann::json stats = (*collector)->Stats();
  std::fputs((stats.dump(2) + "\n").c_str(), stdout);
  int rc = 0;
  if (!o.stats_json.empty()) {
    std::ofstream out(o.stats_json);
    out << stats.dump(2) << "\n";
    if (!out) rc = Fail(absl::StrCat("cannot write ", o.stats_json));
  }
  for (const auto& [name, file] : dumps) {
    if (absl::Status s = (*collector)->DumpRegion(name, file); !s.ok()) rc = Fail(s.message());
  }
  collector->reset();
  return rc;
}

// Prints answer(request) for each request line, one JSON line each, in
// order; a line that is not JSON, or a refused request, prints {"error": ...}
// and makes the exit status 2.
int AnswerLines(const std::vector<std::string>& lines,
                const std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json&)>& answer) {
  int rc = 0;
  std::string out;
  for (const std::string& line : lines) {
    const nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
    absl::StatusOr<nlohmann::json> a =
        request.is_discarded() ? absl::InvalidArgumentError(absl::StrCat("query: not JSON: ", line))
                               : answer(request);
    if (!a.ok()) {
      rc = 2;
      a = nlohmann::json{{"error", std::string(a.status().message())}};
    }
    absl::StrAppend(&out, a->dump(), "\n");
  }
  std::fputs(out.c_str(), stdout);
  return rc;
}

// Each request line to a running collector (its handshake port), one
// connection each; answers (or {"error": ...}) in order.
int QueryLive(const std::string& address, const std::vector<std::string>& lines) {
  const std::vector<std::string> hp = absl::StrSplit(address, ':');
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port) || port <= 0 || port > 65535) {
    return Fail(absl::StrCat("--connect '", address, "' is not HOST:PORT like 10.0.0.2:18515"));
  }
  return AnswerLines(lines, [&](const nlohmann::json& request) {
    return rdma::CollectorRequest(hp[0], static_cast<uint16_t>(port), {{"query", request}},
                                  std::chrono::milliseconds(5000));
  });
}

// `softfino-collector query ...`: DTA queries over dumps of the regions
// (--dump-region), no EAL. One JSON answer per line, in request order.
int Query(int argc, char** argv) {
  CLI::App app;
  QueryOptions o;
  app.name("softfino-collector query");
  app.description(
      "Answers DTA queries, one JSON answer per line: from a running collector (--connect,\n"
      "its handshake port; it must run with --dta-layout) or from dumps of its regions\n"
      "(--dump-region; then give --dta-layout and --memory). A request (see\n"
      "control/dta_queries.h):\n"
      "  {\"primitive\": \"keywrite\", \"key\": 7, \"redundancy\": 2, \"threshold\": 1}\n"
      "  {\"primitive\": \"keyincrement\", \"key\": 7}\n"
      "  {\"primitive\": \"postcarding\", \"key\": 7, \"known\": [1, 2, 3]}\n"
      "  {\"primitive\": \"append\", \"list\": 0, \"from\": 0}\n"
      "  {\"primitive\": \"events\", \"list\": 0, \"from\": 0}  (switch events sent with "
      "softfino --events-dta)");
  auto* connect = app.add_option("--connect", o.connect,
                                 "A running collector's handshake address, HOST:PORT");
  auto* layout_option =
      app.add_option("--dta-layout", o.dta_layout, "The DTA layout the collector ran with")
                     ->check(CLI::ExistingFile)
                     ->excludes(connect);
  app.add_option("--memory", o.memory, "A region's dump, NAME=FILE (dta.keywrite=kw.bin). Repeatable")
      ->excludes(connect)
      ->needs(layout_option);
  app.add_option("--request", o.requests, "A request as JSON. Repeatable");
  app.add_option("--requests", o.requests_file, "A file of requests, one JSON object per line")
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::vector<std::string> lines = o.requests;
  if (!o.requests_file.empty()) {
    std::ifstream in(o.requests_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
  }
  if (!o.connect.empty()) return QueryLive(o.connect, lines);
  if (o.dta_layout.empty() || o.memory.empty()) {
    return Fail("query: give --connect HOST:PORT, or --dta-layout and --memory NAME=FILE");
  }
  auto layout = LoadLayout(o.dta_layout);
  if (!layout.ok()) return Fail(absl::StrCat("--dta-layout ", layout.status().message()));
  // 8-byte aligned, as the layouts' reads need.
  std::vector<std::pair<std::string, std::vector<uint64_t>>> regions;
  std::vector<std::pair<std::string, size_t>> sizes;
  for (const std::string& m : o.memory) {
    const std::vector<std::string> kv = absl::StrSplit(m, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return Fail(absl::StrCat("--memory '", m, "' is not NAME=FILE"));
    }
    std::ifstream in(kv[1], std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) return Fail(absl::StrCat("cannot read ", kv[1]));
    std::vector<uint64_t> words((bytes.size() + 7) / 8);
    std::memcpy(words.data(), bytes.data(), bytes.size());
    regions.emplace_back(kv[0], std::move(words));
    sizes.emplace_back(kv[0], bytes.size());
  }
  auto lookup = [&](absl::string_view name) -> std::span<const uint8_t> {
    for (size_t i = 0; i < regions.size(); ++i) {
      if (regions[i].first == name) {
        return {reinterpret_cast<const uint8_t*>(regions[i].second.data()), sizes[i].second};
      }
    }
    return {};
  };
  return AnswerLines(lines, [&](const nlohmann::json& request) {
    return control::AnswerDtaQuery(*layout, lookup, request);
  });
}

// TEA requests sent in batches (control/tea_requests.h), as many per line as
// fit; answers (or {"error": ...}) printed one per line, in order.
int AnswerTeaBatches(const std::vector<std::string>& lines, const std::string& host,
                     uint16_t port) {
  int rc = 0;
  std::string out;
  std::vector<std::string> answers(lines.size());
  const auto error = [&](size_t i, absl::string_view message) {
    answers[i] = nlohmann::json{{"error", std::string(message)}}.dump();
    rc = 2;
  };
  size_t i = 0;
  while (i < lines.size()) {
    nlohmann::json batch = nlohmann::json::array();
    std::vector<size_t> at;
    size_t bytes = 16;
    for (; i < lines.size() && batch.size() < control::kMaxTeaBatch; ++i) {
      nlohmann::json request = nlohmann::json::parse(lines[i], nullptr, false);
      if (request.is_discarded()) {
        error(i, absl::StrCat("not JSON: ", lines[i]));
        continue;
      }
      // Answers must fit a reply too: about as long as the request.
      if (!batch.empty() && bytes + 2 * lines[i].size() > control::kMaxTeaBatchBytes / 2) break;
      bytes += lines[i].size() + 1;
      batch.push_back(std::move(request));
      at.push_back(i);
    }
    if (batch.empty()) continue;
    absl::StatusOr<nlohmann::json> a =
        rdma::CollectorRequest(host, port, {{"tea", batch}}, std::chrono::milliseconds(5000));
    for (size_t k = 0; k < at.size(); ++k) {
      if (!a.ok()) {
        error(at[k], a.status().message());
      } else if (!a->is_array() || a->size() != at.size()) {
        error(at[k], "the collector answered the batch with something else than one answer each");
      } else {
        if ((*a)[k].contains("error")) rc = 2;
        answers[at[k]] = (*a)[k].dump();
      }
    }
  }
  for (const std::string& answer : answers) absl::StrAppend(&out, answer, "\n");
  std::fputs(out.c_str(), stdout);
  return rc;
}

// `softfino-collector tea OP --connect HOST:PORT ...`: TEA table requests to
// a running collector (control/tea_requests.h), one JSON answer per line.
int Tea(int argc, char** argv) {
  CLI::App app;
  std::string op, connect, table, key, tuple, value, requests_file;
  bool replace = false;
  app.name("softfino-collector tea");
  app.description(
      "Changes and reads a running collector's TEA tables over its handshake port (it must\n"
      "run with --tea-table). One JSON answer per line; a refused request prints\n"
      "{\"error\": ...} and exits 2. E.g.\n"
      "  softfino-collector tea insert --connect 10.0.0.2:18515 \\\n"
      "      --tuple 10.0.0.1,10.0.0.2,1234,80,6 --value 0xc0a80001abcd0000\n"
      "  softfino-collector tea layout --connect 10.0.0.2:18515");
  app.add_option("op", op, "layout, insert, delete, lookup or stats")
      ->required()
      ->check(CLI::IsMember({"layout", "insert", "delete", "lookup", "stats"}));
  app.add_option("--connect", connect, "The collector's handshake address, HOST:PORT")->required();
  app.add_option("--table", table, "The table's name (needed when the collector hosts several)");
  auto* key_option =
      app.add_option("--key", key, "The 16 key bytes as 32 hex digits (tea/key.h)");
  app.add_option("--tuple", tuple,
                 "The key as a 5-tuple SRC,DST,SPORT,DPORT,PROTO, e.g. 10.0.0.1,10.0.0.2,1234,80,6")
      ->excludes(key_option);
  app.add_option("--value", value, "insert: the 8-byte value, decimal or 0x-hex");
  app.add_flag("--replace", replace, "insert: change the value of a present key");
  app.add_option("--requests", requests_file,
                 "Instead of one request: a file of requests, one JSON object per line, each "
                 "like {\"op\": \"insert\", \"key\": \"0x...\", \"value\": 7}")
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::vector<std::string> lines;
  if (!requests_file.empty()) {
    std::ifstream in(requests_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
  } else {
    nlohmann::json r = {{"op", op}};
    if (!table.empty()) r["table"] = table;
    if (!key.empty()) r["key"] = key;
    if (!tuple.empty()) {
      const std::vector<std::string> f = absl::StrSplit(tuple, ',');
      uint32_t sport = 0, dport = 0, proto = 0;
      if (f.size() != 5 || !absl::SimpleAtoi(f[2], &sport) || !absl::SimpleAtoi(f[3], &dport) ||
          !absl::SimpleAtoi(f[4], &proto)) {
        return Fail(absl::StrCat("--tuple '", tuple, "' is not SRC,DST,SPORT,DPORT,PROTO like ",
                                 "10.0.0.1,10.0.0.2,1234,80,6"));
      }
      r["key"] = {{"src", f[0]}, {"dst", f[1]}, {"sport", sport}, {"dport", dport},
                  {"proto", proto}};
    }
    if (!value.empty()) {
      uint64_t v = 0;
      if (absl::SimpleAtoi(value, &v)) {
        r["value"] = v;
      } else {
        r["value"] = value;  // hex; the collector checks it
      }
    }
    if (replace) r["replace"] = true;
    lines.push_back(r.dump());
  }
  const std::vector<std::string> hp = absl::StrSplit(connect, ':');
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port) || port <= 0 || port > 65535) {
    return Fail(absl::StrCat("--connect '", connect, "' is not HOST:PORT like 10.0.0.2:18515"));
  }
  return AnswerTeaBatches(lines, hp[0], static_cast<uint16_t>(port));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "query") == 0) return Query(argc - 1, argv + 1);
  if (argc > 1 && std::strcmp(argv[1], "tea") == 0) return Tea(argc - 1, argv + 1);
  control::SplitArgs args = control::SplitEalArgs(argc, argv, {"--help", "-h"});
  CLI::App app;
  AppOptions options;
  DefineOptions(app, options);
  try {
    app.parse(static_cast<int>(args.app_argv.size()), args.app_argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (rte_eal_init(args.eal_argc, argv) < 0) {
    return Fail(absl::StrCat("cannot initialise DPDK's EAL: ", rte_strerror(rte_errno),
                             " (see the EAL messages above)"));
  }
  net::UseFastestCrc32();  // needs EAL's SIMD settings
  const int rc = Run(options);
  rte_eal_cleanup();
  return rc;
}
