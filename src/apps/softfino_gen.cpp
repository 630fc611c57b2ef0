// softfino-gen: workload generator. Writes pcaps that softfino's ports
// replay (net_pcap rx_pcap=...), with their ground truth where a workload
// has one. `softfino-gen WORKLOAD [options]`; see --help of each.
#include <cstdio>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "softfino/gen/dta_workload.h"
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
  auto pcap = gen::PcapWriter::Open(o.out);
  if (!pcap.ok()) return Fail(std::string(pcap.status().message()));
  for (size_t i = 0; i < w->frames.size(); ++i) pcap->Write(w->frames[i], w->timestamps_ns[i]);
  if (absl::Status s = pcap->Close(); !s.ok()) return Fail(std::string(s.message()));
  if (!o.truth.empty()) {
    std::ofstream out(o.truth);
    out << w->truth.dump() << "\n";
    if (!out) return Fail(absl::StrCat("cannot write ", o.truth));
  }
  std::fprintf(stderr, "softfino-gen: %zu DTA reports (%s) in %s\n", w->frames.size(),
               o.config.primitive.c_str(), o.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"softfino-gen: writes workloads as pcaps for softfino's ports to replay"};
  app.require_subcommand(1);
  DtaOptions dta;
  DefineDta(app, dta);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.got_subcommand("dta")) return RunDta(dta);
  return Fail("unknown workload");
}
