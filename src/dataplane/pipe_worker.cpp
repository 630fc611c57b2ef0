#include "softfino/dataplane/pipe_worker.h"

#include "softfino/dataplane/packet_copy.h"
#include "softfino/dataplane/soft_rss.h"

#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>

namespace softfino::dataplane {

using pipe::DropReason;

namespace {

constexpr tm::Picoseconds kPsBitsPerSecond = 8'000'000'000'000;
constexpr uint64_t kNotStarted = ~uint64_t{0};

DropReason Charged(DropReason reason, DropReason otherwise) {
  return reason == DropReason::kNone ? otherwise : reason;
}

}  // namespace

PipeWorker::PipeWorker(PipeSetup setup)
    : s_(std::move(setup)),
      recirc_port_(pipe::RecirculationPort(s_.id)),
      recirc_tm_(*tm::EgressPort::Create(recirc_port_, s_.recirculation)),
      recirculates_(s_.program->UsesRecirculation()),
      stamp_links_(s_.clock == ClockMode::kVirtual &&
                   std::find(s_.internal_link.begin(), s_.internal_link.end(), true) !=
                       s_.internal_link.end()),
      original_(s_.program->UsesResubmit() ? pipe::kBurstSize : 0),
      rx_stages_(s_.rx_queues.size()),
      recirc_(kRecircSlots),
      ingress_free_(s_.port_count, 0),
      ingress_ps_per_byte_(s_.port_count, 0),
      egress_(s_.port_count + 1u),
      departure_(s_.port_count + 1u),
      next_fire_ns_(s_.pktgen.size(), kNotStarted),
      pktgen_batch_(s_.pktgen.size(), 0) {
  // The other pipes' inboxes this pipe hands packets to, one HandOff each.
  const auto handoff_of = [this](rte_ring* ring) -> int16_t {
    if (ring == nullptr) return -1;
    for (size_t h = 0; h < handoffs_.size(); ++h) {
      if (handoffs_[h].ring == ring) return static_cast<int16_t>(h);
    }
    handoffs_.push_back({ring});
    return static_cast<int16_t>(handoffs_.size() - 1);
  };
  for (rte_ring* ring : s_.owner_inbox) handoff_of_port_.push_back(handoff_of(ring));
  for (rte_ring* ring : s_.pipe_inbox) handoff_of_pipe_.push_back(handoff_of(ring));
  for (const RxQueueRef& q : s_.rx_queues) {
    if (q.spread != nullptr) spreads_.push_back(q.spread);
  }
  for (size_t port = 0; port < s_.port_rate_bps.size() && port < s_.port_count; ++port) {
    if (s_.port_rate_bps[port] != 0) ingress_ps_per_byte_[port] = kPsBitsPerSecond / s_.port_rate_bps[port];
  }
  const pipe::EgressMetadataUse egress_metadata = s_.program->EgressMetadataRead();
  for (auto& port : s_.owned_ports) {
    if (port) port->set_metadata_use(egress_metadata);
  }
  recirc_tm_->set_metadata_use(egress_metadata);
}

PipeWorker::~PipeWorker() {
  const auto free_all = [](const tm::Dequeued& d) { rte_pktmbuf_free(d.pkt); };
  for (auto& port : s_.owned_ports) {
    if (port) port->AdvanceTo(tm::kNever, free_all);
  }
  recirc_tm_->AdvanceTo(tm::kNever, free_all);
  for (RxStage& stage : rx_stages_) {
    for (uint16_t i = stage.next; i < stage.count; ++i) rte_pktmbuf_free(stage.pkts[i]);
  }
  for (uint32_t i = 0; i < recirc_count_; ++i) {
    rte_pktmbuf_free(recirc_[(recirc_head_ + i) % kRecircSlots].pkt);
  }
}

void PipeWorker::Drop(rte_mbuf* pkt, DropReason reason) {
  stats_.drops[static_cast<size_t>(reason)].Add(1);
  rte_pktmbuf_free(pkt);
}

// Inlined into its callers (Dispose, once per packet, above all): the call
// and its register spills cost more than the work for a plain unicast packet.
[[gnu::always_inline]] inline void PipeWorker::Enqueue(rte_mbuf* pkt, pipe::PortId port,
                                                       tm::PacketInfo info,
                                                       tm::Picoseconds arrival) {
  tm::EgressPort* tm_port = port == recirc_port_ ? recirc_tm_.get() : s_.owned_ports[port].get();
  if (tm_port == nullptr) {
    HandOver(handoffs_[handoff_of_port_[port]], pkt, port, info, arrival);
    return;
  }
  // Packets that left before this one arrived must not count in its depth.
  // What leaves is only collected here, straight into the port's egress
  // burst (usually one packet per arrival: inline, no copy): the egress
  // pipeline and TX run on whole bursts, when one is full or at the end of
  // the poll (AdvanceEgress), not once per arriving packet (which made
  // l3fwd send bursts of one packet).
  ReleaseBefore(*tm_port, arrival);
  if (!tm_port->Enqueue(pkt, info, arrival)) Drop(pkt, DropReason::kTmQueueFull);
}

[[gnu::always_inline]] inline void PipeWorker::ReleaseBefore(tm::EgressPort& tm_port,
                                                             tm::Picoseconds arrival) {
  const size_t slot = Slot(tm_port.port());
  pipe::EgressBurst& eb = egress_[slot];
  while (tm_port.DequeueOne(arrival, eb.pkts[eb.count], eb.eg_intr_md[eb.count],
                            departure_[slot][eb.count])) {
    if (++eb.count == pipe::kBurstSize) RunEgress(tm_port);
  }
}

// What the deparser and TM do with a packet that ingress neither dropped,
// mirrored nor resubmitted, and that did not come back from recirculation
// (nothing for Dispose to count): kUnicast, queue it at a port this pipe
// owns; kMulticast, replicate it to its group (and nothing else); kOther,
// the rest (Dispose).
enum class PipeWorker::Fate : uint8_t { kOther, kUnicast, kMulticast };

[[gnu::always_inline]] inline PipeWorker::Fate PipeWorker::FateOf(
    const pipe::IngressMetadata& md) const {
  const auto& dprsr = md.ig_intr_md_for_dprsr;
  const auto& for_tm = md.ig_intr_md_for_tm;
  if ((dprsr.drop_ctl | dprsr.mirror_type | dprsr.resubmit_type) != 0 ||
      md.ig_intr_md.ingress_port == recirc_port_) {
    return Fate::kOther;
  }
  if (for_tm.mcast_grp_a != 0) {
    return for_tm.ucast_egress_port == pipe::kInvalidPort ? Fate::kMulticast : Fate::kOther;
  }
  return for_tm.ucast_egress_port < s_.port_count &&
                 s_.owned_ports[for_tm.ucast_egress_port] != nullptr
             ? Fate::kUnicast
             : Fate::kOther;
}

// Whether packet `b` goes where packet `a` goes, in the same way: one run.
[[gnu::always_inline]] inline bool PipeWorker::SameRun(Fate fate, const pipe::IngressMetadata& a,
                                                       const pipe::IngressMetadata& b) const {
  const auto& x = a.ig_intr_md_for_tm;
  const auto& y = b.ig_intr_md_for_tm;
  return FateOf(b) == fate && x.ucast_egress_port == y.ucast_egress_port && x.qid == y.qid &&
         x.mcast_grp_a == y.mcast_grp_a;
}

// `n` packets arriving at `arrival`, to queue `info.qid` of `port`: into
// its TM together when this pipe owns it, else one by one.
void PipeWorker::EnqueueTogether(rte_mbuf* const* pkts, uint16_t n, pipe::PortId port,
                                 tm::PacketInfo info, tm::Picoseconds arrival) {
  tm::EgressPort* tm_port = port < s_.port_count ? s_.owned_ports[port].get() : nullptr;
  if (tm_port == nullptr) {
    for (uint16_t i = 0; i < n; ++i) Enqueue(pkts[i], port, info, arrival);
    return;
  }
  ReleaseBefore(*tm_port, arrival);
  rte_mbuf* refused[pipe::kBurstSize];
  const uint32_t dropped = tm_port->EnqueueBurst(pkts, n, info, arrival, refused);
  for (uint32_t i = 0; i < dropped; ++i) Drop(refused[i], DropReason::kTmQueueFull);
}

// Packets first..first+n-1 of burst_, one run (SameRun): those arriving at
// one time (all of them, in real time) go into the TM together.
void PipeWorker::EnqueueRun(Fate fate, uint16_t first, uint16_t n) {
  const auto& for_tm = burst_.md[first].ig_intr_md_for_tm;
  for (uint16_t k = first, end = static_cast<uint16_t>(first + n); k < end;) {
    const tm::Picoseconds arrival = arrival_[k];
    uint16_t together = 1;
    while (k + together < end && arrival_[k + together] == arrival) ++together;
    if (fate == Fate::kUnicast) {
      tm::PacketInfo info;
      info.qid = for_tm.qid;
      EnqueueTogether(&burst_.pkts[k], together, for_tm.ucast_egress_port, info, arrival);
    } else {
      Multicast(&burst_.pkts[k], together, for_tm.mcast_grp_a, /*keep_originals=*/false, arrival);
    }
    k = static_cast<uint16_t>(k + together);
  }
}

[[gnu::always_inline]] inline void PipeWorker::HandOver(HandOff& h, rte_mbuf* pkt,
                                                        pipe::PortId port,
                                                        tm::PacketInfo info,
                                                        tm::Picoseconds arrival) {
  TmTag* tag = RTE_MBUF_DYNFIELD(pkt, s_.tm_tag_offset, TmTag*);
  tag->arrival = arrival;
  tag->egress_port = port;
  tag->info = info;
  h.pkts[h.count++] = pkt;
  if (h.count == pipe::kBurstSize) FlushHandOff(h);
}

bool PipeWorker::RecirculateInPipe(rte_mbuf* pkt, pipe::PortId port, tm::PacketInfo info,
                                   tm::Picoseconds arrival) {
  if (!pipe::IsRecirculationPort(port)) return false;
  const uint16_t pipe = pipe::PipeOfRecirculationPort(port);
  if (pipe >= handoff_of_pipe_.size() || handoff_of_pipe_[pipe] < 0) return false;
  // The other pipe's inbox drain enqueues it on its recirculation port.
  HandOver(handoffs_[handoff_of_pipe_[pipe]], pkt, port, info, arrival);
  return true;
}

void PipeWorker::CountRx(pipe::PortId port, rte_mbuf* const* pkts, uint16_t n) {
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) bytes += pkts[i]->pkt_len;
  stats_.ports[port].rx_packets.Add(n);
  stats_.ports[port].rx_bytes.Add(bytes);
}

