#include "softfino/dataplane/switch.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "softfino/dataplane/core_scaler.h"
#include "softfino/dataplane/idle_backoff.h"

namespace softfino::dataplane {
std::vector<tm::EgressPortConfig> Switch::ResolvePortConfigs(
    const std::vector<std::optional<tm::EgressPortConfig>>& configured,
    const std::vector<uint16_t>& ethdevs) {
  std::vector<tm::EgressPortConfig> out;
  for (uint16_t port = 0; port < ethdevs.size(); ++port) {
    tm::EgressPortConfig config;
    if (port < configured.size() && configured[port]) {
      config = *configured[port];
    } else {
      rte_eth_link link{};
      if (rte_eth_link_get_nowait(ethdevs[port], &link) == 0 && link.link_speed != 0 &&
          link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN) {
        config.rate_bps = uint64_t{link.link_speed} * 1'000'000;
      }
    }
    out.push_back(config);
  }
  return out;
}

uint16_t Switch::PipeCountFor(uint16_t fp_cores) {
  if (fp_cores != 0) return fp_cores;
  const unsigned workers = rte_lcore_count() - 1;
  return workers == 0 ? 1 : static_cast<uint16_t>(workers);
}

absl::StatusOr<std::unique_ptr<Switch>> Switch::Create(const pipe::Program& program,
                                                       SwitchOptions options) {
  auto sw = std::unique_ptr<Switch>(new Switch());
  sw->program_ = &program;
  sw->name_ = options.ports.name;
  for (bool link : options.internal_links) sw->has_links_ |= link;
  sw->sleep_when_idle_ = options.sleep_when_idle;
  if (options.scaling_initial_cores != 0) {
    if (sw->inline_pipe_) {
      return absl::InvalidArgumentError(
          "--fp-cores-max needs worker lcores to scale over; give EAL more with -l");
    }
    sw->scaling_ = true;
    sw->autoscale_ = options.autoscale;
    sw->initial_cores_ = options.scaling_initial_cores;
  }
  if (options.lcores) {
    if (options.lcores->empty()) {
      sw->inline_pipe_ = true;
      sw->lcores_.push_back(rte_get_main_lcore());
    } else {
      sw->lcores_ = *options.lcores;
    }
    options.fp_cores = static_cast<uint16_t>(sw->lcores_.size());
  } else {
    const unsigned workers = rte_lcore_count() - 1;
    options.fp_cores = PipeCountFor(options.fp_cores);
    if (workers == 0) {
      if (options.fp_cores > 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--fp-cores ", options.fp_cores, " needs ", options.fp_cores,
            " worker lcores but EAL has only the main one; give EAL more, e.g. -l 0-",
            options.fp_cores));
      }
      sw->inline_pipe_ = true;
      sw->lcores_.push_back(rte_get_main_lcore());
    } else {
      if (options.fp_cores > workers) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--fp-cores ", options.fp_cores, " needs ", options.fp_cores,
            " worker lcores but EAL has ", workers, " besides the main one; give EAL more with -l"));
      }
      unsigned lcore;
      RTE_LCORE_FOREACH_WORKER(lcore) {
        if (sw->lcores_.size() == options.fp_cores) break;
        sw->lcores_.push_back(lcore);
      }
    }
  }

  options.ports.pipes = options.fp_cores;
  auto ports = Ports::Start(options.ports);
  if (!ports.ok()) return ports.status();
  sw->ports_ = *std::move(ports);
  if (absl::Status s = sw->SetUpPipes(program, options); !s.ok()) return s;
  return sw;
}

