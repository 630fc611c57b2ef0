// tea_firewall: a stateful firewall whose connection table lives in a
// collector's memory (TEA, SIGCOMM'20), on the lookup machinery tea_nat
// uses (pipelines/tea_common/).
//
//   inside port  -> always forwarded to the (first) outside port. The
//                   connection is recorded when it is new: the on-chip
//                   cache does not know its reply key (the packet's
//                   5-tuple reversed). The pipe hands that key to the slow
//                   path through a ring (a digest, as a Tofino would send
//                   one) and puts it in its cache; the slow path inserts
//                   it into the collector's table with the handshake's
//                   {"tea": {"op": "insert", ...}} request.
//   outside port -> key = the packet's 5-tuple: passes when the table (cache
//                   first, else one RDMA READ, the packet deferred) holds
//                   it, to the inside port the connection came from;
//                   dropped as firewall_denied otherwise.
// Values, 8 bytes: the inside port the connection came from, plus 1 (0:
// the first inside port). Packets are forwarded unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "pipelines/tea_common/answer_steering.h"
#include "pipelines/tea_common/tea_learner.h"
#include "pipelines/tea_common/tea_lookup.h"
#include "pipelines/tea_common/tea_program.h"
#include "softfino/pipe/program.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

class TeaFirewall final : public pipe::Program {
 public:
  static std::unique_ptr<pipe::Program> Create();
  ~TeaFirewall() override;

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;
  nlohmann::json Counters() const override;
  void Egress(pipe::EgressBurst& burst) const override;
  // Egress (TeaEgress) reads instance_type and egress_port only.
  pipe::EgressMetadataUse EgressMetadataRead() const override {
    return pipe::EgressMetadataUse::kIdentity;
  }
  pipe::ProgramReplication Replication() const override;
  void Background(uint16_t pipe, uint64_t now_ns) const override;
  // The slow path's learning: inserts the connections the pipes handed
  // over into the collector's table.
  void DrainEvents(const std::function<void(nlohmann::json)>& emit) override;

 private:
  using Role = PortRole;

  // What one pipe keeps; only that pipe's worker writes it, except the
  // ring's consumer side (the slow path).
  struct alignas(64) PipeState {
    std::unique_ptr<TeaServers> table;  // one server (Configure)
    // Connections handed to the slow path: the reply's key and the value
    // to insert (the inside port + 1).
    std::optional<TeaLearnRing> learn;
    uint64_t forwarded_out = 0, passed_in = 0, denied = 0;
    uint64_t learned = 0, learn_overflow = 0;
    uint64_t unsupported = 0, timer_packets = 0, answers_unknown_qp = 0;
    uint64_t answers_steered = 0;  // for another pipe's queue pair: sent to that pipe
  };

  void FromInside(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s) const;
  void FromOutside(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s) const;
  // An answer from the memory server, parsed (`p`), for a queue pair on
  // port `from` (answer_steering.h).
  void FromCollector(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s,
                     const rdma::RocePacket& p, pipe::PortId from) const;
  // A packet of a known connection, from outside: to its inside port.
  void Pass(pipe::IngressMetadata& md, PipeState& s, uint64_t value) const;

  std::vector<Role> role_;  // by port
  std::vector<pipe::PortId> inside_, outside_;
  TeaLookupOptions options_;
  std::string table_name_;  // the collector's region
  std::vector<std::unique_ptr<PipeState>> pipes_;
  AnswerSteering steering_;
  std::vector<TeaServers*> egress_tables_;  // remote deferral: every pipe's table
  std::vector<TeaLearnRing*> rings_;  // each pipe's learn ring

  // Slow path only (DrainEvents and Counters both run there).
  std::optional<TeaLearner> learner_;
};

}  // namespace softfino::pipelines