void PipeWorker::FlushHandOff(HandOff& h) {
  const unsigned sent = rte_ring_mp_enqueue_burst(h.ring, reinterpret_cast<void* const*>(h.pkts.data()),
                                                  h.count, nullptr);
  for (unsigned i = sent; i < h.count; ++i) Drop(h.pkts[i], DropReason::kTmHandoffFull);
  h.count = 0;
}

bool PipeWorker::OutboxesHaveRoom() const {
  // Each other pipe may hand an inbox one ingress burst's worth in one poll
  // (copies aside: a multicast burst can exceed it, and what does not fit is
  // dropped as tm_handoff_full).
  const unsigned inbox_reserve = pipe::kBurstSize * std::max(1u, s_.pipe_count - 1u);
  for (const HandOff& h : handoffs_) {
    if (rte_ring_free_count(h.ring) < inbox_reserve) return false;
  }
  // A burst read from a spread port may all go to any one of its rings,
  // which only this pipe fills.
  for (const SoftRss* spread : spreads_) {
    if (!spread->HasRoom(pipe::kBurstSize)) return false;
  }
  return true;
}

uint32_t PipeWorker::PollOnce() {
  rep_ = s_.replication->Acquire();
  // Back-pressure between pipes: while another pipe's inbox might not take
  // what this poll hands it, this pipe takes no new packets. They wait in
  // the NIC's queue (which counts what overflows it as rx_missed, as a NIC
  // would under any overload) instead of being dropped between two pipes
  // of one switch, where a Tofino's crossbar never loses a packet. The
  // other pipe drains its inbox every poll, whatever its own outboxes say,
  // so two pipes can never wait on each other. (Reading a ring's free count
  // touches the lines an enqueue reads anyway.)
  const bool hold_back = !OutboxesHaveRoom();
  uint32_t received = 0;
  if (hold_back) {
    stats_.held_back.Add(1);
  } else {
    received = s_.clock == ClockMode::kReal ? ReceiveReal() : ReceiveVirtual();
  }
  // (In virtual time the timers fire inside ReceiveVirtual, in time order
  // with the arrivals.)
  if (!s_.pktgen.empty() && s_.clock == ClockMode::kReal) Generate(real_clock_.Now());
  FlushHandOffs();
  DrainInbox();
  if (s_.clock == ClockMode::kReal) {
    AdvanceEgress(real_clock_.Now());
  } else {
    // Nothing new arrived: in a replay that means the input is drained, so
    // time runs on until every queue is empty (not when held back: then
    // the input waits).
    AdvanceEgress(received || hold_back ? virtual_now_ : tm::kNever);
  }
  s_.program->Background(s_.id, NowNs());
  FlushHandOffs();  // egress mirror copies: nothing stays gathered between polls
  stats_.polls.Add(1);
  if (received) stats_.busy_polls.Add(1);
  // Between polls this pipe holds no table version: old ones may be freed.
  if (s_.qsbr != nullptr) rte_rcu_qsbr_quiescent(s_.qsbr, s_.id);
  return received;
}