absl::Status Switch::SetUpPipes(const pipe::Program& program, const SwitchOptions& options) {
  const uint16_t port_count = ports_->count();
  const uint16_t pipes = options.fp_cores;
  replication_.ResetUnshared(std::make_unique<const tm::Replication>(options.replication));

  // Time: drivers register the rx timestamp field when they start.
  const bool stamped = RxTimestamp::Available();
  if (options.clock == ClockChoice::kVirtual && !stamped) return RxTimestamp::Find().status();
  clock_ = (options.clock == ClockChoice::kVirtual ||
            (options.clock == ClockChoice::kAuto && stamped))
               ? ClockMode::kVirtual
               : ClockMode::kReal;
  std::optional<RxTimestamp> rx_timestamp;
  if (clock_ == ClockMode::kVirtual) rx_timestamp = *RxTimestamp::Find();
  if (clock_ == ClockMode::kVirtual && ports_->sw_rss()) {
    // A pipe merges its inputs by timestamp and takes an empty one as
    // drained: a ring the reader has not filled yet would break both.
    return absl::InvalidArgumentError(
        "--sw-rss spreads live traffic in real time; for a pcap replay (virtual time) give each "
        "pipe its own RX queue (one rx_pcap= per pipe), or add --clock real");
  }

  // Each egress port's traffic manager lives in one pipe, as a Tofino port
  // has one set of queues whatever pipe a packet came from.
  std::vector<uint16_t> ethdevs;
  for (uint16_t port = 0; port < port_count; ++port) ethdevs.push_back(ports_->ethdev(port));
  port_tm_ = ResolvePortConfigs(options.port_tm, ethdevs);

  static const rte_mbuf_dynfield kTagField = {"softfino_tm_tag", sizeof(TmTag), alignof(TmTag), 0};
  const int tag_offset = rte_mbuf_dynfield_register(&kTagField);
  if (tag_offset < 0) {
    return absl::InternalError(absl::StrCat("cannot register an mbuf field: ", rte_strerror(rte_errno)));
  }
  if (pipes > 1) {
    for (uint16_t p = 0; p < pipes; ++p) {
      rte_ring* ring = rte_ring_create(absl::StrCat(name_, "_tm", p).c_str(), 4096, rte_socket_id(),
                                       RING_F_SC_DEQ);
      if (ring == nullptr) {
        return absl::ResourceExhaustedError(
            absl::StrCat("cannot create the TM hand-off ring: ", rte_strerror(rte_errno)));
      }
      inboxes_.push_back(ring);
    }
  }
  // A pipe counts as a table reader only while it polls (online), so a
  // commit never waits for a pipe that has not started or has stopped.
  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(pipes);
  qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("softfino_rcu", qsbr_size, RTE_CACHE_LINE_SIZE));
  if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, pipes) != 0) {
    return absl::ResourceExhaustedError("cannot create the RCU variable for table updates; give "
                                        "DPDK more memory (EAL -m)");
  }
  for (uint16_t p = 0; p < pipes; ++p) {
    rte_rcu_qsbr_thread_register(qsbr_, p);
    PipeSetup setup;
    setup.id = p;
    setup.program = &program;
    setup.rx_queues = ports_->rx_queues(p);
    setup.port_count = port_count;
    setup.ethdev = ethdevs;
    for (uint16_t port = 0; port < port_count; ++port) setup.tx_queue.push_back(ports_->tx_queue(port));
    setup.internal_link = options.internal_links;
    setup.internal_link.resize(port_count, false);
    setup.clock = clock_;
    setup.rx_timestamp = rx_timestamp;
    setup.tm_tag_offset = tag_offset;
    setup.inbox = pipes > 1 ? inboxes_[p] : nullptr;
    for (uint16_t other = 0; other < pipes && pipes > 1; ++other) {
      setup.pipe_inbox.push_back(other == p ? nullptr : inboxes_[other]);
    }
    setup.pipe_count = pipes;
    setup.replication = &replication_;
    setup.recirculation.rate_bps = 100'000'000'000;  // as Tofino-1's recirculation ports
    setup.pool = ports_->pool();
    setup.qsbr = qsbr_;
    setup.pktgen = options.pktgen;
    for (uint16_t port = 0; port < port_count; ++port) {
      setup.port_rate_bps.push_back(port_tm_[port].rate_bps);
      const uint16_t owner = pipe::PipeOfPort(port, pipes);
      if (owner == p) {
        auto tm_port = tm::EgressPort::Create(port, port_tm_[port]);
        if (!tm_port.ok()) return tm_port.status();
        setup.owned_ports.push_back(*std::move(tm_port));
        setup.owner_inbox.push_back(nullptr);
      } else {
        setup.owned_ports.push_back(nullptr);
        setup.owner_inbox.push_back(inboxes_[owner]);
      }
    }
    pipes_.push_back(std::make_unique<PipeWorker>(std::move(setup)));
  }
  return absl::OkStatus();
}

