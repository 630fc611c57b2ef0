// TEA programs on several pipes: a memory server's answer must reach the
// pipe that sent its READ, which alone holds the lookup (its PSN, and in
// local deferral the packet itself). The answer arrives in whichever pipe
// reads its port's queue (the NIC's RSS over the answer's UDP/IP header, or
// the port's one queue), which the switch does not choose. As on a
// multi-pipe Tofino, the pipe that receives an answer for another pipe's
// queue pair sends it to that pipe's recirculation port (68 + 128 * pipe);
// the TM carries it across and it comes back into the owner's ingress,
// where it is handled as if it had arrived there.
//
// Built once at configuration from every pipe's queue pairs; read-only
// afterwards, so every pipe may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pipelines/tea_common/tea_servers.h"
#include "softfino/pipe/intrinsic_metadata.h"
#include "softfino/rdma/roce_parser.h"

namespace softfino::pipelines {

class AnswerSteering {
 public:
  // Every server of every pipe of one table (index: pipe).
  void Add(const std::vector<std::unique_ptr<TeaServers>>& by_pipe) {
    for (uint16_t pipe = 0; pipe < by_pipe.size(); ++pipe) {
      for (size_t k = 0; k < by_pipe[pipe]->size(); ++k) {
        const TeaLookup& s = by_pipe[pipe]->server(k);
        owners_.push_back({s.local_qpn(), s.port(), pipe});
      }
    }
  }

  // An answer for `qpn` that came in on `port` and is for no queue pair of
  // the pipe it arrived in: when the queue pair is another pipe's (on that
  // port), sends it to that pipe's recirculation port and returns true.
  bool SteerToOwner(uint32_t qpn, pipe::PortId port, pipe::IngressMetadata& md) const {
    for (const Owner& o : owners_) {
      if (o.qpn == qpn && o.port == port && o.pipe != md.ig_intr_md.pipe) {
        md.ig_intr_md_for_tm.ucast_egress_port = pipe::RecirculationPort(o.pipe);
        return true;
      }
    }
    return false;
  }

  // A packet on pipe `pipe`'s recirculation port. An answer another pipe
  // steered here parses as RoCE: true, `p` parsed and `from` the port its
  // queue pair's answers come in on (checked by the pipe that steered it),
  // or kInvalidPort when no queue pair of this pipe has its QPN. False: a
  // timer packet of the packet generator, which is no RoCE packet.
  bool SteeredHere(const rte_mbuf* m, uint16_t pipe, rdma::RocePacket* p,
                   pipe::PortId* from) const {
    if (rdma::ParseRoce(m, p) != rdma::RoceParseError::kOk) return false;
    const uint32_t qpn = p->bth().qpn();
    *from = pipe::kInvalidPort;
    for (const Owner& o : owners_) {
      if (o.qpn == qpn && o.pipe == pipe) {
        *from = o.port;
        break;
      }
    }
    return true;
  }

 private:
  struct Owner {
    uint32_t qpn;
    pipe::PortId port;
    uint16_t pipe;
  };
  std::vector<Owner> owners_;
};

}  // namespace softfino::pipelines