void PipeWorker::Generate(tm::Picoseconds now) {
  const uint64_t now_ns = now / tm::kPsPerNs;
  for (size_t a = 0; a < s_.pktgen.size(); ++a) {
    const pipe::PktgenApp& app = s_.pktgen[a];
    if (next_fire_ns_[a] == kNotStarted) next_fire_ns_[a] = now_ns + app.period_ns;
    // Virtual time jumps from arrival to arrival, so every firing it passed
    // is made up (up to a bound, for replays with gaps of hours). In real
    // time, firings missed while the pipe was busy are not made up in a
    // burst: the timer slips, as a late timer would.
    const unsigned max_firings = s_.clock == ClockMode::kVirtual ? 1024 : 1;
    for (unsigned fired = 0; fired < max_firings && now_ns >= next_fire_ns_[a]; ++fired) {
      next_fire_ns_[a] += app.period_ns;
      (void)Fire(app, a, now);
    }
    if (next_fire_ns_[a] <= now_ns) next_fire_ns_[a] = now_ns + app.period_ns;
  }
}

uint32_t PipeWorker::Fire(const pipe::PktgenApp& app, size_t a, tm::Picoseconds now) {
  // In virtual time a firing enters at the arrival that passed its time:
  // the traffic manager takes packets in time order.
  const uint64_t now_ns = now / tm::kPsPerNs;
  uint32_t made = 0;
  for (uint16_t b = 0; b < app.batches; ++b) {
    const uint16_t batch_id = pktgen_batch_[a]++;
    for (uint32_t first = 0; first < app.packets_per_batch; first += pipe::kBurstSize) {
      const uint16_t n = static_cast<uint16_t>(
          std::min<uint32_t>(pipe::kBurstSize, app.packets_per_batch - first));
      stats_.generated.Add(n);
      made += n;
      if (rte_pktmbuf_alloc_bulk(s_.pool, burst_.pkts, n) != 0) {
        stats_.drops[static_cast<size_t>(DropReason::kNoBufferForCopy)].Add(n);
        continue;
      }
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = burst_.pkts[i];
        auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, app.packet_len));
        std::memset(data, 0, app.packet_len);
        pipe::PktgenTimerHeader h{};
        h.pipe_app = static_cast<uint8_t>(((s_.id & 0x3) << 3) | (app.app_id & 0x7));
        h.batch_id = rte_cpu_to_be_16(batch_id);
        h.packet_id = rte_cpu_to_be_16(static_cast<uint16_t>(first + i));
        std::memcpy(data, &h, sizeof(h));
      }
      burst_.Reset(n, pipe::PktgenPort(s_.id), now_ns, s_.id);
      arrival_.fill(now);
      RunIngress();
    }
  }
  return made;
}