Switch::~Switch() {
  stop_.store(true, std::memory_order_relaxed);
  if (!inline_pipe_ && (!worker_args_.empty() || !core_args_.empty())) {
    for (unsigned lcore : lcores_) rte_eal_wait_lcore(lcore);
  }
  pipes_.clear();
  rte_free(qsbr_);
  for (rte_ring* ring : inboxes_) {
    void* pkt;
    while (rte_ring_dequeue(ring, &pkt) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(pkt));
    rte_ring_free(ring);
  }
  ports_.reset();
}

int Switch::WorkerMain(void* arg) {
  const auto* args = static_cast<const WorkerArgs*>(arg);
  PipeWorker& pipe = *args->pipe;
  IdleBackoff backoff(args->sleep_when_idle);
  rte_rcu_qsbr_thread_online(args->qsbr, pipe.id());
  while (!args->stop->load(std::memory_order_relaxed)) {
    const bool busy = pipe.PollOnce() != 0 || !pipe.Quiet();
    const unsigned sleep_us = backoff.AfterPoll(busy);
    if (sleep_us == 0) continue;
    pipe.CountIdleSleep();
    // Offline while asleep: a table commit need not wait for this pipe.
    rte_rcu_qsbr_thread_offline(args->qsbr, pipe.id());
    rte_delay_us_sleep(sleep_us);
    rte_rcu_qsbr_thread_online(args->qsbr, pipe.id());
  }
  rte_rcu_qsbr_thread_offline(args->qsbr, pipe.id());
  return 0;
}

int Switch::CoreMain(void* arg) {
  const auto* args = static_cast<const CoreArgs*>(arg);
  Switch& sw = *args->sw;
  const int me = args->core;
  CoreLoad& load = sw.loads_[me];
  IdleBackoff backoff(sw.sleep_when_idle_);
  std::vector<uint16_t> mine;  // the pipes this core runs now
  uint64_t last = rte_get_tsc_cycles();
  while (!sw.stop_.load(std::memory_order_relaxed)) {
    // Hand-offs happen between polls: give up what is assigned elsewhere,
    // take what is assigned here once its last core gave it up.
    mine.clear();
    for (uint16_t p = 0; p < sw.pipes_.size(); ++p) {
      PipeOwner& owner = sw.owners_[p];
      const int assigned = owner.assigned.load(std::memory_order_relaxed);
      const int running = owner.running.load(std::memory_order_acquire);
      if (running == me && assigned != me) {
        rte_rcu_qsbr_thread_offline(sw.qsbr_, p);
        owner.running.store(-1, std::memory_order_release);
      } else if (running == -1 && assigned == me) {
        owner.running.store(me, std::memory_order_relaxed);
        rte_rcu_qsbr_thread_online(sw.qsbr_, p);
        mine.push_back(p);
      } else if (running == me) {
        mine.push_back(p);
      }
    }
    bool busy = false;
    for (uint16_t p : mine) {
      PipeWorker& pipe = *sw.pipes_[p];
      busy |= pipe.PollOnce() != 0 || !pipe.Quiet();
    }
    const uint64_t now = rte_get_tsc_cycles();
    if (busy) load.busy_cycles.store(load.busy_cycles.load(std::memory_order_relaxed) + (now - last),
                                     std::memory_order_relaxed);
    load.cycles.store(load.cycles.load(std::memory_order_relaxed) + (now - last),
                      std::memory_order_relaxed);
    last = now;
    unsigned sleep_us = backoff.AfterPoll(busy);
    // A core with no pipe only watches for one to be assigned.
    if (mine.empty()) sleep_us = std::max(sleep_us, IdleBackoff::kMaxSleepUs);
    if (sleep_us == 0) continue;
    for (uint16_t p : mine) {
      sw.pipes_[p]->CountIdleSleep();
      rte_rcu_qsbr_thread_offline(sw.qsbr_, p);
    }
    rte_delay_us_sleep(sleep_us);
    for (uint16_t p : mine) rte_rcu_qsbr_thread_online(sw.qsbr_, p);
  }
  for (uint16_t p = 0; p < sw.pipes_.size(); ++p) {
    if (sw.owners_[p].running.load(std::memory_order_acquire) == me) {
      rte_rcu_qsbr_thread_offline(sw.qsbr_, p);
      sw.owners_[p].running.store(-1, std::memory_order_release);
    }
  }
  return 0;
}

