#include "softfino/control/collector.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "softfino/control/dta_queries.h"
#include "softfino/control/signals.h"
#include "softfino/control/tea_requests.h"
#include "softfino/dataplane/idle_backoff.h"
#include "softfino/dataplane/ports.h"
#include "softfino/rdma/soft_rnic.h"
#include "softfino/rdma/verbs_backend.h"

namespace softfino::control {

absl::StatusOr<RegionSpec> ParseRegionSpec(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "region '", text, "': ", why,
        "; write name:size[:access], e.g. dta.keywrite:64M:rw (access letters r, w, a)"));
  };
  if (parts.size() < 2 || parts.size() > 3) return bad("expected 2 or 3 fields");
  RegionSpec spec;
  spec.name = std::string(parts[0]);
  if (spec.name.empty()) return bad("the name is empty");
  absl::string_view size = parts[1];
  uint64_t unit = 1;
  if (!size.empty()) {
    switch (absl::ascii_toupper(size.back())) {
      case 'K': unit = uint64_t{1} << 10; break;
      case 'M': unit = uint64_t{1} << 20; break;
      case 'G': unit = uint64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) size.remove_suffix(1);
  }
  uint64_t count = 0;
  if (!absl::SimpleAtoi(size, &count) || count == 0 || count > (uint64_t{1} << 40) / unit) {
    return bad(absl::StrCat("size '", parts[1], "' is not a number of bytes from 1 to 1T"));
  }
  spec.bytes = count * unit;
  if (parts.size() == 3) {
    spec.access = 0;
    for (char c : parts[2]) {
      switch (c) {
        case 'r': spec.access |= rdma::kAccessRemoteRead; break;
        case 'w': spec.access |= rdma::kAccessRemoteWrite; break;
        case 'a': spec.access |= rdma::kAccessRemoteAtomic; break;
        default: return bad(absl::StrCat("access letter '", std::string(1, c), "' is unknown"));
      }
    }
    if (spec.access == 0) return bad("access is empty");
  }
  return spec;
}

namespace {

constexpr uint16_t kRxBurst = 32;
// The soft RNIC answers every request on the port it came from. Room for a
// burst of single-packet answers plus the largest READ response.
constexpr uint32_t kTxBatch = 512;

}  // namespace

struct Collector::Impl {
  CollectorOptions options;
  rdma::MemoryRegionTable regions;
  rdma::QpnAllocator qpns;
  std::unique_ptr<dataplane::Ports> ports;      // soft backend
  std::unique_ptr<rdma::SoftRnic> rnic;         // soft backend
  std::unique_ptr<rdma::VerbsBackend> verbs;    // verbs backend
  std::unique_ptr<rdma::RegionHandshakeHandler> soft_handler;
  std::unique_ptr<rdma::HandshakeServer> server;
  std::vector<TeaHostedTable> tea;  // fixed once Create returns (requests hold its data)
  uint64_t tx_full = 0;  // answers the port would not take
  rte_mbuf* tx[kTxBatch];

  explicit Impl(std::unique_ptr<rdma::RegionAllocator> allocator)
      : regions(std::move(allocator)) {}

  void Flush(uint16_t port, uint32_t& n) {
    uint32_t sent = 0;
    while (sent < n) {
      const uint16_t k = rte_eth_tx_burst(port, 0, tx + sent, static_cast<uint16_t>(n - sent));
      if (k == 0) break;
      sent += k;
    }
    if (sent < n) {
      tx_full += n - sent;
      rte_pktmbuf_free_bulk(tx + sent, n - sent);
    }
    n = 0;
  }

  // One round over every port; returns how many frames arrived.
  uint32_t PollPorts() {
    uint32_t received = 0;
    rte_mbuf* rx[kRxBurst];
    for (uint16_t port = 0; port < ports->count(); ++port) {
      const uint16_t n = rte_eth_rx_burst(port, 0, rx, kRxBurst);
      received += n;
      uint32_t pending = 0;
      for (uint16_t i = 0; i < n; ++i) {
        if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void*));
        if (kTxBatch - pending < rnic->max_answer_packets()) Flush(port, pending);
        pending += rnic->Process(rx[i], tx + pending, static_cast<uint16_t>(kTxBatch - pending));
      }
      if (pending != 0) Flush(port, pending);
    }
    return received;
  }
};

