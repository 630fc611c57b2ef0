// l3fwd: an IPv4/IPv6 router. Parse Ethernet + IP, longest-prefix match on
// the destination to a next hop, rewrite MACs, decrement TTL / hop limit.
// See README.md for its tables and drop reasons, p4/l3fwd.p4 for hardware.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pipelines/burstradar/burstradar_stage.h"
#include "pipelines/l3fwd/l3fwd_tables.h"
#include "softfino/pipe/lpm_table.h"
#include "softfino/pipe/counter_array.h"
#include "softfino/pipe/pipe_clocks.h"
#include "softfino/pipe/program.h"
#include "softfino/pipe/register.h"
#include "softfino/pipe/stateful_control.h"
#include "softfino/pipe/table_control.h"
#include "softfino/pipe/versioned.h"
#include "softfino/trumpet/stage.h"

namespace softfino::pipelines {

// Its tables change at run time through TableControl (softfino-ctl
// table_add ...): each commit publishes a whole new L3fwdTables.
// With a "trumpet" section in its config it also hosts Trumpet's monitor
// (softfino/trumpet/stage.h): every parsed IPv4 packet updates its flow's
// statistics, triggers fire events (softfino-ctl events). With a
// "burstradar" section its egress runs BurstRadar's snapshots on the ports
// it routes to (pipelines/burstradar/burstradar_stage.h).
class L3fwd final : public pipe::Program, public pipe::TableControl {
 public:
  static constexpr uint32_t kNexthopTableSize = L3fwdTables::kNexthopTableSize;
  static constexpr pipe::LpmTableSize kIpv4LpmSize = L3fwdTables::kIpv4LpmSize;
  static constexpr pipe::LpmTableSize kIpv6LpmSize = L3fwdTables::kIpv6LpmSize;

  static std::unique_ptr<pipe::Program> Create();
  L3fwd() : tables_(std::make_unique<const L3fwdTables>()) {}

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;
  pipe::TableControl* table_control() override { return this; }
  pipe::StatefulControl* stateful_control() override { return &stateful_; }
  void Background(uint16_t pipe, uint64_t now_ns) const override {
    trumpet_.Background(pipe, now_ns);
    clocks_->Advance(pipe, now_ns);
  }
  void Finish(uint16_t pipe, uint64_t end_ns) const override {
    trumpet_.Finish(pipe, end_ns);
    clocks_->Advance(pipe, end_ns);
  }
  // Trumpet's events, then the nexthop table's idle-timeout notifications.
  void DrainEvents(const std::function<void(nlohmann::json)>& emit) override {
    trumpet_.DrainEvents(emit);
    SweepIdle(emit);
  }
  std::vector<pipe::ProgramCommand> Commands() override { return trumpet_.Commands(); }
  void Egress(pipe::EgressBurst& burst) const override {
    if (burstradar_.enabled()) burstradar_.Egress(burst);
  }
  pipe::EgressMetadataUse EgressMetadataRead() const override {
    return burstradar_.enabled() ? pipe::EgressMetadataUse::kAll : pipe::EgressMetadataUse::kNone;
  }
  pipe::ProgramReplication Replication() const override;
  nlohmann::json Counters() const override;

  std::vector<std::string> TableNames() const override;
  absl::StatusOr<pipe::CommitStats> Commit(absl::Span<const pipe::TableOp> ops,
                                           const pipe::RcuDomain& rcu) override;
  absl::StatusOr<nlohmann::json> Dump(absl::string_view table) const override;
  std::vector<std::string> CounterTableNames() const override { return {"nexthop"}; }
  absl::StatusOr<nlohmann::json> ReadCounters(absl::string_view table, const nlohmann::json* entry,
                                              absl::string_view path) const override;
  absl::StatusOr<size_t> ClearCounters(absl::string_view table, const nlohmann::json* entry,
                                       absl::string_view path) override;

  // Slow path: reports each next hop that has had no hit for its TTL, once
  // per idle period, as {"event": "idle_timeout", "table": "nexthop", "key":
  // {"nexthop_id": N}, "ttl_ms": T, "last_hit_ns": L (0: none since it was
  // added), "now_ns": the pipe time of the sweep}. The entry stays (TNA's
  // notify mode): the control plane decides. Called by DrainEvents.
  void SweepIdle(const std::function<void(nlohmann::json)>& emit);

 private:
  uint16_t port_count_ = 0;
  pipe::Versioned<L3fwdTables> tables_;
  trumpet::Stage trumpet_;
  BurstRadarStage burstradar_;
  // Per pipe, as on Tofino, and exposed to the control plane by name
  // (softfino-ctl register_read / counter_read), as in p4/l3fwd.p4.
  // max_ip_len: bit<16> per ingress port, the longest IP packet (IPv4 total
  // length, IPv6 40 + payload length) that parsed, kept by a register
  // action. nexthop_counter: packets and bytes forwarded through each next
  // hop (routed, TTL not expired).
  std::unique_ptr<pipe::Register<uint16_t>> max_ip_len_;
  std::unique_ptr<pipe::CounterArray> nexthop_counter_;
  pipe::StatefulControl stateful_;
  // The pipes' clocks (Background), on which idle sweeps judge last hits.
  std::unique_ptr<pipe::PipeClocks> clocks_ = std::make_unique<pipe::PipeClocks>(1);
  bool idle_clocks_started_ = false;
  uint64_t last_sweep_ns_ = 0;
  static constexpr uint32_t kPortCells = 512;         // 9-bit port numbers
  static constexpr uint32_t kNexthopIdCells = 65536;  // one per 16-bit nexthop_id
};

}  // namespace softfino::pipelines