void Switch::SetActiveCores(unsigned cores) {
  const unsigned before = active_cores_.exchange(cores, std::memory_order_relaxed);
  if (before != 0 && cores > before) grown_.fetch_add(1, std::memory_order_relaxed);
  if (before != 0 && cores < before) shrunk_.fetch_add(1, std::memory_order_relaxed);
  for (size_t p = 0; p < pipes_.size(); ++p) {
    owners_[p].assigned.store(static_cast<int>(p % cores), std::memory_order_relaxed);
  }
}

void Switch::Autoscale() {
  if (!scaling_ || !autoscale_) return;
  const uint64_t now = rte_get_tsc_cycles();
  if (now < next_scale_tsc_) return;
  next_scale_tsc_ = now + rte_get_tsc_hz() / 100;
  const unsigned active = active_cores_.load(std::memory_order_relaxed);
  std::vector<double> busy;
  for (size_t c = 0; c < lcores_.size(); ++c) {
    const uint64_t b = loads_[c].busy_cycles.load(std::memory_order_relaxed);
    const uint64_t t = loads_[c].cycles.load(std::memory_order_relaxed);
    const uint64_t db = b - last_busy_[c], dt = t - last_cycles_[c];
    last_busy_[c] = b;
    last_cycles_[c] = t;
    if (c < active) busy.push_back(dt == 0 ? 0.0 : static_cast<double>(db) / static_cast<double>(dt));
  }
  const size_t next = scaling_policy_.Next(busy, lcores_.size());
  if (next != active) SetActiveCores(static_cast<unsigned>(next));
}

Switch::CoreScaling Switch::core_scaling() const {
  if (!scaling_) return {};
  return {active_cores_.load(std::memory_order_relaxed), static_cast<unsigned>(lcores_.size()),
          grown_.load(std::memory_order_relaxed), shrunk_.load(std::memory_order_relaxed)};
}

void Switch::Run(const std::function<bool()>& slow_path_tick) { RunAll({this}, slow_path_tick); }

