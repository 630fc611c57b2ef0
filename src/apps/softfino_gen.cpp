// softfino-gen: workload generator. Writes pcaps that softfino's ports
// replay (net_pcap rx_pcap=...), with their ground truth where a workload
// has one. `softfino-gen WORKLOAD [options]`; see --help of each.
#include <cstdio>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "softfino/gen/burst_workload.h"
#include "softfino/gen/dta_workload.h"
#include "softfino/gen/flow_workload.h"
#include "softfino/gen/incast_workload.h"
#include "softfino/gen/pcap_writer.h"
#include "softfino/gen/trumpet_workload.h"

namespace {

using namespace softfino;

int Fail(const std::string& message) {
  std::fprintf(stderr, "softfino-gen: %s\n", message.c_str());
  return 1;
}

struct DtaOptions {
  gen::DtaWorkloadConfig config;
  std::string form = "3-byte";
  std::string out;
  std::string truth;
};

void DefineDta(CLI::App& app, DtaOptions& o) {
  CLI::App* dta = app.add_subcommand(
      "dta",
      "DTA reports (UDP 40040) as reporters send them to a translator, and their ground "
      "truth: each Key-Write key's last data, each Key-Increment key's sum, each Append "
      "list's entries in order, each Postcarding flow's path");
  gen::DtaWorkloadConfig& c = o.config;
  dta->add_option("--primitive", c.primitive, "keywrite, keyincrement, append, postcarding or mix")
      ->check(CLI::IsMember({"keywrite", "keyincrement", "append", "postcarding", "mix"}))
      ->default_val("mix");
  dta->add_option("--reports", c.reports, "Reports to write (whole Postcarding paths: a few more)")
      ->default_val(10000);
  dta->add_option("--keys", c.keys, "Distinct keys (Postcarding: flows), drawn uniformly")
      ->default_val(1000);
  dta->add_option("--redundancy", c.redundancy, "Key-Write copies and Key-Increment rows, 1..4")
      ->default_val(2);
  dta->add_option("--lists", c.lists, "Append lists")->default_val(4);
  dta->add_option("--path-length", c.path_length, "Postcarding hops per path, 1..5")
      ->default_val(5);
  dta->add_option("--hop-values", c.hop_values,
                  "Postcarding hop values are switch IDs 1..this (the collector's known set)")
      ->default_val(64);
  dta->add_option("--reporters", c.reporters, "Reporters (source addresses), each with its own "
                  "sequence numbers")
      ->default_val(1);
  dta->add_option("--form", o.form, "Base header: 3-byte (opcode, seqnum, flags) or 2-byte")
      ->check(CLI::IsMember({"2-byte", "3-byte"}))
      ->default_val("3-byte");
  dta->add_option("--rate", c.rate_pps, "Packets per second, for the pcap timestamps")
      ->default_val(1e6);
  dta->add_option("--seed", c.seed, "Random seed: the same seed makes the same pcap")
      ->default_val(1);
  dta->add_option("--out", o.out, "The pcap to write")->required();
  dta->add_option("--truth", o.truth, "Also write the ground truth as JSON here");
}

int RunDta(DtaOptions& o) {
  auto form = net::ParseDtaBaseForm(o.form);
  if (!form.ok()) return Fail(std::string(form.status().message()));
  o.config.form = *form;
  auto w = gen::MakeDtaWorkload(o.config);
  if (!w.ok()) return Fail(std::string(w.status().message()));
  if (absl::Status s = gen::WritePcap(o.out, w->frames, w->timestamps_ns); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  if (!o.truth.empty()) {
    std::ofstream out(o.truth);
    out << w->truth.dump() << "\n";
    if (!out) return Fail(absl::StrCat("cannot write ", o.truth));
  }
  std::fprintf(stderr, "softfino-gen: %zu DTA reports (%s) in %s\n", w->frames.size(),
               o.config.primitive.c_str(), o.out.c_str());
  return 0;
}

struct FlowOptions {
  gen::FlowWorkloadConfig config;
  std::string out;
};

void DefineFlows(CLI::App& app, FlowOptions& o) {
  CLI::App* flows = app.add_subcommand(
      "flows", "Plain IPv4 TCP/UDP traffic: many flows, uniform or Zipf popularity, a size mix");
  gen::FlowWorkloadConfig& c = o.config;
  flows->add_option("--flows", c.flows, "Distinct flows (5-tuples)")->default_val(1000);
  flows->add_option("--packets", c.packets, "Packets to write")->default_val(100000);
  flows->add_option("--zipf", c.zipf, "Popularity: 0 uniform, else the Zipf exponent (0.9, 0.99)")
      ->default_val(0);
  flows->add_option("--sizes", c.sizes, "imix (7:4:1 of 64, 570, 1514 bytes) or one frame size")
      ->default_val("imix");
  flows->add_option("--rate", c.rate_pps, "Packets per second, for the pcap timestamps")
      ->default_val(1e6);
  flows->add_option("--seed", c.seed, "Random seed: the same seed makes the same pcap")
      ->default_val(1);
  flows->add_option("--out", o.out, "The pcap to write")->required();
}

int RunFlows(const FlowOptions& o) {
  auto w = gen::MakeFlowWorkload(o.config);
  if (!w.ok()) return Fail(std::string(w.status().message()));
  if (absl::Status s = gen::WritePcap(o.out, w->frames, w->timestamps_ns); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  std::fprintf(stderr, "softfino-gen: %zu packets of %zu flows in %s\n", w->frames.size(),
               w->flows.size(), o.out.c_str());
  return 0;
}

struct IncastOptions {
  gen::IncastConfig config;
  std::string out_prefix;
};

void DefineIncast(CLI::App& app, IncastOptions& o) {
  CLI::App* incast = app.add_subcommand(
      "incast", "Incast microbursts: N senders, each on its own port, burst into one port at "
                "the same moments; PREFIX0.pcap .. PREFIX<N-1>.pcap, one per sender");
  gen::IncastConfig& c = o.config;
  incast->add_option("--senders", c.senders, "Senders (ingress ports)")->default_val(4);
  incast->add_option("--bursts", c.bursts, "Bursts")->default_val(10);
  incast->add_option("--burst-packets", c.burst_packets, "Packets per sender and burst")
      ->default_val(50);
  incast->add_option("--size", c.packet_bytes, "Frame size in bytes")->default_val(1000);
  incast->add_option("--gap-us", c.gap_us, "From one burst's start to the next, us")
      ->default_val(500);
  incast->add_option("--sender-gbps", c.sender_gbps, "Each sender's line rate, Gb/s")
      ->default_val(10);
  incast->add_option("--seed", c.seed, "Random seed (start jitter within 1 us)")->default_val(1);
  incast->add_option("--background-gbps", c.background_gbps,
                     "Light background traffic from one more sender (the last pcap), evenly "
                     "spaced at this rate over the whole run; 0: none")
      ->default_val(0);
  incast->add_option("--out-prefix", o.out_prefix, "Where the pcaps go: PREFIX0.pcap, ...")
      ->required();
}

int RunIncast(const IncastOptions& o) {
  auto w = gen::MakeIncastWorkload(o.config);
  if (!w.ok()) return Fail(std::string(w.status().message()));
  for (size_t s = 0; s < w->frames.size(); ++s) {
    const std::string path = absl::StrCat(o.out_prefix, s, ".pcap");
    if (absl::Status st = gen::WritePcap(path, w->frames[s], w->timestamps_ns[s]); !st.ok()) {
      return Fail(std::string(st.message()));
    }
  }
  std::fprintf(stderr, "softfino-gen: %u senders x %u bursts x %u packets in %s*.pcap\n",
               o.config.senders, o.config.bursts, o.config.burst_packets, o.out_prefix.c_str());
  return 0;
}

struct BurstOptions {
  gen::BurstWorkloadConfig config;
  std::string preset;
  std::string out_prefix;
};

void DefineBursts(CLI::App& app, BurstOptions& o) {
  CLI::App* bursts = app.add_subcommand(
      "bursts",
      "Microbursts whose durations and gaps follow given distributions, over light "
      "background traffic, like BurstRadar's web and cache traces: burst senders on ports "
      "0..N-1 send together during each burst; PREFIX0.pcap .. PREFIX<N-1>.pcap, then the "
      "background sender's PREFIX<N>.pcap. Distributions (microseconds): const:V, exp:MEAN, "
      "lognormal:MEDIAN,SIGMA, uniform:LO,HI, file:CSV (values drawn with replacement)");
  gen::BurstWorkloadConfig& c = o.config;
  bursts->add_option("--preset", o.preset,
                     "Start from a named workload: web (durations lognormal:30,1, gaps "
                     "exp:1500, background 1 Gb/s) or cache (lognormal:50,1, exp:800, 2 Gb/s); "
                     "options given as well override it")
      ->check(CLI::IsMember({"web", "cache"}));
  bursts->add_option("--durations", c.durations, "Burst durations, us (a distribution)")
      ->default_str(c.durations);
  bursts->add_option("--gaps", c.gaps, "From one burst's end to the next's start, us")
      ->default_str(c.gaps);
  bursts->add_option("--bursts", c.bursts, "Bursts")->default_str(std::to_string(c.bursts));
  bursts->add_option("--senders", c.senders, "Burst senders (ingress ports)")
      ->default_str(std::to_string(c.senders));
  bursts->add_option("--burst-gbps", c.burst_gbps,
                     "All burst senders together during a burst, Gb/s (above the egress port's "
                     "rate to queue)")
      ->default_str("15");
  bursts->add_option("--sender-gbps", c.sender_gbps, "Each sender's line rate, Gb/s")
      ->default_str("10");
  bursts->add_option("--background-gbps", c.background_gbps,
                     "Background traffic (Poisson) from one more sender, Gb/s; 0: none")
      ->default_str("1");
  bursts->add_option("--size", c.packet_bytes, "Frame size in bytes")->default_str("1000");
  bursts->add_option("--seed", c.seed, "Random seed: the same seed makes the same pcaps")
      ->default_str("1");
  bursts->add_option("--out-prefix", o.out_prefix, "Where the pcaps go: PREFIX0.pcap, ...")
      ->required();
}

int RunBursts(CLI::App& app, BurstOptions& o) {
  if (!o.preset.empty()) {
    // The preset fills what the command line did not give.
    auto preset = gen::BurstPreset(o.preset);
    if (!preset.ok()) return Fail(std::string(preset.status().message()));
    CLI::App* sub = app.get_subcommand("bursts");
    if (sub->count("--durations") == 0) o.config.durations = preset->durations;
    if (sub->count("--gaps") == 0) o.config.gaps = preset->gaps;
    if (sub->count("--background-gbps") == 0) o.config.background_gbps = preset->background_gbps;
  }
  auto w = gen::MakeBurstWorkload(o.config);
  if (!w.ok()) return Fail(std::string(w.status().message()));
  size_t frames = 0;
  for (size_t s = 0; s < w->frames.size(); ++s) {
    const std::string path = absl::StrCat(o.out_prefix, s, ".pcap");
    if (absl::Status st = gen::WritePcap(path, w->frames[s], w->timestamps_ns[s]); !st.ok()) {
      return Fail(std::string(st.message()));
    }
    frames += w->frames[s].size();
  }
  std::fprintf(stderr,
               "softfino-gen: %u bursts (durations %s, gaps %s) from %u senders, %zu frames "
               "in all, in %s*.pcap\n",
               o.config.bursts, o.config.durations.c_str(), o.config.gaps.c_str(),
               o.config.senders, frames, o.out_prefix.c_str());
  return 0;
}

struct TrumpetOptions {
  gen::TrumpetWorkloadConfig config;
  std::string out;
  uint32_t queues = 1;
};

void DefineTrumpet(CLI::App& app, TrumpetOptions& o) {
  CLI::App* t = app.add_subcommand(
      "trumpet",
      "Traffic for Trumpet's triggers: background TCP/UDP flows to 64 hosts (10.2.0.0-63) with "
      "volume surges to hosts of their own (10.2.0.64+), TCP loss episodes (resent segments) "
      "and trains of bursts planted at random times; whole-microsecond timestamps at least "
      "--min-gap-us apart");
  gen::TrumpetWorkloadConfig& c = o.config;
  t->add_option("--flows", c.flows, "Background flows (90% TCP)")->default_val(200);
  t->add_option("--packets", c.packets, "Background packets")->default_val(20000);
  t->add_option("--duration-us", c.duration_us, "Length of the trace")->default_val(200000);
  t->add_option("--surges", c.surges, "Hosts that get a surge")->default_val(3);
  t->add_option("--surge-packets", c.surge_packets, "1500-byte packets per surge, in 5 ms")
      ->default_val(300);
  t->add_option("--loss-flows", c.loss_flows, "TCP flows with a loss episode")->default_val(8);
  t->add_option("--burst-flows", c.burst_flows, "Flows sending trains of 8 packets")
      ->default_val(16);
  t->add_option("--min-gap-us", c.min_gap_us, "Least time between two packets")->default_val(2);
  t->add_option("--seed", c.seed, "Random seed: the same seed makes the same pcap")->default_val(1);
  t->add_option("--queues", o.queues,
                "Split flows over this many pcaps (OUT_q0.pcap ...), one per RX queue, as RSS "
                "would: a flow's packets all go to one")
      ->default_val(1)
      ->check(CLI::Range(1, 64));
  t->add_option("--out", o.out, "The pcap to write (with --queues > 1, the name's stem)")->required();
}

int RunTrumpet(const TrumpetOptions& o) {
  auto w = gen::MakeTrumpetWorkload(o.config);
  if (!w.ok()) return Fail(std::string(w.status().message()));
  std::vector<std::vector<std::vector<uint8_t>>> frames(o.queues);
  std::vector<std::vector<uint64_t>> stamps(o.queues);
  for (size_t i = 0; i < w->frames.size(); ++i) {
    const gen::Flow& f = w->flows[w->flow_of_frame[i]];
    const uint32_t q = (f.src_ip ^ f.dst_ip ^ f.src_port ^ f.dst_port ^ f.proto) % o.queues;
    frames[q].push_back(std::move(w->frames[i]));
    stamps[q].push_back(w->timestamps_ns[i]);
  }
  std::string stem = o.out;
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".pcap") stem.resize(stem.size() - 5);
  for (uint32_t q = 0; q < o.queues; ++q) {
    const std::string path = o.queues == 1 ? o.out : absl::StrCat(stem, "_q", q, ".pcap");
    if (absl::Status s = gen::WritePcap(path, frames[q], stamps[q]); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  std::fprintf(stderr, "softfino-gen: %zu packets of %zu flows in %u pcap(s)\n",
               w->timestamps_ns.size(), w->flows.size(), o.queues);
  return 0;
}

struct TriggerOptions {
  uint32_t count = 1024, per_flow = 8, interval_ms = 10;
  std::string out;
};

void DefineTriggers(CLI::App& app, TriggerOptions& o) {
  CLI::App* t = app.add_subcommand(
      "triggers",
      "Many Trumpet triggers for benchmarks, for flows to 10.2.0.0/16 (softfino-gen flows): "
      "each flow matches --per-flow of them, one per filter tuple");
  t->add_option("--count", o.count, "Triggers in all")->default_val(1024)->check(CLI::Range(1, 65535));
  t->add_option("--per-flow", o.per_flow, "Triggers each flow matches")->default_val(8)
      ->check(CLI::Range(1, 16));
  t->add_option("--interval-ms", o.interval_ms, "Their interval")->default_val(10);
  t->add_option("--out", o.out, "The trigger file to write")->required();
}

int RunTriggers(const TriggerOptions& o) {
  std::ofstream out(o.out);
  const std::vector<std::string> lines = gen::MakeBenchTriggers(o.count, o.per_flow, o.interval_ms);
  for (const std::string& line : lines) out << line << "\n";
  if (!out) return Fail(absl::StrCat("cannot write ", o.out));
  std::fprintf(stderr, "softfino-gen: %zu triggers in %s\n", lines.size(), o.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"softfino-gen: writes workloads as pcaps for softfino's ports to replay"};
  app.require_subcommand(1);
  DtaOptions dta;
  DefineDta(app, dta);
  FlowOptions flows;
  DefineFlows(app, flows);
  IncastOptions incast;
  DefineIncast(app, incast);
  BurstOptions bursts;
  DefineBursts(app, bursts);
  TrumpetOptions trumpet;
  DefineTrumpet(app, trumpet);
  TriggerOptions triggers;
  DefineTriggers(app, triggers);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.got_subcommand("dta")) return RunDta(dta);
  if (app.got_subcommand("flows")) return RunFlows(flows);
  if (app.got_subcommand("incast")) return RunIncast(incast);
  if (app.got_subcommand("bursts")) return RunBursts(app, bursts);
  if (app.got_subcommand("trumpet")) return RunTrumpet(trumpet);
  if (app.got_subcommand("triggers")) return RunTriggers(triggers);
  return Fail("unknown workload");
}
