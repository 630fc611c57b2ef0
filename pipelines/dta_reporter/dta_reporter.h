// dta_reporter: a switch that forwards traffic and reports on it with DTA
// (Direct Telemetry Access): per-flow reports to a translator (UDP 40040),
// which writes them into a collector's memory.
//
// Per IPv4 TCP/UDP packet forwarded (flow key: the CRC-32 of its 5-tuple,
// src ip | dst ip | proto | src port | dst port in network order):
//   Key-Write      on change: (switch_id << 16 | ingress port), the flow's
//                  last-seen entry point into the network, when it differs
//                  from what this switch last reported for the flow
//   Key-Increment  the flow's bytes (IPv4 total length) or packets, one
//                  report per `every` packets of the flow, carrying what
//                  they add up to
//   Append         the flow's key into list `list` when the flow starts
//   Postcarding    (flow key, hop, switch_id) when the flow starts
// A flow starts when its slot in a per-pipe table of `flow_slots` flows
// (indexed by the key's low bits) holds another flow or none: a flow that
// was evicted and comes back starts again. Flows of one pipe stay in that
// pipe (symmetric RSS), so per-pipe tables see each flow whole, as Tofino's
// per-pipe registers do.
//
// How one packet becomes several (Tofino's way): ingress decides which
// reports the packet makes and sends it to a multicast group whose members
// are the forwarding port (rid kForwardRid) and the report port once per
// report (rid = the report's opcode). The values each report needs ride in
// a bridged header that ingress puts in front of the packet; egress of the
// report port turns its copy into the report (with the reporter's sequence
// number, 3-byte form), egress of the forwarding port takes the header off.
// Packets that make no report are forwarded as they are.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "nlohmann/json.hpp"
#include "pipelines/dta_reporter/reporter_config.h"
#include "softfino/pipe/program.h"

namespace softfino::pipelines {

class DtaReporter final : public pipe::Program {
 public:
  static constexpr uint16_t kForwardRid = 0x100;

  static std::unique_ptr<pipe::Program> Create();
  ~DtaReporter() override;

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  void Egress(pipe::EgressBurst& burst) const override;
  // Egress reads egress_port and egress_rid only.
  pipe::EgressMetadataUse EgressMetadataRead() const override {
    return pipe::EgressMetadataUse::kIdentity;
  }
  std::vector<pipe::ResourceUse> Resources() const override;
  pipe::ProgramReplication Replication() const override;
  nlohmann::json Counters() const override;

 private:
  // A flow's slot: what this pipe remembers of the flow it holds.
  struct FlowSlot {
    uint32_t key = 0;
    bool used = false;
    uint32_t last_written = 0;  // Key-Write value last reported
    uint32_t packets = 0;       // since the last Key-Increment report
    uint64_t count = 0;         // bytes or packets since then
  };
  struct alignas(64) PipeState {
    std::unique_ptr<FlowSlot[]> flows;
    size_t report = 0;  // the report port this pipe's reports take
    uint64_t flow_starts = 0, not_monitored = 0;
    uint64_t reports[5] = {};  // by opcode, decided in ingress
  };

  // A report's frame, built once per opcode in Configure: all of it but
  // the seqnum and the flow's key and value is the same in every report
  // (addresses, lengths, the IPv4 checksum, which covers none of those),
  // so MakeReport copies it and writes just those.
  struct ReportTemplate {
    uint8_t bytes[64];
    uint16_t length = 0;  // 0: the opcode is not reported
    uint16_t base = 0;    // where the DTA base header starts
  };
  // Egress of a report port (the pipe that owns it): one per report port,
  // with its templates (from its own source address).
  struct alignas(64) ReportState {
    uint8_t seqnum = 0;
    uint64_t built = 0, too_long = 0;
    std::array<ReportTemplate, 5> templates;  // by opcode
  };

  // Ingress in passes over a burst: Classify parses each packet, picks its
  // port and takes its 5-tuple (false: forwarded, not reported on); the
  // tuples are hashed together (net::Crc32OfShortBlocks: each CRC a chain
  // of carry-less multiplications, overlapping in one loop, where one
  // table-driven CRC a packet waited on its loads); then Report updates the
  // flow's slot and decides the reports. Before Report the burst's slots
  // load together: a flow's slot is a random place in a table of
  // flow_slots (1.5 MB at 65,536), rarely in this core's L1/L2.
  static constexpr uint32_t kTupleBytes = 13;  // src ip, dst ip, proto, src port, dst port
  struct FlowPacket {
    uint64_t tuple[2];         // the kTupleBytes, then 3 zero bytes
    uint32_t key;              // CRC-32 of the 5-tuple
    uint16_t ip_total_length;  // host order
  };
  bool Classify(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& st, FlowPacket& fp) const;
  void Report(rte_mbuf* m, pipe::IngressMetadata& md, PipeState& st, const FlowPacket& fp) const;
  FlowSlot& SlotOf(PipeState& st, uint32_t key) const {
    return st.flows[key & (config_.flow_slots - 1)];
  }
  void MakeReport(rte_mbuf* m, uint16_t rid, ReportState& report,
                  pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  // Inline: ingress picks a group for every packet it reports on.
  // A group per forwarding port, report port and set of reports.
  uint16_t Group(pipe::PortId out, size_t report, uint8_t mask) const {
    return static_cast<uint16_t>(config_.multicast_group_base +
                                 16 * (forward_index_[out] * config_.report_ports.size() + report) +
                                 mask);
  }

  ReporterConfig config_;
  std::vector<int> forward_index_;  // out port -> index among forwarding ports
  std::vector<pipe::PortId> forward_ports_;
  std::vector<std::unique_ptr<PipeState>> pipes_;
  std::vector<std::unique_ptr<ReportState>> report_;  // by report port (config_.report_ports' order)
  std::vector<int> report_of_port_;  // port -> its index as a report port, or -1
};

}  // namespace softfino::pipelines