void PipeWorker::Flush() {
  rep_ = s_.replication->Acquire();
  // Recirculated packets come back through ingress and may be queued again;
  // a program that recirculates forever is cut off after a few rounds.
  for (int round = 0; round < 16; ++round) {
    DrainInbox();
    AdvanceEgress(tm::kNever);
    FlushHandOffs();
    if (recirc_count_ == 0) return;
    PollOnce();
  }
}

bool PipeWorker::Quiet() const {
  if (recirc_count_ != 0 || !s_.pktgen.empty() || recirc_tm_->backlog() != 0) return false;
  if (s_.inbox != nullptr && rte_ring_count(s_.inbox) != 0) return false;
  for (const auto& port : s_.owned_ports) {
    if (port != nullptr && port->backlog() != 0) return false;
  }
  for (const RxStage& stage : rx_stages_) {
    if (stage.next != stage.count) return false;
  }
  return true;
}

uint32_t PipeWorker::ReceiveReal() {
  uint32_t received = 0;
  const auto run = [&](uint16_t n, pipe::PortId port) {
    const tm::Picoseconds now = real_clock_.Now();
    burst_.Reset(n, port, now / tm::kPsPerNs, s_.id);
    arrival_.fill(now);
    RunIngress();
  };
  for (const RxQueueRef& q : s_.rx_queues) {
    uint16_t n = q.ring != nullptr
                     ? static_cast<uint16_t>(rte_ring_sc_dequeue_burst(
                           q.ring, reinterpret_cast<void**>(burst_.pkts), pipe::kBurstSize, nullptr))
                     : rte_eth_rx_burst(q.ethdev, q.queue, burst_.pkts, pipe::kBurstSize);
    if (n == 0) continue;
    // What this pipe spreads to others is work done here too: a reader
    // that kept none of its burst must not look idle and go to sleep.
    received += n;
    if (q.spread != nullptr) n = Spread(*q.spread, n);
    CountRx(q.port, burst_.pkts, n);
    if (n != 0) run(n, q.port);
  }
  if (recirc_count_ != 0) {
    uint16_t n = 0;
    for (; n < pipe::kBurstSize && recirc_count_ != 0; ++n, --recirc_count_) {
      burst_.pkts[n] = recirc_[recirc_head_].pkt;
      recirc_head_ = (recirc_head_ + 1) % kRecircSlots;
    }
    received += n;
    run(n, recirc_port_);
  }
  return received;
}

uint16_t PipeWorker::Spread(SoftRss& rss, uint16_t n) {
  rte_mbuf* refused[pipe::kBurstSize];
  uint16_t n_refused = 0;
  const uint16_t kept = rss.Spread(burst_.pkts, n, refused, &n_refused);
  if (n_refused != 0) {  // received here, then lost: counted as both
    CountRx(rss.port(), refused, n_refused);
    for (uint16_t i = 0; i < n_refused; ++i) Drop(refused[i], DropReason::kSoftRssFull);
  }
  return kept;
}

// ReceiveVirtual's merge (below) for a single source: every packet left in
// the stage, in order, each arriving when it was stamped but not before the
// wire is free of the one before (nor before now). At most a burst: a stage
// holds one. Inlined: it is ReceiveVirtual's own fast path (and profiles
// count it so).
[[gnu::always_inline]] inline uint32_t PipeWorker::ReceiveVirtualFrom(size_t i) {
  RxStage& stage = rx_stages_[i];
  const pipe::PortId port = s_.rx_queues[i].port;
  const uint16_t n = static_cast<uint16_t>(stage.count - stage.next);
  // Locals, not the members: the compiler would reload those after every
  // store into the burst.
  const RxTimestamp stamps = *s_.rx_timestamp;
  const tm::Picoseconds ps_per_byte = ingress_ps_per_byte_[port];
  tm::Picoseconds free = ingress_free_[port];
  tm::Picoseconds now = virtual_now_;
  burst_.Reset(n, port, 0, s_.id);  // each packet's time stamp is set below
  for (uint16_t k = 0; k < n; ++k) {
    rte_mbuf* pkt = stage.pkts[stage.next + k];
    now = std::max({stamps.Of(pkt), free, now});
    free = now + (pkt->pkt_len + tm::kWireOverheadBytes) * ps_per_byte;
    burst_.pkts[k] = pkt;
    burst_.md[k].ig_intr_md.ingress_mac_tstamp = now / tm::kPsPerNs;
    arrival_[k] = now;
  }
  stage.next = stage.count;
  ingress_free_[port] = free;
  virtual_now_ = now;
  RunIngress();
  return n;
}

