#include "softfino/rdma/connection.h"

#include "absl/strings/str_cat.h"

namespace softfino::rdma {

Endpoint ConnectedQueuePair::RequestEndpoint() const {
  Endpoint ep;
  ep.src_mac = local.mac;
  ep.dst_mac = remote.mac;
  ep.src_ip = Ipv4OfGid(local.gid);
  ep.dst_ip = Ipv4OfGid(remote.gid);
  ep.udp_src_port = RoceUdpSourcePort(local.qpn, remote.qpn);
  return ep;
}

absl::StatusOr<std::vector<ConnectedQueuePair>> FindConnection(const nlohmann::json& config,
                                                               absl::string_view name) {
  const auto missing = [&](absl::string_view why) {
    return absl::NotFoundError(absl::StrCat("RDMA connection '", name, "': ", why));
  };
  if (!config.is_object() || !config.contains("rdma") || !config["rdma"].is_object() ||
      !config["rdma"].contains("connections") || !config["rdma"]["connections"].is_array()) {
    return missing(
        "the config has no \"rdma\": {\"connections\": [...]} section; add one naming the "
        "collector, region, port and ip");
  }
  for (const nlohmann::json& c : config["rdma"]["connections"]) {
    if (!c.is_object() || c.value("name", "") != name) continue;
    if (!c.contains("queue_pairs") || !c["queue_pairs"].is_array()) {
      return missing("not connected (the switch's slow path connects it at start)");
    }
    std::vector<ConnectedQueuePair> out;
    for (const nlohmann::json& q : c["queue_pairs"]) {
      ConnectedQueuePair qp;
      qp.pipe = q.value("pipe", uint16_t{0});
      qp.port = c.value("port", uint16_t{0});
      auto local = QpParamsFromJson(q.value("local", nlohmann::json()), QpRole::kRequester);
      if (!local.ok()) return local.status();
      auto remote = QpParamsFromJson(q.value("remote", nlohmann::json()), QpRole::kResponder);
      if (!remote.ok()) return remote.status();
      if (!IsIpv4MappedGid(local->gid) || !IsIpv4MappedGid(remote->gid)) {
        return missing("both ends need IPv4 addresses: RoCEv2 over IPv6 is not supported yet");
      }
      qp.local = *std::move(local);
      qp.remote = *std::move(remote);
      out.push_back(std::move(qp));
    }
    return out;
  }
  return missing("the config's rdma.connections has no connection of that name");
}

}  // namespace softfino::rdma