Collector::Collector(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), regions_(&impl_->regions) {}
Collector::~Collector() = default;

absl::StatusOr<std::unique_ptr<Collector>> Collector::Create(const CollectorOptions& options) {
  if (options.ip == 0) {
    return absl::InvalidArgumentError(
        "the collector needs its IPv4 address on the RoCE network (--ip)");
  }
  if (options.regions.empty() && options.tea_tables.empty()) {
    return absl::InvalidArgumentError(
        "no memory region to host; give at least one --region name:size");
  }
  std::vector<tea::Layout> tea_layouts;
  for (const tea::TableConfig& config : options.tea_tables) {
    absl::StatusOr<tea::Layout> layout = tea::Layout::Create(config);
    if (!layout.ok()) return layout.status();
    tea_layouts.push_back(*std::move(layout));
  }
  // Soft backend: hugepage memory when EAL has it. Verbs: plain pages, which
  // ibv_reg_mr pins.
  auto impl = std::make_unique<Impl>(options.backend == CollectorBackend::kSoft
                                         ? rdma::MakeDpdkAllocator(SOCKET_ID_ANY)
                                         : rdma::MakePageAllocator());
  Impl& c = *impl;
  c.options = options;
  rdma::CollectorEndpoint self;
  self.gid = rdma::GidFromIpv4(options.ip);
  self.mtu = options.mtu;

  if (options.backend == CollectorBackend::kVerbs) {
    auto device = rdma::OpenVerbsDevice(options.verbs_device);
    if (!device.ok()) return device.status();
    c.verbs = std::make_unique<rdma::VerbsBackend>(*std::move(device), rdma::VerbsQpOptions{},
                                                   self);
  } else {
    auto port_count = dataplane::CountPorts();
    if (!port_count.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          port_count.status().message(),
          " (the soft backend answers RoCEv2 on a DPDK port, e.g. "
          "--vdev=net_af_packet0,iface=eth1)"));
    }
    dataplane::PortOptions port_options;
    port_options.pipes = 1;
    auto ports = dataplane::Ports::Start(port_options);
    if (!ports.ok()) return ports.status();
    c.ports = *std::move(ports);
    const uint32_t room = rte_pktmbuf_data_room_size(c.ports->pool()) - RTE_PKTMBUF_HEADROOM;
    const uint32_t frame = rdma::RoceBuilder::FrameLength(net::RcOpcode::kReadResponseFirst,
                                                          options.mtu);
    if (frame > room) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mtu ", options.mtu, " makes ", frame, "-byte frames, larger than the ", room,
          "-byte mbufs of the soft RNIC; use --mtu 1024 or 2048"));
    }
    rte_ether_addr mac;
    if (rte_eth_macaddr_get(0, &mac) == 0) {
      for (size_t i = 0; i < self.mac.size(); ++i) self.mac[i] = mac.addr_bytes[i];
    }
    c.rnic = std::make_unique<rdma::SoftRnic>(c.regions, c.ports->pool());
  }

  for (const RegionSpec& spec : options.regions) {
    rdma::RegionOptions region_options;
    region_options.access = spec.access;
    auto region = c.regions.Register(spec.name, spec.bytes, region_options);
    if (!region.ok()) return region.status();
    if (c.verbs) {
      if (auto r = c.verbs->RegisterRegion(*region); !r.ok()) return r.status();
    }
  }
  // TEA tables: the switch READs buckets and shadow rows and WRITEs
  // deferred packets; no atomics.
  for (const tea::Layout& layout : tea_layouts) {
    rdma::RegionOptions region_options;
    region_options.access = rdma::kAccessRemoteRead | rdma::kAccessRemoteWrite;
    auto region = c.regions.Register(layout.config().name, layout.bytes(), region_options);
    if (!region.ok()) {
      return absl::Status(region.status().code(),
                          absl::StrCat("TEA table ", layout.config().name, " (", layout.bytes(),
                                       " bytes): ", region.status().message()));
    }
    if (c.verbs) {
      if (auto r = c.verbs->RegisterRegion(*region); !r.ok()) return r.status();
    }
    auto table = tea::Table::Create(layout, {region->base, region->length});
    if (!table.ok()) return table.status();
    c.tea.push_back(TeaHostedTable{*std::move(table), *region});
  }

  rdma::HandshakeHandler* handler = c.verbs.get();
  if (c.rnic) {
    rdma::SoftRnic* rnic = c.rnic.get();
    const uint32_t collector_ip = options.ip;
    const net::MacAddress collector_mac = self.mac;
    auto install = [rnic, collector_ip, collector_mac](const rdma::QpParams& hello,
                                                        const rdma::QpParams& reply) {
      if (!rdma::IsIpv4MappedGid(hello.gid)) {
        return absl::InvalidArgumentError(
            "the soft RNIC speaks RoCEv2 over IPv4 only; give the switch an IPv4 address");
      }
      rdma::SoftRnicQpConfig qp;
      qp.responder.qpn = reply.qpn;
      qp.responder.expected_psn = reply.psn;
      qp.responder.mtu = reply.mtu;
      qp.to_requester.src_mac = collector_mac;
      qp.to_requester.dst_mac = hello.mac;
      qp.to_requester.src_ip = collector_ip;
      qp.to_requester.dst_ip = rdma::Ipv4OfGid(hello.gid);
      qp.to_requester.udp_src_port = rdma::RoceUdpSourcePort(reply.qpn, hello.qpn);
      qp.requester_qpn = hello.qpn;
      return rnic->AddQp(qp);
    };
    auto remove = [rnic](const rdma::QpParams& reply) { (void)rnic->RemoveQp(reply.qpn); };
    c.soft_handler = std::make_unique<rdma::RegionHandshakeHandler>(c.regions, c.qpns, self,
                                                                    install, remove);
    handler = c.soft_handler.get();
  }
  rdma::HandshakeServerOptions server_options;
  server_options.address = options.listen_address;
  server_options.port = options.listen_port;
  if (options.dta_layout) {
    // Answered between bursts on this same thread, so the soft RNIC never
    // writes while a query reads (a verbs NIC may: the layouts read slots
    // with single loads, see dta/region.h).
    server_options.query = [layout = *options.dta_layout,
                            regions = &c.regions](const nlohmann::json& q) {
      auto lookup = [regions](absl::string_view name) -> std::span<const uint8_t> {
        auto r = regions->Find(name);
        if (!r.ok()) return {};
        return {r->base, r->length};
      };
      return AnswerDtaQuery(layout, lookup, q);
    };
  }
  // Who answers: a number drawn at start, so a switch that polls it tells
  // a restarted collector (new queue pairs, empty memory) from one that
  // only paused (rdma_supervisor.h).
  {
    std::random_device rd;
    const uint64_t incarnation = (uint64_t{rd()} << 32) | rd();
    server_options.requests["incarnation"] = [incarnation](const nlohmann::json&) {
      return absl::StatusOr<nlohmann::json>(nlohmann::json{{"incarnation", incarnation}});
    };
  }
  if (!c.tea.empty()) {
    // Like queries: between bursts on this thread, so a READ never sees an
    // insert half done (tea/layout.h, Consistency).
    // An array of requests is a batch (softfino-collector tea --requests
    // sends them so): answers in order, a refused one as {"error": ...}.
    server_options.requests["tea"] =
        [tables = &c.tea](const nlohmann::json& r) -> absl::StatusOr<nlohmann::json> {
      if (!r.is_array()) return AnswerTeaRequest(*tables, r);
      if (r.size() > kMaxTeaBatch) {
        return absl::InvalidArgumentError(absl::StrCat("a batch of ", r.size(),
                                                       " TEA requests; send at most ",
                                                       kMaxTeaBatch, " per line"));
      }
      nlohmann::json answers = nlohmann::json::array();
      for (const nlohmann::json& one : r) {
        absl::StatusOr<nlohmann::json> a = AnswerTeaRequest(*tables, one);
        answers.push_back(a.ok() ? *std::move(a)
                                 : nlohmann::json{{"error", std::string(a.status().message())}});
      }
      return answers;
    };
    // Room for a batch on one line.
    server_options.max_line_bytes = kMaxTeaBatchBytes;
  }
  auto server = rdma::HandshakeServer::Create(server_options, *handler);
  if (!server.ok()) return server.status();
  c.server = *std::move(server);
  return std::unique_ptr<Collector>(new Collector(std::move(impl)));
}