void Switch::RunAll(const std::vector<Switch*>& switches,
                    const std::function<bool()>& slow_path_tick) {
  for (Switch* sw : switches) sw->Launch();
  bool any_inline = false;
  for (Switch* sw : switches) any_inline |= sw->inline_pipe_;
  const uint64_t tick_cycles = rte_get_tsc_hz() / 1000;
  if (any_inline) {
    bool sleep_when_idle = false;
    for (Switch* sw : switches) sleep_when_idle |= sw->inline_pipe_ && sw->sleep_when_idle_;
    IdleBackoff backoff(sleep_when_idle);
    uint64_t next_tick = rte_get_tsc_cycles() + tick_cycles;
    for (;;) {
      bool busy = false;
      for (Switch* sw : switches) busy |= sw->PollInline();
      const uint64_t now = rte_get_tsc_cycles();
      if (now >= next_tick) {
        next_tick = now + tick_cycles;
        if (!slow_path_tick()) break;
        continue;
      }
      const unsigned sleep_us = backoff.AfterPoll(busy);
      if (sleep_us == 0) continue;
      // Never past the next slow-path tick.
      const uint64_t until_tick_us = (next_tick - now) * 1'000'000 / rte_get_tsc_hz();
      for (Switch* sw : switches) {
        if (sw->inline_pipe_) sw->pipes_.front()->CountIdleSleep();
      }
      rte_delay_us_sleep(static_cast<unsigned>(std::min<uint64_t>(sleep_us, until_tick_us + 1)));
    }
  } else {
    while (slow_path_tick()) {
      rte_delay_us_sleep(1000);
      for (Switch* sw : switches) sw->Autoscale();
    }
  }
  // Upstream first: a switch flushing onto an internal link hands its last
  // packets to the next one, which flushes them in turn (a topology lists
  // its switches in the order packets cross them, for this).
  for (Switch* sw : switches) sw->stop_.store(true, std::memory_order_relaxed);
  for (Switch* sw : switches) sw->Stop();
}

void Switch::Launch() {
  start_tsc_ = rte_get_tsc_cycles();
  if (inline_pipe_) {
    // Commits run inside the slow-path tick, between polls, as this same
    // reader (rcu() names it), so their grace period never waits on itself.
    rte_rcu_qsbr_thread_online(qsbr_, pipes_.front()->id());
    return;
  }
  if (scaling_) {
    const size_t cores = lcores_.size();
    owners_ = std::make_unique<PipeOwner[]>(pipes_.size());
    loads_ = std::make_unique<CoreLoad[]>(cores);
    last_busy_.assign(cores, 0);
    last_cycles_.assign(cores, 0);
    SetActiveCores(std::min<unsigned>(initial_cores_, static_cast<unsigned>(cores)));
    next_scale_tsc_ = rte_get_tsc_cycles() + rte_get_tsc_hz() / 100;
    core_args_.clear();
    core_args_.reserve(cores);
    for (size_t c = 0; c < cores; ++c) {
      core_args_.push_back({this, static_cast<int>(c)});
      rte_eal_remote_launch(&Switch::CoreMain, &core_args_.back(), lcores_[c]);
    }
    return;
  }
  worker_args_.clear();
  worker_args_.reserve(pipes_.size());
  for (size_t p = 0; p < pipes_.size(); ++p) {
    worker_args_.push_back({pipes_[p].get(), &stop_, qsbr_, sleep_when_idle_});
    rte_eal_remote_launch(&Switch::WorkerMain, &worker_args_.back(), lcores_[p]);
  }
}

void Switch::DrainLinks(PipeWorker& pipe) {
  // What an upstream switch flushed onto an internal link as it stopped is
  // received here (bounded: a port that never runs dry, like a replay
  // without end, must not keep a stopping switch busy).
  if (!has_links_) return;
  for (int poll = 0; poll < 256 && pipe.PollOnce() != 0; ++poll) {
  }
}

void Switch::Stop() {
  if (inline_pipe_) {
    PipeWorker& pipe = *pipes_.front();
    DrainLinks(pipe);
    pipe.Flush();
    rte_rcu_qsbr_thread_offline(qsbr_, pipe.id());
    FinishPipes();
    return;
  }
  for (unsigned lcore : lcores_) rte_eal_wait_lcore(lcore);
  worker_args_.clear();
  core_args_.clear();
  // Packets one pipe handed to another may still sit in an inbox; flush
  // until no pipe has anything left.
  for (int round = 0; round < 2; ++round) {
    for (auto& pipe : pipes_) {
      DrainLinks(*pipe);
      pipe->Flush();
    }
  }
  // Flushing polled the pipes here, which reported them quiescent and so
  // online again; they read nothing more.
  for (auto& pipe : pipes_) rte_rcu_qsbr_thread_offline(qsbr_, pipe->id());
  FinishPipes();
}