// Virtual time: packets must reach the TM in arrival order across all RX
// queues, so the heads of one staged burst per queue are merged by arrival
// (the stamp, delayed while the ingress wire is still busy with the previous
// packet; ties go to the lower port), together with recirculated packets. A
// burst ends when a stage runs dry, since its next packets, not yet
// received, might be earlier than the rest.
uint32_t PipeWorker::ReceiveVirtual() {
  for (size_t i = 0; i < rx_stages_.size(); ++i) {
    RxStage& stage = rx_stages_[i];
    if (stage.next < stage.count) continue;
    const RxQueueRef& q = s_.rx_queues[i];
    stage.count = rte_eth_rx_burst(q.ethdev, q.queue, stage.pkts, pipe::kBurstSize);
    stage.next = 0;
    CountRx(q.port, stage.pkts, stage.count);
  }
  // The usual case, one replayed port: a single stage holds packets and
  // nothing else can come between them (no recirculation, no timers), so
  // the merge below would only find, packet by packet, that its next packet
  // is the earliest.
  if (!recirculates_ && recirc_count_ == 0 && s_.pktgen.empty()) {
    size_t with_packets = 0, only = 0;
    for (size_t i = 0; i < rx_stages_.size(); ++i) {
      if (rx_stages_[i].next < rx_stages_[i].count) ++with_packets, only = i;
    }
    if (with_packets == 1) return ReceiveVirtualFrom(only);
  }
  burst_.count = 0;
  bool timer_due = false;
  const size_t kRecircSource = rx_stages_.size();
  // A program that recirculates is run a packet at a time (see
  // Program::UsesRecirculation), and before each arrival the recirculation
  // port releases what left it earlier, so that comes back first.
  const uint16_t max_burst = recirculates_ ? 1 : pipe::kBurstSize;
  while (burst_.count < max_burst) {
    size_t best = kRecircSource + 1;
    pipe::PortId best_port = 0;
    tm::Picoseconds best_arrival = tm::kNever;
    for (size_t i = 0; i < rx_stages_.size(); ++i) {
      const RxStage& stage = rx_stages_[i];
      if (stage.next == stage.count) continue;
      const pipe::PortId port = s_.rx_queues[i].port;
      const tm::Picoseconds stamp = s_.rx_timestamp->Of(stage.pkts[stage.next]);
      // Never before now: replayed ports are merged in time order, but a
      // packet back over an internal link from a switch downstream (a loop
      // through two switches) can be stamped before what this pipe already
      // took; it arrives now, as soon as causality allows.
      const tm::Picoseconds arrival =
          std::max({stamp, ingress_free_[port], virtual_now_});
      if (arrival < best_arrival || (arrival == best_arrival && port < best_port)) {
        best = i, best_port = port, best_arrival = arrival;
      }
    }
    if (recirculates_) AdvancePort(*recirc_tm_, best_arrival);
    if (recirc_count_ != 0 && recirc_[recirc_head_].arrival < best_arrival) {
      best = kRecircSource, best_port = recirc_port_, best_arrival = recirc_[recirc_head_].arrival;
    }
    if (best > kRecircSource) break;
    if (!s_.pktgen.empty()) {
      // Timers are a source like the ports: one due before this arrival
      // ends the burst, and fires before the packet is taken.
      if (NextTimerPs(best_arrival) <= best_arrival) {
        timer_due = true;
        break;
      }
    }
    rte_mbuf* pkt;
    bool stage_dry = false;
    if (best == kRecircSource) {
      pkt = recirc_[recirc_head_].pkt;
      recirc_head_ = (recirc_head_ + 1) % kRecircSlots;
      --recirc_count_;
    } else {
      RxStage& stage = rx_stages_[best];
      pkt = stage.pkts[stage.next++];
      ingress_free_[best_port] =
          best_arrival + (pkt->pkt_len + tm::kWireOverheadBytes) * ingress_ps_per_byte_[best_port];
      stage_dry = stage.next == stage.count;
    }
    arrival_[burst_.count] = best_arrival;
    burst_.Append(pkt, best_port, best_arrival / tm::kPsPerNs, s_.id);
    virtual_now_ = best_arrival;
    if (stage_dry) break;
  }
  const uint16_t taken = burst_.count;
  if (taken) RunIngress();
  if (!timer_due) return taken;
  // The timers due first, before the next arrival, each at its own time.
  uint32_t generated = 0;
  for (size_t a = 0; a < s_.pktgen.size(); ++a) {
    const tm::Picoseconds due = static_cast<tm::Picoseconds>(next_fire_ns_[a]) * tm::kPsPerNs;
    if (next_fire_ns_[a] == kNotStarted || due > next_timer_bound_) continue;
    next_fire_ns_[a] += s_.pktgen[a].period_ns;
    virtual_now_ = std::max(virtual_now_, due);
    generated += Fire(s_.pktgen[a], a, virtual_now_);
  }
  return taken + generated;
}

