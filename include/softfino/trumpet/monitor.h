// One pipe's Trumpet monitor. On the packet path it only finds the packet's
// flow (a probe of its own hash table, usually of one slot), matches a new flow against all
// triggers once (tuple-space search), and adds the packet to the flow's
// statistics for the current epoch. Everything else happens off the packet
// path, in slices between bursts (Sweep):
//
//   at the end of epoch e (a fixed period, epoch_ns, that divides every
//   trigger interval) the sweep visits the flows active in e, adds their
//   statistics to each matched trigger's group (the flow's 5-tuple cut to
//   the trigger's group lengths), and for every trigger whose interval ends
//   with e, evaluates each group's predicate, emits events and starts over.
//
// Statistics are double-buffered by epoch parity and reset lazily (a slot
// stamped with an older epoch counts as empty), so the sweep of e runs while
// packets of e+1 arrive. If the sweep of e is still unfinished when e+2
// begins, it is completed at once and counted as an overrun: results never
// depend on how the sweep was sliced, only its delay does.
//
// One monitor belongs to one pipe and is used by that pipe's thread only.
#pragma once

#include <rte_hash_crc.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "softfino/trumpet/event.h"
#include "softfino/trumpet/trigger_set.h"

namespace softfino::trumpet {

struct MonitorConfig {
  uint16_t pipe = 0;
  uint32_t flow_capacity = 65536;
  uint64_t epoch_ns = 1'000'000;
  uint64_t burst_gap_ns = 100'000;       // a gap longer than this starts a burst
  uint64_t idle_timeout_ns = 1'000'000'000;  // flows idle this long leave the table
  uint64_t sweep_budget_cycles = 0;      // per slice (TSC cycles); 0: one step per slice
  uint32_t event_ring_size = 65536;      // events (power of two)
  // Several pipes: send every group's sums (kPartial) and let the event
  // manager add them up and evaluate, instead of evaluating here.
  bool export_partials = false;
  // Flood protection (Trumpet section 5): a flow gets a table entry only
  // from its Nth packet, counted in a small counting filter; packets before
  // that are not in any statistics. 1: every flow at once.
  uint32_t admit_after = 1;
};

// The flow table's hash of a 5-tuple: two crc32 instructions over the 13
// bytes. Flows of one hash share a probe sequence and are told apart by
// their keys (tests build such pairs). Inline: it runs for every packet.
inline uint32_t FlowHash(const FiveTuple& t) {
  const uint64_t addresses = uint64_t{t.src} << 32 | t.dst;
  const uint64_t rest = uint64_t{t.sport} << 24 | uint64_t{t.dport} << 8 | t.proto;
  return rte_hash_crc_8byte(rest, rte_hash_crc_8byte(addresses, 0));
}

// A packet as the monitor sees it.
struct PacketView {
  FiveTuple flow;
  uint32_t bytes = 0;
  uint64_t tstamp_ns = 0;
  bool tcp = false;
  uint32_t tcp_seq = 0;
  uint32_t tcp_payload = 0;
};

struct MonitorCounters {
  uint64_t packets = 0;
  uint64_t flows_added = 0, flows_expired = 0;
  uint64_t flow_table_full = 0;   // packets of flows with no room
  uint64_t not_admitted = 0;      // packets the counting filter held back
  uint64_t match_overflow = 0;    // flows matching more triggers than a flow entry holds
  uint64_t sweeps = 0, sweep_slices = 0;
  uint64_t sweep_overruns = 0;    // sweeps finished at once because e+2 began
  uint64_t longest_slice_cycles = 0;  // the longest slice between bursts: packets' added wait
  // Slices between bursts by length: [k] counts those of 2^k .. 2^(k+1)-1 TSC cycles.
  uint64_t slice_cycles_log2[40] = {};
  uint64_t events = 0, events_lost = 0;  // lost: the ring to the slow path was full
  uint64_t trigger_set_changes = 0;
};

class Monitor {
 public:
  static constexpr size_t kMaxTriggersPerFlow = 16;

  static absl::StatusOr<std::unique_ptr<Monitor>> Create(const MonitorConfig& config,
                                                         std::shared_ptr<const TriggerSet> set);
  ~Monitor();

  // Packet path: a burst of packets, in time order.
  void OnPackets(const PacketView* pkts, uint16_t n);
  // Between bursts: time moves to `now_ns` (closing epochs even when no
  // packet came) and one bounded slice of pending sweep work runs.
  void Background(uint64_t now_ns);
  // At the end of a replay or a run: closes every epoch that ended by
  // `end_ns` and finishes all sweeps.
  void Finish(uint64_t end_ns);

  // The slow path offers a new trigger set; the pipe adopts it at its next
  // epoch boundary. A trigger new to the set starts at its first interval
  // boundary from then on; one left out stops there (its partial interval
  // is dropped). Thread-safe against the pipe.
  void Offer(std::shared_ptr<const TriggerSet> set);
  // The generation the pipe runs now (the slow path frees older sets).
  uint64_t adopted_generation() const;

