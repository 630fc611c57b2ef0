// softfino-collector: hosts the memory that switches write into and read
// from over RoCEv2. `softfino-collector [EAL args] -- [app args]`.
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "softfino/control/collector.h"
#include "softfino/control/eal_args.h"
#include "softfino/control/signals.h"

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
  std::string stats_json;
  std::vector<std::string> dumps;
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
                 "tea.nat:1G:rw (access letters r, w, a; default rwa). Repeatable")
      ->required();
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
  app.add_option("--stats-json", o.stats_json, "At exit, also write every counter to this file");
  app.add_option("--dump-region", o.dumps,
                 "At exit, write a region's bytes to a file, NAME=FILE. Repeatable");
}

int Fail(absl::string_view message) {
  std::fprintf(stderr, "softfino-collector: %.*s\n", static_cast<int>(message.size()),
               message.data());
  return 1;
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
               o.backend.c_str(), options.regions.size(), options.listen_address.c_str(),
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

}  // namespace

int main(int argc, char** argv) {
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
  const int rc = Run(options);
  rte_eal_cleanup();
  return rc;
}