tm::Picoseconds PipeWorker::NextTimerPs(tm::Picoseconds first_arrival) {
  tm::Picoseconds next = tm::kNever;
  for (size_t a = 0; a < s_.pktgen.size(); ++a) {
    // A timer starts with the first packet the replay brings.
    if (next_fire_ns_[a] == kNotStarted) {
      next_fire_ns_[a] = first_arrival / tm::kPsPerNs + s_.pktgen[a].period_ns;
    }
    next = std::min(next, static_cast<tm::Picoseconds>(next_fire_ns_[a]) * tm::kPsPerNs);
  }
  next_timer_bound_ = next;
  return next;
}

void PipeWorker::RunIngress() {
  if (!original_.empty()) {
    for (uint16_t i = 0; i < burst_.count; ++i) {
      const rte_mbuf* m = burst_.pkts[i];
      original_len_[i] = m->data_len;
      std::memcpy(original_[i].data(), rte_pktmbuf_mtod(m, const void*),
                  std::min<uint32_t>(m->data_len, pipe::Program::kResubmitBytes));
    }
  }
  s_.program->Ingress(burst_);
  // Runs of packets that go to one unicast port and queue, or to one
  // multicast group, and nowhere else (a whole burst, usually) are queued
  // together; the rest go one by one through Dispose.
  for (uint16_t i = 0; i < burst_.count;) {
    const pipe::IngressMetadata& md = burst_.md[i];
    const Fate fate = FateOf(md);
    if (fate == Fate::kOther) {
      Dispose(burst_.pkts[i], md, arrival_[i], i);
      ++i;
      continue;
    }
    uint16_t n = 1;
    while (i + n < burst_.count && SameRun(fate, md, burst_.md[i + n])) ++n;
    EnqueueRun(fate, i, n);
    i = static_cast<uint16_t>(i + n);
  }
}

void PipeWorker::Dispose(rte_mbuf* pkt, const pipe::IngressMetadata& md, tm::Picoseconds arrival,
                         uint16_t index) {
  if (md.ig_intr_md.ingress_port == recirc_port_) stats_.recirculated.Add(1);
  const auto& dprsr = md.ig_intr_md_for_dprsr;
  // As on Tofino, the mirror copy is made whatever becomes of the original.
  if (dprsr.mirror_type != 0) {
    MirrorCopy copy = MakeMirrorCopy(pkt, dprsr.mirror_session, pipe::InstanceType::kIngressMirror,
                                     dprsr.mirror_header, dprsr.mirror_header_len);
    if (copy.pkt != nullptr) Enqueue(copy.pkt, copy.port, copy.info, arrival);
  }
  if (md.dropped()) {
    Drop(pkt, Charged(dprsr.drop_reason, DropReason::kProgramDrop));
    return;
  }
  if (dprsr.resubmit_type != 0) {
    Resubmit(pkt, md, arrival, index);
    return;
  }
  const auto& for_tm = md.ig_intr_md_for_tm;
  const bool unicast = for_tm.ucast_egress_port != pipe::kInvalidPort;
  if (for_tm.mcast_grp_a != 0) {
    Multicast(&pkt, 1, for_tm.mcast_grp_a, unicast, arrival);
    if (!unicast) return;
  }
  tm::PacketInfo info;
  info.qid = for_tm.qid;
  if (for_tm.ucast_egress_port >= s_.port_count && for_tm.ucast_egress_port != recirc_port_) {
    if (!RecirculateInPipe(pkt, for_tm.ucast_egress_port, info, arrival)) {
      Drop(pkt, DropReason::kBadEgressPort);
    }
    return;
  }
  Enqueue(pkt, for_tm.ucast_egress_port, info, arrival);
}

// The packet goes through ingress once more, right away and as it arrived,
// with resubmit_flag set; then on to the TM in its place, so queueing order
// is kept.
void PipeWorker::Resubmit(rte_mbuf* pkt, const pipe::IngressMetadata& md, tm::Picoseconds arrival,
                          uint16_t index) {
  if (md.ig_intr_md.resubmit_flag || original_.empty()) {
    Drop(pkt, DropReason::kResubmitLoop);
    return;
  }
  stats_.resubmitted.Add(1);
  const uint32_t len = original_len_[index];
  const uint32_t saved = std::min<uint32_t>(len, pipe::Program::kResubmitBytes);
  if (pkt->data_len != len) {  // the program resized the first segment
    if (pkt->data_len > len) {
      rte_pktmbuf_trim(pkt, static_cast<uint16_t>(pkt->data_len - len));
    } else if (rte_pktmbuf_append(pkt, static_cast<uint16_t>(len - pkt->data_len)) == nullptr) {
      Drop(pkt, DropReason::kResubmitLoop);
      return;
    }
  }
  std::memcpy(rte_pktmbuf_mtod(pkt, void*), original_[index].data(), saved);
  resubmit_burst_.count = 1;
  resubmit_burst_.pkts[0] = pkt;
  resubmit_burst_.md[0] = pipe::IngressMetadata{};
  resubmit_burst_.md[0].ig_intr_md = md.ig_intr_md;
  resubmit_burst_.md[0].ig_intr_md.resubmit_flag = 1;
  s_.program->Ingress(resubmit_burst_);
  Dispose(resubmit_burst_.pkts[0], resubmit_burst_.md[0], arrival, index);
}

