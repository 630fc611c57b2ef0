// softfino-gen: workload generator. Writes pcaps that softfino's ports
// replay (net_pcap rx_pcap=...), with their ground truth where a workload
// has one. `softfino-gen WORKLOAD [options]`; see --help of each.
#include <cstdio>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "softfino/gen/dta_workload.h"
#include "softfino/gen/flow_workload.h"
#include "softfino/gen/incast_workload.h"
#include "softfino/gen/pcap_writer.h"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.got_subcommand("dta")) return RunDta(dta);
  if (app.got_subcommand("flows")) return RunFlows(flows);
  if (app.got_subcommand("incast")) return RunIncast(incast);
  return Fail("unknown workload");
}