uint16_t Collector::handshake_port() const { return impl_->server->port(); }

void Collector::Run() {
  Impl& c = *impl_;
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_frame = Clock::now();
  Clock::time_point next_poll = last_frame;
  dataplane::IdleBackoff backoff(c.options.idle_sleep && c.rnic != nullptr);
  while (!StopRequested()) {
    const bool busy = c.rnic && c.PollPorts() != 0;
    if (const unsigned us = backoff.AfterPoll(busy); us != 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
    const Clock::time_point now = Clock::now();
    if (busy) last_frame = now;
    // The handshake and the stop checks cost system calls: about once a
    // millisecond, never per burst.
    if (now >= next_poll) {
      c.server->Poll();
      next_poll = now + std::chrono::milliseconds(1);
      if (c.options.exit_when_idle.count() != 0 && now - last_frame > c.options.exit_when_idle &&
          c.server->client_count() == 0) {
        break;
      }
    }
    if (!c.rnic) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // verbs: the NIC works
  }
}

nlohmann::json Collector::Stats() const {
  const Impl& c = *impl_;
  nlohmann::json j;
  j["backend"] = c.rnic ? "soft" : "verbs";
  for (const rdma::MemoryRegion& r : c.regions.List()) {
    j["regions"].push_back({{"name", r.name},
                            {"length", r.length},
                            {"rkey", r.rkey},
                            {"iova", r.iova},
                            {"access", rdma::AccessToString(r.access)}});
  }
  const rdma::HandshakeStats& h = c.server->stats();
  j["handshakes"] = {{"connections", h.connections}, {"connected", h.connected},
                     {"refused", h.refused},         {"timed_out", h.timed_out},
                     {"too_many", h.too_many},       {"abandoned", h.abandoned},
                     {"queries", h.queries}};
  for (const TeaHostedTable& t : c.tea) {
    j["tea"][t.region.name] = TeaCounters(t.table.counters());
  }
  if (!c.rnic) return j;
  const rdma::SoftRnic& rnic = *c.rnic;
  nlohmann::json& s = j["soft_rnic"];
  s["frames"] = rnic.frames();
  s["answers"] = rnic.answers();
  s["tx_full"] = c.tx_full;
  // Frames dropped before the soft RNIC saw them (an af_packet ring that
  // overflowed: Ports::KernelRingDrops).
  uint64_t missed = 0;
  for (uint16_t port = 0; c.ports && port < c.ports->count(); ++port) {
    rte_eth_stats eth{};
    if (rte_eth_stats_get(port, &eth) == 0) missed += eth.imissed;
    missed += c.ports->KernelRingDrops(port);
  }
  s["rx_missed"] = missed;
  nlohmann::json drops = nlohmann::json::object();
  for (size_t i = 1; i < rdma::kRoceParseErrorCount; ++i) {
    const auto e = static_cast<rdma::RoceParseError>(i);
    drops[rdma::RoceParseErrorName(e)] = rnic.parse_drops()[e];
  }
  for (size_t i = 0; i < rdma::kSoftRnicDropCount; ++i) {
    drops[rdma::kSoftRnicDropNames[i]] = rnic.drops(static_cast<rdma::SoftRnicDrop>(i));
  }
  s["drops"] = drops;
  s["qps"] = nlohmann::json::array();
  for (uint32_t qpn : rnic.qpns()) {
    const rdma::RcResponderQp& qp = *rnic.qp(qpn);
    nlohmann::json q = {{"qpn", qpn}, {"expected_psn", qp.expected_psn()}, {"msn", qp.msn()}};
    for (size_t i = 0; i < rdma::kResponderEventCount; ++i) {
      q[rdma::kResponderEventNames[i]] = qp.count(static_cast<rdma::ResponderEvent>(i));
    }
    s["qps"].push_back(q);
  }
  return j;
}

absl::Status Collector::DumpRegion(absl::string_view name, const std::string& path) const {
  auto region = impl_->regions.Find(name);
  if (!region.ok()) return region.status();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(region->base), static_cast<std::streamsize>(region->length));
  if (!out) return absl::InternalError(absl::StrCat("cannot write region ", name, " to ", path));
  return absl::OkStatus();
}

}  // namespace softfino::control
