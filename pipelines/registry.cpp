#include "pipelines/registry.h"

#include <array>

#include "pipelines/burstradar/burstradar.h"
#include "pipelines/dta_reporter/dta_reporter.h"
#include "pipelines/dta_translator/dta_translator.h"
#include "pipelines/l3fwd/l3fwd.h"
#include "pipelines/packet_fates/packet_fates.h"
#include "pipelines/rdma_probe/rdma_probe.h"
#include "pipelines/tea_firewall/tea_firewall.h"
#include "pipelines/tea_nat/tea_nat.h"
#include "pipelines/tm_probe/tm_probe.h"

namespace softfino::pipelines {
namespace {

constexpr std::array kPrograms = {
    pipe::ProgramDescriptor{"burstradar",
                            "forwards by port; egress snapshots microbursts into courier packets",
                            &BurstRadar::Create},
    pipe::ProgramDescriptor{"dta_reporter",
                            "forwards by port and reports flows to a DTA translator",
                            &DtaReporter::Create},
    pipe::ProgramDescriptor{"dta_translator",
                            "DTA reports become RDMA WRITEs and FETCH_ADDs into collectors",
                            &DtaTranslator::Create},
    pipe::ProgramDescriptor{"l3fwd", "IPv4/IPv6 LPM router: MAC rewrite, TTL decrement",
                            &L3fwd::Create},
    pipe::ProgramDescriptor{"packet_fates",
                            "unicast, multicast, i2e/e2e mirroring and drop by UDP port",
                            &PacketFates::Create},
    pipe::ProgramDescriptor{"rdma_probe",
                            "command packets become RDMA WRITE/READ/FETCH_ADD to a collector",
                            &RdmaProbe::Create},
    pipe::ProgramDescriptor{"tea_firewall",
                            "stateful firewall: connections from inside, kept in server memory",
                            &TeaFirewall::Create},
    pipe::ProgramDescriptor{"tea_nat",
                            "source NAT with its table in server memory, looked up over RDMA",
                            &TeaNat::Create},
    pipe::ProgramDescriptor{"tm_probe",
                            "forward by ingress port; egress stamps TM queueing metadata into UDP",
                            &TmProbe::Create},
};

}  // namespace

std::span<const pipe::ProgramDescriptor> Programs() { return kPrograms; }

const pipe::ProgramDescriptor* FindProgram(absl::string_view name) {
  for (const auto& p : kPrograms) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace softfino::pipelines
