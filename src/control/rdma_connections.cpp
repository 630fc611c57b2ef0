#include "softfino/control/rdma_connections.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "softfino/rdma/handshake.h"
#include "softfino/rdma/qp_params.h"

namespace softfino::control {
namespace {

using nlohmann::json;

absl::Status Bad(size_t i, absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("rdma.connections[", i, "]", name.empty() ? "" : " (", name,
                   name.empty() ? "" : ")", ": ", what));
}

// The switch's own queue-pair numbers: unique per connection and pipe, so
// an answer's BTH.DestQP tells the program which one it is for.
uint32_t LocalQpn(size_t connection, uint16_t pipe) {
  return 0x010000 | (static_cast<uint32_t>(connection) << 8) | pipe;
}

}  // namespace

absl::Status ConnectRdmaConnection(json& c, size_t i, uint16_t port_count, uint16_t pipe_count,
                                   const PortMacLookup& port_mac) {
  if (!c.is_object()) return Bad(i, "", "expected an object");
  const std::string name = c.value("name", "");
  if (name.empty()) return Bad(i, "", "\"name\" is missing: every connection needs one");
  for (const auto& [key, value] : c.items()) {
    // "queue_pairs": a connection connected before, now reconnected.
    static const char* kKeys[] = {"name", "collector", "region",     "port",       "ip",
                                  "mac",  "mtu",       "timeout_ms", "queue_pairs"};
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return Bad(i, name, absl::StrCat("unknown field \"", key,
                                       "\"; a connection has name, collector, region, port, ip "
                                       "and optionally mac, mtu, timeout_ms"));
    }
  }
  // Where the collector's handshake listens.
  const std::string collector = c.value("collector", "");
  const std::vector<std::string> hp = absl::StrSplit(collector, ':');
  int handshake_port = 0;
  if (hp.size() != 2 || hp[0].empty() || !absl::SimpleAtoi(hp[1], &handshake_port) ||
      handshake_port <= 0 || handshake_port > 65535) {
    return Bad(i, name, absl::StrCat("\"collector\" '", collector,
                                     "' is not HOST:PORT like 10.0.0.2:18515"));
  }
  if (!c.contains("port") || !c["port"].is_number_unsigned() || c["port"] >= port_count) {
    return Bad(i, name, absl::StrCat("\"port\" must be the switch port towards the collector, "
                                     "0..", port_count - 1));
  }
  const uint16_t port = c["port"].get<uint16_t>();
  const std::string ip = c.value("ip", "");
  in_addr addr{};
  if (inet_pton(AF_INET, ip.c_str(), &addr) != 1) {
    return Bad(i, name, absl::StrCat("\"ip\" '", ip,
                                     "' is not the switch's IPv4 address like 10.0.0.1"));
  }
  net::MacAddress mac{};
  if (c.contains("mac")) {
    auto parsed = net::ParseMac(c.value("mac", ""));
    if (!parsed.ok()) return Bad(i, name, parsed.status().message());
    mac = *parsed;
  } else {
    auto from_port = port_mac(port);
    if (!from_port.ok()) return Bad(i, name, from_port.status().message());
    mac = *from_port;
  }
  const int timeout_ms = c.value("timeout_ms", 3000);
  json queue_pairs = json::array();
  for (uint16_t pipe = 0; pipe < pipe_count; ++pipe) {
    rdma::QpParams hello;
    hello.qpn = LocalQpn(i, pipe);
    hello.psn = rdma::RandomPsn();
    hello.region = c.value("region", "");
    hello.gid = rdma::GidFromIpv4(ntohl(addr.s_addr));
    hello.mac = mac;
    hello.mtu = c.value("mtu", 0u);
    if (absl::Status s = rdma::ValidateQpParams(hello, rdma::QpRole::kRequester); !s.ok()) {
      return Bad(i, name, s.message());
    }
    auto reply = rdma::RequestQueuePair(hp[0], static_cast<uint16_t>(handshake_port), hello,
                                        std::chrono::milliseconds(timeout_ms));
    if (!reply.ok()) return Bad(i, name, reply.status().message());
    queue_pairs.push_back({{"pipe", pipe},
                           {"local", rdma::QpParamsToJson(hello, rdma::QpRole::kRequester)},
                           {"remote", rdma::QpParamsToJson(*reply, rdma::QpRole::kResponder)}});
  }
  c["queue_pairs"] = std::move(queue_pairs);
  return absl::OkStatus();
}

absl::Status ConnectRdmaQueuePairs(json& config, uint16_t port_count, uint16_t pipe_count,
                                   const PortMacLookup& port_mac) {
  if (!config.is_object() || !config.contains("rdma")) return absl::OkStatus();
  json& rdma = config["rdma"];
  if (!rdma.is_object() || !rdma.contains("connections") || !rdma["connections"].is_array()) {
    return absl::InvalidArgumentError(
        "rdma: expected {\"connections\": [{\"name\", \"collector\", \"region\", \"port\", "
        "\"ip\"}, ...]}");
  }
  json& connections = rdma["connections"];
  if (connections.size() > 255) {
    return absl::InvalidArgumentError("rdma.connections: at most 255 connections");
  }
  for (size_t i = 0; i < connections.size(); ++i) {
    if (absl::Status s = ConnectRdmaConnection(connections[i], i, port_count, pipe_count, port_mac);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace softfino::control