  rte_ring* events() const { return events_; }
  const MonitorCounters& counters() const { return counters_; }
  const MonitorConfig& config() const { return config_; }

 private:
  struct Sums {
    uint64_t v[static_cast<int>(Metric::kCount)] = {};
  };
  struct EpochStats {
    uint64_t epoch = ~uint64_t{0};
    uint64_t bytes = 0;
    uint32_t packets = 0, lost = 0, bursts = 0;
  };
  struct FlowEntry;
  struct TriggerState {
    uint32_t id = 0;
    uint64_t first_epoch = 0;  // its first full interval starts here
    absl::flat_hash_map<FiveTuple, Sums> groups;
  };

  Monitor(const MonitorConfig& config, std::shared_ptr<const TriggerSet> set);
  absl::Status Init();
  void AdvanceTo(uint64_t epoch);
  void Adopt(std::shared_ptr<const TriggerSet> set);
  // Runs the pending sweep; `budget_cycles` 0 means to the end.
  void RunSweep(uint64_t budget_cycles);
  void Aggregate(uint32_t flow_slot, uint64_t epoch);
  // A per-flow trigger fired for flow f (its sums over the epoch).
  void EmitFlowEvent(const FlowEntry& f, const uint64_t (&sums)[static_cast<int>(Metric::kCount)],
                     const Trigger& t, uint64_t epoch);
  // Resumable: returns false when out_of_time() stopped it part-way.
  bool CloseIntervals(uint64_t epoch, const std::function<bool()>& out_of_time);
  void NoteSlice(uint64_t start_tsc);
  void Emit(const Event& e);
  void ExpireSome(unsigned count);
  bool Admit(const FiveTuple& flow);
  // The flow table: a flow's position in entries_, or -1.
  int32_t FindFlow(const FiveTuple& flow, uint32_t hash) const;
  int32_t FindByHash(uint32_t hash) const;  // the first of that hash; key unchecked
  void PrefetchEntry(uint32_t pos, unsigned lines) const;
  int32_t AddFlow(const FiveTuple& flow, uint32_t hash);  // -1: full
  void RemoveFlow(uint32_t pos);

  MonitorConfig config_;
  std::shared_ptr<const TriggerSet> set_;
  std::vector<TriggerState> state_;  // by trigger index in set_
  // The flow table's index, open addressing with linear probing over at
  // least twice flow_capacity slots (a power of two), so a probe rarely
  // looks past one slot: each holds a flow's hash and its position in
  // entries_ + 1 (0: empty). Replaces an rte_hash: its bulk lookup cost
  // about 190 instructions per packet, FindFlow here 36 (callgrind).
  struct IndexSlot {
    uint32_t hash = 0;
    uint32_t pos1 = 0;
  };
  std::unique_ptr<IndexSlot[]> index_;
  uint32_t index_mask_ = 0;
  // Free positions, the longest free first (a FIFO ring), as rte_hash
  // handed them out: flows get the same positions, and the expiry walk
  // (slot order) meets them in the same order.
  std::unique_ptr<uint32_t[]> free_;
  uint32_t free_head_ = 0, free_count_ = 0;
  std::unique_ptr<FlowEntry[]> entries_;  // by position
  std::vector<uint32_t> active_[2];       // flows with statistics in an epoch, by parity
  uint32_t active_count_[2] = {0, 0};
  uint64_t epoch_ = 0;                    // the current epoch
  bool started_ = false;
  // The sweep of epoch sweep_epoch_ (pending when sweep_pending_).
  bool sweep_pending_ = false;
  uint64_t sweep_epoch_ = 0;
  uint32_t sweep_next_ = 0;  // next index into active_[sweep_epoch_ & 1]
  bool sweep_sliced_ = false;  // it has had a slice of its own (not only forced runs)
  uint32_t pending_groups_ = 0;
  size_t close_class_ = 0, close_index_ = 0;  // where closing the sweep's intervals stopped
  bool in_background_ = false;  // triggers with groups waiting for their interval's end
  uint32_t expire_cursor_ = 0;  // the next slot the expiry walk looks at
  uint64_t expire_quota_ = 0, expire_per_epoch_ = 1;  // slots it may still look at
  std::vector<uint8_t> admit_filter_;
  rte_ring* events_ = nullptr;
  void* events_mem_ = nullptr;
  // The latest offer; whoever swaps it out owns it (the pipe, to adopt; the
  // slow path, to replace an offer not yet adopted).
  std::atomic<std::shared_ptr<const TriggerSet>*> offered_{nullptr};
  std::atomic<uint64_t> adopted_generation_{0};
  MonitorCounters counters_;
};

}  // namespace softfino::trumpet
