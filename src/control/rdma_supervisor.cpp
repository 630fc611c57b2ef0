#include "softfino/control/rdma_supervisor.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "softfino/rdma/handshake.h"

namespace softfino::control {

absl::StatusOr<std::unique_ptr<RdmaSupervisor>> RdmaSupervisor::Start(
    const nlohmann::json& config, uint16_t port_count, uint16_t pipe_count, PortMacLookup port_mac,
    pipe::Program& program, RdmaSupervisorOptions options) {
  if (!program.ReconnectsRdma() || !config.is_object() || !config.contains("rdma")) return nullptr;
  const nlohmann::json& rdma = config["rdma"];
  if (rdma.contains("supervise_ms")) {
    if (!rdma["supervise_ms"].is_number_unsigned()) {
      return absl::InvalidArgumentError(
          "rdma.supervise_ms: expected milliseconds between checks of each collector (0: none)");
    }
    options.interval = std::chrono::milliseconds(rdma["supervise_ms"].get<uint32_t>());
    if (options.interval.count() == 0) return nullptr;
  }
  std::vector<Collector> collectors;
  const nlohmann::json& connections = rdma["connections"];
  for (size_t i = 0; i < connections.size(); ++i) {
    // ConnectRdmaQueuePairs checked these already.
    const std::string endpoint = connections[i].value("collector", "");
    const std::vector<std::string> hp = absl::StrSplit(endpoint, ':');
    int port = 0;
    if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) continue;
    auto it = std::find_if(collectors.begin(), collectors.end(),
                           [&](const Collector& c) { return c.host == hp[0] && c.port == port; });
    if (it == collectors.end()) {
      collectors.push_back({});
      it = collectors.end() - 1;
      it->host = hp[0];
      it->port = static_cast<uint16_t>(port);
    }
    it->connections.push_back(i);
    it->names.push_back(connections[i].value("name", ""));
  }
  if (collectors.empty()) return nullptr;
  return std::unique_ptr<RdmaSupervisor>(new RdmaSupervisor(config, port_count, pipe_count,
                                                            std::move(port_mac), program, options,
                                                            std::move(collectors)));
}

RdmaSupervisor::RdmaSupervisor(nlohmann::json config, uint16_t port_count, uint16_t pipe_count,
                               PortMacLookup port_mac, pipe::Program& program,
                               RdmaSupervisorOptions options, std::vector<Collector> collectors)
    : config_(std::move(config)),
      port_count_(port_count),
      pipe_count_(pipe_count),
      port_mac_(std::move(port_mac)),
      program_(program),
      options_(options),
      collectors_(std::move(collectors)) {
  thread_ = std::thread([this] { Run(); });
}

RdmaSupervisor::~RdmaSupervisor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RdmaSupervisor::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, options_.interval, [this] { return stop_; })) {
    for (Collector& c : collectors_) {
      // Probes block for up to their timeout: not under the lock Stats takes.
      Collector copy = c;
      lock.unlock();
      Check(copy);
      lock.lock();
      c = std::move(copy);
      if (stop_) return;
    }
  }
}

void RdmaSupervisor::Check(Collector& c) {
  ++c.probes;
  const std::string where = absl::StrCat(c.host, ":", c.port);
  auto answer = rdma::CollectorRequest(c.host, c.port, {{"incarnation", nlohmann::json::object()}},
                                       options_.timeout);
  uint64_t incarnation = 0;
  if (answer.ok() && answer->contains("incarnation") &&
      (*answer)["incarnation"].is_number_unsigned()) {
    incarnation = (*answer)["incarnation"].get<uint64_t>();
  } else if (answer.ok()) {
    // A collector that does not say: a pause and a restart look alike, so
    // treat it as the same one (its queue pairs may be gone).
    incarnation = c.incarnation;
  }
  if (!answer.ok()) {
    ++c.probe_failures;
    c.last_error = std::string(answer.status().message());
    if (!c.down) {
      c.down = true;
      ++c.downs;
      program_.SetRdmaConnectionsDown(c.names, true);
      std::fprintf(stderr,
                   "softfino: collector %s stopped answering (%s); what goes to it over %s is "
                   "counted as lost until it is back\n",
                   where.c_str(), c.last_error.c_str(), absl::StrJoin(c.names, ", ").c_str());
    }
    return;
  }
  if (!c.known) {
    c.known = true;
    c.incarnation = incarnation;
  }
  if (incarnation == c.incarnation) {
    if (c.down) {
      c.down = false;
      ++c.pauses;
      program_.SetRdmaConnectionsDown(c.names, false);
      std::fprintf(stderr,
                   "softfino: collector %s answers again (same instance, queue pairs kept)\n",
                   where.c_str());
    }
    return;
  }
  // A new instance: its queue pairs and memory are new.
  if (!c.down) {
    c.down = true;
    ++c.downs;
    program_.SetRdmaConnectionsDown(c.names, true);
  }
  nlohmann::json& connections = config_["rdma"]["connections"];
  absl::Status s;
  for (size_t i : c.connections) {
    s = ConnectRdmaConnection(connections[i], i, port_count_, pipe_count_, port_mac_);
    if (!s.ok()) break;
  }
  if (s.ok()) s = program_.RdmaConnectionsUp(c.names, config_);
  if (!s.ok()) {
    ++c.reconnect_failures;
    c.last_error = std::string(s.message());
    std::fprintf(stderr, "softfino: collector %s restarted, but reconnecting failed: %s\n",
                 where.c_str(), c.last_error.c_str());
    return;  // still down; tried again at the next check
  }
  c.incarnation = incarnation;
  c.down = false;
  ++c.reconnects;
  std::fprintf(stderr,
               "softfino: collector %s restarted; reconnected %zu connection(s) with new queue "
               "pairs (reconnection %llu)\n",
               where.c_str(), c.connections.size(), static_cast<unsigned long long>(c.reconnects));
}

nlohmann::json RdmaSupervisor::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j = nlohmann::json::array();
  for (const Collector& c : collectors_) {
    j.push_back({{"collector", absl::StrCat(c.host, ":", c.port)},
                 {"connections", c.names},
                 {"state", c.down ? "down" : "up"},
                 {"incarnation", c.incarnation},
                 {"probes", c.probes},
                 {"probe_failures", c.probe_failures},
                 {"downs", c.downs},
                 {"pauses", c.pauses},
                 {"reconnects", c.reconnects},
                 {"reconnect_failures", c.reconnect_failures},
                 {"last_error", c.last_error}});
  }
  return j;
}

}  // namespace softfino::control
