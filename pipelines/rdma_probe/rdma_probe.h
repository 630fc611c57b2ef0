// rdma_probe: drives a collector's memory over RoCEv2 from the data plane,
// one command packet at a time, so the whole RDMA path (handshake, requester,
// soft RNIC, loss, NAKs, resends) can be exercised and watched end to end.
//
// A command (UDP to port 4792 on the command port) becomes one RDMA request
// on the pipe's queue pair to connection "collector": WRITE Only, READ, or
// FETCH_ADD. Answers from the collector complete requests; READ data and
// atomic results go back to the command port as result packets. Requests
// lost on the way (or their answers) are sent again from the requester's
// window, carried by the answers and timer packets the program gets (each
// spare packet carries one resend), so every command lands exactly once.
// For tests, "drop_every": k throws away every k-th request and every k-th
// answer, as a lossy link would. See README.md for the formats.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "nlohmann/json.hpp"
#include "softfino/pipe/program.h"
#include "softfino/rdma/connection.h"
#include "softfino/rdma/rc_requester.h"
#include "softfino/rdma/roce_builder.h"

namespace softfino::pipelines {

class RdmaProbe final : public pipe::Program {
 public:
  static constexpr uint16_t kCommandUdpPort = 4792;
  static constexpr uint16_t kResultUdpPort = 4793;
  // kTick carries no request: a spare packet for a resend, as a timer
  // packet of the packet generator is.
  enum class Op : uint8_t { kTick = 0, kWrite = 1, kRead = 2, kFetchAdd = 3 };
  // Result kinds.
  enum class Result : uint8_t { kReadData = 1, kAtomic = 2, kError = 3 };

  static std::unique_ptr<pipe::Program> Create();
  ~RdmaProbe() override;

  absl::Status Configure(const nlohmann::json& config, const pipe::SwitchInfo& info) override;
  void Ingress(pipe::PacketBurst& burst) const override;
  std::vector<pipe::ResourceUse> Resources() const override;
  nlohmann::json Counters() const override;

 private:
  // One pipe's queue pair: what Tofino would keep in registers of that pipe.
  struct alignas(64) PipeQp {
    explicit PipeQp(const rdma::ConnectedQueuePair& c, rdma::RoceBuilder b,
                    const rdma::RcRequesterConfig& rc)
        : conn(c), builder(b), requester(rc) {}
    rdma::ConnectedQueuePair conn;
    rdma::RoceBuilder builder;
    rdma::RcRequester requester;
    uint64_t sent = 0, received = 0;  // for drop_every
  };

  void Command(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp) const;
  void Answer(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp) const;
  // Sends the next due resend in `m`, or drops it as `idle`.
  void Resend(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp, pipe::DropReason idle) const;
  void Send(rte_mbuf* m, pipe::IngressMetadata& md, PipeQp& qp,
            const rdma::PacketFields& f) const;

  pipe::PortId command_port_ = 0;
  uint32_t drop_every_ = 0;
  // Per pipe, mutable from Ingress as per-pipe registers are: only that
  // pipe's worker touches its entry.
  std::vector<std::unique_ptr<PipeQp>> qps_;
};

}  // namespace softfino::pipelines