void Switch::FinishPipes() {
  uint64_t end_ns = 0;
  for (const auto& pipe : pipes_) end_ns = std::max(end_ns, pipe->NowNs());
  for (const auto& pipe : pipes_) program_->Finish(pipe->id(), end_ns);
}

uint64_t Switch::TotalRxPackets() const {
  uint64_t total = 0;
  for (const auto& pipe : pipes_) {
    for (uint16_t port = 0; port < ports_->count(); ++port) {
      total += pipe->stats().ports[port].rx_packets.value();
    }
  }
  return total;
}

void Switch::InputPolls(std::vector<uint64_t>* out) const {
  for (const auto& pipe : pipes_) {
    out->push_back(pipe->stats().polls.value() - pipe->stats().held_back.value());
  }
}

StatsSnapshot Switch::Snapshot() const {
  StatsSnapshot snap;
  snap.ports.resize(ports_->count());
  for (size_t p = 0; p < pipes_.size(); ++p) {
    const PipeStats& s = pipes_[p]->stats();
    PipeTotals pipe_totals;
    pipe_totals.lcore =
        scaling_ && owners_ ? lcores_[std::max(0, owners_[p].assigned.load(std::memory_order_relaxed))]
                            : lcores_[p];
    pipe_totals.polls = s.polls.value();
    pipe_totals.busy_polls = s.busy_polls.value();
    pipe_totals.idle_sleeps = s.idle_sleeps.value();
    pipe_totals.held_back = s.held_back.value();
    pipe_totals.copies = s.copies.value();
    pipe_totals.generated = s.generated.value();
    pipe_totals.recirculated = s.recirculated.value();
    pipe_totals.resubmitted = s.resubmitted.value();
    for (uint16_t port = 0; port < ports_->count(); ++port) {
      const PortCounters& c = s.ports[port];
      PortTotals& t = snap.ports[port];
      t.rx_packets += c.rx_packets.value();
      t.rx_bytes += c.rx_bytes.value();
      t.tx_packets += c.tx_packets.value();
      t.tx_bytes += c.tx_bytes.value();
      pipe_totals.rx_packets += c.rx_packets.value();
      pipe_totals.tx_packets += c.tx_packets.value();
    }
    for (size_t r = 0; r < pipe::kDropReasonCount; ++r) {
      snap.drops[r] += s.drops[r].value();
      pipe_totals.dropped += s.drops[r].value();
    }
    snap.pipes.push_back(pipe_totals);
  }
  for (uint16_t port = 0; port < ports_->count(); ++port) {
    const tm::EgressPort* tm_port = pipes_[port % pipes_.size()]->tm_port(port);
    for (uint8_t qid = 0; tm_port != nullptr && qid < tm_port->queue_count(); ++qid) {
      const tm::QueueStats& q = tm_port->stats(qid);
      snap.queues.push_back({port, qid, q.enqueued_packets.value(), q.enqueued_bytes.value(),
                             q.tail_drops.value(), q.depth_cells.value(), q.watermark_cells.value()});
    }
  }
  for (uint16_t port = 0; port < ports_->count(); ++port) {
    rte_eth_stats eth{};
    if (rte_eth_stats_get(ports_->ethdev(port), &eth) == 0) snap.ports[port].rx_missed = eth.imissed;
    snap.ports[port].rx_missed += ports_->KernelRingDrops(port);
  }
  const CoreScaling scaling = core_scaling();
  snap.cores_active = scaling.active;
  snap.cores_max = scaling.max;
  snap.cores_grown = scaling.grown;
  snap.cores_shrunk = scaling.shrunk;
  if (start_tsc_ != 0) {
    snap.seconds = static_cast<double>(rte_get_tsc_cycles() - start_tsc_) /
                   static_cast<double>(rte_get_tsc_hz());
  }
  return snap;
}

}  // namespace softfino::dataplane
