// tea_nat: source NAT whose translation table lives in a collector's
// memory (TEA, SIGCOMM'20), looked up from the data plane with one RDMA
// READ per on-chip cache miss (pipelines/tea_common/tea_lookup.h).
//
//   inside port  -> key = the packet's 5-tuple, table "out": the value's
//                   address and port replace the source; to the outside
//   outside port -> key = the packet's 5-tuple (the translated flow as the
//                   outside sees it), table "in": the value's address and
//                   port replace the destination; to the inside
// The control plane inserts both entries of a flow (softfino-collector tea
// insert ...). A flow without an entry is dropped (tea_no_entry); with
// "learn" configured, an inside flow without one is also handed to the
// slow path (tea_common/tea_learner.h), which gives it a public address and
// port from the pool (nat_port_pool.h) and inserts both of its entries, so
// the flow's later packets are translated. Values,
// 8 bytes, network order (tea/key.h leaves their meaning to the program):
//   bits 63..32 the new IPv4 address   bits 31..16 the new port
//   bits 15..0  0: the first port of the other side; p + 1: port p (which
//               must be one of that side's ports, else tea_no_entry)
// Checksums (IPv4 header, TCP/UDP) are updated incrementally. MACs and
// TTL are left as they are (a bump in the wire).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "pipelines/tea_common/answer_steering.h"
#include "pipelines/tea_common/flow_headers.h"
#include "pipelines/tea_common/tea_learner.h"
#include "pipelines/tea_common/tea_lookup.h"
#include "pipelines/tea_nat/nat_port_pool.h"
#include "pipelines/tea_common/tea_program.h"
#include "softfino/pipe/program.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

class TeaNat final : public pipe::Program {
 public:
  // Tags of deferred lookups: which table.
  enum Direction : uint32_t { kOut = 0, kIn = 1 };

  static std::unique_ptr<pipe::Program> Create();
  ~TeaNat() override;

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
  // Memory servers taken out (and back): tea_failover events; learning
  // (when configured): inserts the flows the pipes handed over.
  void DrainEvents(const std::function<void(nlohmann::json)>& emit) override;

 private:
  using Role = PortRole;

  // What one pipe keeps (per-pipe registers on a Tofino): its queue pair
  // and cache per table, and its counters. Only that pipe's worker writes.
  struct alignas(64) PipeState {
    std::unique_ptr<TeaServers> tables[2];  // by Direction
    std::optional<TeaLearnRing> learn;      // inside flows without an entry (learning)
    uint64_t learned = 0, learn_overflow = 0;
    uint64_t translated[2] = {0, 0};
    uint64_t no_entry[2] = {0, 0};
    uint64_t unsupported = 0, timer_packets = 0, answers_unknown_qp = 0;
    uint64_t answers_steered = 0;  // for another pipe's queue pair: sent to that pipe
  };

  // A packet from an inside or outside port, parsed and its key hashed
  // before its lookup (Ingress's first pass).
  struct HostPacket {
    pipe::DropReason parsed;  // kNone: h, key and hash are set
    FlowHeaders h;
    tea::Key key;
    uint32_t hash;
  };
  void FromHost(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s, Direction dir,
                const HostPacket& hp) const;
  // An answer from a memory server, parsed (`p`), for a queue pair on port
  // `from`: resumes its lookup, or goes to the pipe whose lookup it is.
  void FromCollector(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s,
                     const rdma::RocePacket& p, pipe::PortId from) const;
  struct Learning {
    TeaLearner learner;
    NatPortPool pool;
  };
  // "nat": {"learn": {...}}: the pool, the learner, a ring per pipe.
  static absl::StatusOr<Learning> ConfigureLearning(const nlohmann::json& learn,
                                                    const nlohmann::json& config,
                                                    std::vector<std::unique_ptr<PipeState>>& pipes);
  // The two inserts of a learned inside flow (slow path), none when the
  // pool is used up.
  std::vector<nlohmann::json> LearnedInserts(const tea::Key& flow);
  // A packet without an entry: dropped (tea_no_entry); an inside one is
  // handed to the slow path when learning.
  void NoEntry(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s, Direction dir) const;
  // Applies a found value to the packet in `m` (its headers `h`) and picks
  // its port, or drops it.
  void Translate(pipe::IngressMetadata& md, PipeState& s, Direction dir, const FlowHeaders& h,
                 uint64_t value) const;
  // The same for a packet a READ's answer resumed (parsed here).
  void TranslateResumed(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& s, Direction dir,
                        uint64_t value) const;

  std::vector<Role> role_;  // by port
  std::vector<pipe::PortId> inside_, outside_;
  TeaLookupOptions options_;
  // Per pipe, mutable from Ingress and Background as per-pipe registers
  // are: only that pipe's worker touches its entry.
  std::vector<std::unique_ptr<PipeState>> pipes_;
  AnswerSteering steering_;
  std::vector<TeaServers*> egress_tables_;  // remote deferral: every pipe's tables

  // Learning (slow path only): the tables' names, the pool, the inserter.
  std::string table_name_[2];
  NatPortPool pool_;
  uint64_t pool_exhausted_ = 0;
  std::vector<TeaLearnRing*> rings_;
  std::optional<TeaLearner> learner_;
};

}  // namespace softfino::pipelines
