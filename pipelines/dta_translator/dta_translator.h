// dta_translator: DTA's translator switch. Reports from reporters (UDP to
// 40040, net/dta.h) become RoCEv2 requests into collectors' memory, laid out
// as dta/ describes, so no collector CPU touches a report:
//   Key-Write      N WRITEs of an 8-byte slot (N = the report's redundancy)
//   Key-Increment  N FETCH_ADDs, one per Count-Min row
//   Append         one WRITE of B entries per B reports of a list, and every
//                  head_interval batches a WRITE of the list's head
//   Postcarding    hop values gathered in a cache; one WRITE of the path per
//                  copy when a flow's path is whole or evicted
//
// Where the work happens, as on a Tofino:
//   ingress (any pipe)  parses and checks the report, picks the collector
//                       (a hash of the key; list % collectors for Append) and
//                       how many copies, and sends it to the collector's
//                       port: unicast, or to a multicast group making N
//                       copies with rid 0..N-1.
//   egress of the collector's port (one pipe owns it)  holds everything
//                       stateful: the queue pairs' PSNs, the Append batches,
//                       the Postcarding cache. Each copy becomes one request
//                       (copy rid = Key-Write copy / Key-Increment row /
//                       Postcarding copy). An Append batch that must publish
//                       the head is cloned egress-to-egress; the clone comes
//                       back through the same egress and becomes the head
//                       WRITE, right behind its batch.
// Answers from a collector arrive at ingress on its port (in whichever pipe
// RSS picks) and are sent on to that port's egress, where the queue pairs
// live: a NAK resyncs its queue pair's PSN to the one the collector expects
// (DTA's decision: telemetry tolerates loss, so nothing is resent; what was
// lost is counted); ACKs say what is known executed. Timer packets of the
// packet generator go to every collector's egress too, where each may
// carry a probe of a queue pair that went quiet (a NAK or the request after
// it lost would otherwise stall it for good; see rc_requester.h).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "pipelines/dta_translator/translator_config.h"
#include "softfino/dta/append_batcher.h"
#include "softfino/dta/layout.h"
#include "softfino/dta/postcard_cache.h"
#include "softfino/net/crc.h"
#include "softfino/net/dta.h"
#include "softfino/net/reason_counters.h"
#include "softfino/pipe/program.h"
#include "softfino/rdma/connection.h"
#include "softfino/rdma/rc_requester.h"
#include "softfino/rdma/roce_builder.h"