PipeWorker::MirrorCopy PipeWorker::MakeMirrorCopy(rte_mbuf* pkt, pipe::MirrorSessionId session,
                                                  pipe::InstanceType instance,
                                                  const uint8_t* header, uint8_t header_len) {
  const tm::MirrorSession* found = rep_->mirror_sessions.Find(session);
  // A copy that cannot be made still counts as made and dropped, so that
  // received + copies = forwarded + dropped holds.
  stats_.copies.Add(1);
  if (found == nullptr) {
    stats_.drops[static_cast<size_t>(DropReason::kNoMirrorSession)].Add(1);
    return {};
  }
  const tm::MirrorSession& ms = *found;
  // A truncated copy keeps only the first max_len bytes, as Tofino's
  // mirror sessions do.
  rte_mbuf* copy = CopyPacket(pkt, s_.pool, ms.max_len ? ms.max_len : UINT32_MAX);
  if (copy == nullptr) {
    stats_.drops[static_cast<size_t>(DropReason::kNoBufferForCopy)].Add(1);
    return {};
  }
  if (header_len != 0) {  // TNA's Mirror.emit(session, hdr): the copy only
    const uint8_t len = std::min(header_len, pipe::kMirrorHeaderMaxBytes);
    char* room = rte_pktmbuf_prepend(copy, len);
    if (room == nullptr) {
      rte_pktmbuf_free(copy);
      stats_.drops[static_cast<size_t>(DropReason::kNoBufferForCopy)].Add(1);
      return {};
    }
    std::memcpy(room, header, len);
  }
  MirrorCopy out;
  out.pkt = copy;
  out.port = ms.port;
  out.info.qid = ms.qid;
  out.info.instance = instance;
  out.info.mirror_session = session;
  return out;
}

// One copy per group member for each of `n` packets arriving together;
// the originals serve as the last member's copies unless they also go out
// by unicast. Member by member, each member's copies go into its port's TM
// together (EnqueueTogether). Each port's queue gets the packets in their
// order, as one at a time, when no port is in the group twice; a group
// that has one twice takes several packets one at a time.
void PipeWorker::Multicast(rte_mbuf* const* pkts, uint16_t n, uint16_t group, bool keep_originals,
                           tm::Picoseconds arrival) {
  const std::vector<tm::MulticastMember>* list = rep_->multicast_groups.Find(group);
  const size_t members = list == nullptr ? 0 : list->size();
  if (members == 0) {
    if (!keep_originals) {
      for (uint16_t i = 0; i < n; ++i) Drop(pkts[i], DropReason::kNoMulticastGroup);
    }
    return;
  }
  bool distinct = true;
  for (size_t a = 0; n > 1 && distinct && a < members; ++a) {
    for (size_t b = a + 1; b < members; ++b) distinct &= (*list)[a].port != (*list)[b].port;
  }
  if (!distinct) {
    for (uint16_t i = 0; i < n; ++i) Multicast(&pkts[i], 1, group, keep_originals, arrival);
    return;
  }
  rte_mbuf* copies[pipe::kBurstSize];
  for (size_t m = 0; m < members; ++m) {
    const tm::MulticastMember& member = (*list)[m];
    tm::PacketInfo info;
    info.rid = member.rid;
    if (m + 1 == members && !keep_originals) {
      EnqueueTogether(pkts, n, member.port, info, arrival);
      break;
    }
    const uint16_t made = CopyPackets(pkts, n, s_.pool, UINT32_MAX, copies);
    stats_.copies.Add(n);
    if (made != n) stats_.drops[static_cast<size_t>(DropReason::kNoBufferForCopy)].Add(n - made);
    EnqueueTogether(copies, made, member.port, info, arrival);
  }
}

void PipeWorker::DrainInbox() {
  if (s_.inbox == nullptr) return;
  rte_mbuf* pkts[pipe::kBurstSize];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst(s_.inbox, reinterpret_cast<void**>(pkts), pipe::kBurstSize,
                                        nullptr)) != 0) {
    for (unsigned i = 0; i < n; ++i) {
      const TmTag* tag = RTE_MBUF_DYNFIELD(pkts[i], s_.tm_tag_offset, const TmTag*);
      Enqueue(pkts[i], tag->egress_port, tag->info, tag->arrival);
    }
  }
}

void PipeWorker::AdvanceEgress(tm::Picoseconds now) {
  for (pipe::PortId port = 0; port < s_.port_count; ++port) {
    if (tm::EgressPort* tm_port = s_.owned_ports[port].get()) AdvancePort(*tm_port, now);
  }
  AdvancePort(*recirc_tm_, now);
}

void PipeWorker::AdvancePort(tm::EgressPort& tm_port, tm::Picoseconds now) {
  const size_t slot = Slot(tm_port.port());
  pipe::EgressBurst& eb = egress_[slot];
  for (;;) {
    const uint32_t room = pipe::kBurstSize - eb.count;
    const uint32_t n = tm_port.Dequeue(now, room, &eb.pkts[eb.count], &eb.eg_intr_md[eb.count],
                                       &departure_[slot][eb.count]);
    eb.count = static_cast<uint16_t>(eb.count + n);
    if (n < room) break;
    RunEgress(tm_port);  // a full burst, as the TM fills it; then on
  }
  if (eb.count) RunEgress(tm_port);
}

void PipeWorker::RunEgress(const tm::EgressPort& tm_port) {
  const pipe::PortId port = tm_port.port();
  const size_t slot = Slot(port);
  pipe::EgressBurst& eb = egress_[slot];
  // The deparser metadata starts clear for each packet, as the TM hands it
  // to egress (one clear of the burst's, not a store per dequeue). A
  // memset, not std::fill_n with a value: GCC built the 15-byte value on
  // the stack in every iteration and read it back as two overlapping 8-byte
  // loads, each waiting on the stores just made (a store-forwarding stall
  // per packet: 77% of RunEgress's samples, ~9% of l3fwd's cycles).
  static_assert(std::is_trivially_copyable_v<pipe::EgressIntrinsicMetadataForDeparser>);
  static_assert(static_cast<uint8_t>(DropReason::kNone) == 0, "all-zero bytes are the clear value");
  std::memset(static_cast<void*>(eb.eg_intr_md_for_dprsr), 0,
              eb.count * sizeof(eb.eg_intr_md_for_dprsr[0]));
  s_.program->Egress(eb);
  rte_mbuf* tx[pipe::kBurstSize];
  uint16_t n = 0;
  uint64_t bytes = 0;
  // Egress-to-egress copies are made here, as egress left each packet, but
  // enqueued only once this burst is done: a copy to this same port would
  // otherwise run this port's egress again while its burst is half sent.
  // In raw storage, each constructed when made: an array of MirrorCopy
  // (default member initializers) was zeroed in full on every call, a
  // 768-byte memset per burst for copies that are rare.
  alignas(MirrorCopy) std::byte copy_storage[sizeof(MirrorCopy) * pipe::kBurstSize];
  auto* const copies = reinterpret_cast<MirrorCopy*>(copy_storage);
  tm::Picoseconds copy_times[pipe::kBurstSize];
  uint16_t copy_count = 0;
  for (uint16_t i = 0; i < eb.count; ++i) {
    const auto& dprsr = eb.eg_intr_md_for_dprsr[i];
    if (dprsr.mirror_type != 0) {
      MirrorCopy c = MakeMirrorCopy(eb.pkts[i], dprsr.mirror_session,
                                    pipe::InstanceType::kEgressMirror, dprsr.mirror_header,
                                    dprsr.mirror_header_len);
      if (c.pkt != nullptr) {
        copy_times[copy_count] = departure_[slot][i];
        new (&copies[copy_count++]) MirrorCopy(c);
      }
    }
    if (dprsr.drop_ctl) {
      Drop(eb.pkts[i], Charged(dprsr.drop_reason, DropReason::kEgressDrop));
      continue;
    }
    if (port == recirc_port_) {  // back into ingress once it has crossed the "wire"
      if (recirc_count_ == kRecircSlots) {
        Drop(eb.pkts[i], DropReason::kRecirculationFull);
        continue;
      }
      recirc_[(recirc_head_ + recirc_count_++) % kRecircSlots] = {
          eb.pkts[i], departure_[slot][i] + tm_port.WireTime(eb.pkts[i]->pkt_len)};
      continue;
    }
    if (stamp_links_ && s_.internal_link[port]) {
      s_.rx_timestamp->Stamp(eb.pkts[i],
                             departure_[slot][i] + tm_port.WireTime(eb.pkts[i]->pkt_len));
    }
    bytes += eb.pkts[i]->pkt_len;  // read before sending: a sent mbuf is the driver's
    tx[n++] = eb.pkts[i];
  }
  eb.count = 0;
  if (n != 0) {
    const uint16_t sent = rte_eth_tx_burst(s_.ethdev[port], s_.tx_queue[port], tx, n);
    for (uint16_t i = sent; i < n; ++i) {
      bytes -= tx[i]->pkt_len;
      Drop(tx[i], DropReason::kTxFull);
    }
    stats_.ports[port].tx_packets.Add(sent);
    stats_.ports[port].tx_bytes.Add(bytes);
  }
  for (uint16_t i = 0; i < copy_count; ++i) {
    Enqueue(copies[i].pkt, copies[i].port, copies[i].info, copy_times[i]);
  }
}

}  // namespace softfino::dataplane