namespace softfino::pipelines {

// Why the translator refused a report that parsed: its config does not
// allow it. Counted beside net::DtaParseError.
enum class TranslatorRefusal : uint8_t {
  kPrimitiveOff,         // the layout gives the primitive no memory
  kUnknownList,          // Append list >= the layout's lists
  kRedundancyAboveRows,  // Key-Increment redundancy > the sketch's rows
  kHopBeyondPath,        // Postcarding hop > postcarding_path_length
  kCount,
};

class DtaTranslator final : public pipe::Program {
 public:
  static std::unique_ptr<pipe::Program> Create();
  ~DtaTranslator() override;

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  void Egress(pipe::EgressBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;
  pipe::ProgramReplication Replication() const override;
  nlohmann::json Counters() const override;
  bool ReconnectsRdma() const override { return true; }
  void SetRdmaConnectionsDown(const std::vector<std::string>& names, bool down) override;
  absl::Status RdmaConnectionsUp(const std::vector<std::string>& names,
                                 const nlohmann::json& config) override;

 private:
  enum Structure : uint8_t { kKeyWrite, kKeyIncrement, kAppend, kPostcarding, kStructures };

  // One structure's queue pair to one collector: its PSN register (the
  // requester, in resync mode) and the fields of its requests.
  struct QueuePair {
    QueuePair(const rdma::ConnectedQueuePair& c, rdma::RoceBuilder b,
              const rdma::RcRequesterConfig& rc)
        : conn(c), builder(b), requester(rc) {}
    rdma::ConnectedQueuePair conn;
    rdma::RoceBuilder builder;
    rdma::RcRequester requester;
  };

  // A Postcarding path emitted by copy 0 of a postcard, waiting for the
  // postcard's other copies (rid 1..N-1) to write its other copies. Copies
  // of one postcard are queued together but other packets may come between
  // them, so a few are kept, found by the postcard that made them.
  struct PendingPath {
    uint32_t report_key = 0, report_data = 0;
    uint8_t report_hop = 0;
    uint8_t copies_left = 0;  // bit r: copy r still to write
    dta::PostcardPath path;
  };
  static constexpr int kPendingPaths = 16;

  // A restarted collector's new queue pairs and fresh Append batches and
  // Postcarding cache (its memory starts empty), made on the supervisor's
  // thread and swapped in by the egress that owns the collector's port, so
  // that egress neither allocates nor frees: the old contents come back in
  // this same object, which the supervisor frees.
  struct Reconnection {
    std::array<std::optional<rdma::ConnectedQueuePair>, kStructures> conns;
    std::array<std::optional<rdma::RoceBuilder>, kStructures> builders;
    std::optional<dta::AppendBatcher> batcher;
    std::optional<dta::PostcardCache> cache;
  };

  // Everything the egress of one collector's port keeps.
  struct alignas(64) CollectorState {
    pipe::PortId port = 0;
    uint16_t index = 0;  // in config_.collectors
    std::array<std::unique_ptr<QueuePair>, kStructures> qps;
    std::optional<dta::AppendBatcher> batcher;
    std::optional<dta::PostcardCache> cache;
    std::array<PendingPath, kPendingPaths> pending{};
    uint32_t next_pending = 0;
    uint64_t sent = 0;  // for drop_every
    // Egress time in ns, unwrapped from the TM's 32-bit timestamps.
    uint64_t clock_ns = 0;
    uint32_t last_tstamp = 0;
    uint8_t next_probe_qp = 0;  // round robin over the queue pairs
    // Requests built in this egress burst whose ICRC is still to write
    // (RoceBuilder::IcrcWhen::kLater; Egress writes them after the burst).
    uint16_t icrc_later_count = 0;
    std::array<rte_mbuf*, pipe::kBurstSize> icrc_later{};
    // Reconnection: set by the supervisor's thread, read by egress.
    std::atomic<bool> down{false};
    std::atomic<Reconnection*> reconnection{nullptr};  // to adopt at the next packet
    std::atomic<Reconnection*> adopted{nullptr};  // adopted, for the supervisor to free
    uint64_t lost_while_down = 0, reconnects = 0, unacknowledged_at_reconnect = 0;
    // Counters of what this egress did.
    uint64_t requests = 0, injected_losses = 0, build_failures = 0, answers = 0,
             head_writes = 0, paths_complete = 0, paths_evicted = 0, copies_unused = 0,
             probes = 0;
  };

  // A reporter's sequence numbers, as one pipe sees them.
  struct ReporterSlot {
    uint32_t ip = 0;
    uint8_t expected = 0;
    bool used = false;
  };

  // Per pipe ingress state and counters (each pipe's worker writes only
  // its own).
  struct alignas(64) IngressCounters {
    std::unique_ptr<ReporterSlot[]> reporters;
    uint64_t sequence_gaps = 0, missing_reports = 0;
    net::DtaDropCounters parse;
    net::ReasonCounters<TranslatorRefusal> refused;
    std::array<uint64_t, 5> reports{};  // by opcode 1..4
    uint64_t acks = 0, naks = 0, answers_bad = 0, timer_packets = 0;
  };

  void IngressOne(rte_mbuf* m, pipe::IngressMetadata& md, IngressCounters& counters) const;
  void Answer(rte_mbuf* m, pipe::IngressMetadata& md, IngressCounters& counters,
              int collector) const;
  // Tracks the reporter's sequence numbers; on a gap, mirrors the report to
  // the port it came in on, where egress turns the copy into a NACK.
  // (The report's fields by value: its address taken, `r` stayed on
  // IngressOne's stack, and the bridge read two of its byte fields in one
  // load across the parser's stores: a store-forwarding stall.)
  void TrackSequence(uint32_t src_ip, uint8_t seqnum, pipe::IngressMetadata& md,
                     IngressCounters& counters) const;
  void MakeNack(rte_mbuf* m, pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  // A collector's Append batches and Postcarding cache, empty.
  absl::Status MakeBuffers(std::optional<dta::AppendBatcher>& batcher,
                           std::optional<dta::PostcardCache>& cache) const;
  // Adopts a pending reconnection (egress of the collector's port).
  void Adopt(CollectorState& c) const;
  // The queue pair of structure `s` of collector `name` for the pipe that
  // owns the collector's port, from `config` (Configure and reconnection).
  absl::StatusOr<std::unique_ptr<QueuePair>> MakeQueuePair(const nlohmann::json& config,
                                                            const std::string& name, int s,
                                                            pipe::PortId* port) const;
  void EgressOne(rte_mbuf* m, const pipe::EgressIntrinsicMetadata& eg,
                 pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  void Translate(rte_mbuf* m, const net::DtaReport& r, uint16_t rid, CollectorState& c,
                 pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  void PublishHead(rte_mbuf* m, CollectorState& c,
                   pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  // A timer packet: carries the first due probe, or is dropped.
  void Tick(rte_mbuf* m, CollectorState& c, pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  // Builds `f` (PSN set) into `m` for `qp`, or drops `m`.
  void Build(rte_mbuf* m, CollectorState& c, QueuePair& qp, const rdma::PacketFields& f,
             pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  // Posts `f` on `qp` and builds it into `m`, or drops `m` (injected loss,
  // a build failure).
  void Send(rte_mbuf* m, CollectorState& c, QueuePair& qp, rdma::PacketFields& f,
            pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  void SendPath(rte_mbuf* m, CollectorState& c, const dta::PostcardPath& path, uint8_t copy,
                pipe::EgressIntrinsicMetadataForDeparser& dprsr) const;
  int CollectorOfKey(uint32_t key) const;
  // The multicast group of timer packets: one copy to every collector.
  uint16_t TickGroup() const {
    return static_cast<uint16_t>(config_.multicast_group_base + 4 * collectors_.size());
  }

  static constexpr uint8_t kNackMirrorMagic = 0xda;

  TranslatorConfig config_;
  uint16_t pipe_count_ = 1;
  pipe::SwitchInfo info_;
  dta::Layout layout_;
  std::optional<net::Crc> spread_hash_;  // key -> collector
  std::vector<int> collector_of_port_;   // -1: not a collector's port
  std::vector<std::unique_ptr<CollectorState>> collectors_;
  std::vector<std::unique_ptr<IngressCounters>> ingress_;  // per pipe
  // Collector `ci` has a connection named in `names`.
  bool HasConnection(size_t ci, const std::vector<std::string>& names) const;
  // NACKs built (egress of reporter ports; several pipes may own one).
  std::unique_ptr<std::atomic<uint64_t>[]> nacks_sent_;
};

}  // namespace softfino::pipelines
