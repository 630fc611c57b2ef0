// The verbs backend of softfino-collector: the same region memory,
// registered with rdma-core on a RoCEv2 NIC, which then answers the
// switch's WRITEs, READs and atomics in hardware. Per handshake it creates
// an RC queue pair and moves it RESET -> INIT -> RTR -> RTS with the
// switch's parameters.
//
// The device calls sit behind VerbsDevice, so the parameter logic (masks,
// the state sequence, MTU and access mapping, GIDs) is tested with a fake;
// OpenVerbsDevice() is the real one. Control path only.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "softfino/rdma/handshake.h"
#include "softfino/rdma/memory_region.h"
#include "softfino/rdma/qp_params.h"

namespace softfino::rdma {

// 256..4096 -> IBV_MTU_256..IBV_MTU_4096; anything else -> 0 (not an MTU).
ibv_mtu MtuToVerbs(uint32_t bytes);
uint32_t MtuFromVerbs(ibv_mtu mtu);  // 0 for an unknown enum value
// Access bits -> IBV_ACCESS_*. Remote write and remote atomic bring local
// write along: ibv_reg_mr refuses them without it (EINVAL).
int AccessToVerbs(uint32_t access);
ibv_gid GidToVerbs(const Gid& gid);
Gid GidFromVerbs(const ibv_gid& gid);

// Values of the QP transitions. The defaults are those of a collector that
// only responds: it issues no requests, so its own retry values matter only
// for completeness.
struct VerbsQpOptions {
  uint8_t port = 1;
  // The local GID table index; -1 finds the port's RoCEv2 entry for the
  // collector's address (CollectorEndpoint::gid).
  int gid_index = -1;
  uint8_t hop_limit = 64;
  uint8_t traffic_class = 0;
  uint8_t service_level = 0;
  // RTR: READs and atomics the switch may have outstanding to us at once.
  // DTA's translator and TEA pipeline many; the NIC caps it (max_qp_rd_atom).
  uint8_t max_dest_rd_atomic = 16;
  uint8_t min_rnr_timer = 12;  // 0.64 ms: an RNR NAK's delay (no receives are posted)
  // RTS: local ACK timeout 4.096 us * 2^14 = 67 ms, 7 retries, RNR retry
  // 7 (= forever), one outstanding READ/atomic of our own (we issue none).
  uint8_t timeout = 14;
  uint8_t retry_cnt = 7;
  uint8_t rnr_retry = 7;
  uint8_t max_rd_atomic = 1;
};

// One ibv_modify_qp call.
struct QpTransition {
  ibv_qp_attr attr{};
  int mask = 0;
};
// RESET -> INIT: port, P_Key index 0, the remote operations the QP allows.
QpTransition InitTransition(const VerbsQpOptions& options, int verbs_access);
// INIT -> RTR: the peer's QPN and first PSN, path MTU, and a global route
// (RoCE always carries a GRH) to the peer's GID from our GID index.
QpTransition RtrTransition(const VerbsQpOptions& options, const QpParams& peer, ibv_mtu path_mtu,
                           uint8_t sgid_index);
// RTR -> RTS: our first PSN, timeouts and retries.
QpTransition RtsTransition(const VerbsQpOptions& options, uint32_t sq_psn);

struct VerbsGidEntry {
  uint32_t index = 0;
  Gid gid{};
  bool roce_v2 = false;
};

struct VerbsMr {
  uint32_t lkey = 0;
  uint32_t rkey = 0;
  void* handle = nullptr;  // the device's own (ibv_mr*)
};

// The slice of libibverbs the backend uses, on one opened device with one
// protection domain.
class VerbsDevice {
 public:
  virtual ~VerbsDevice() = default;
  virtual std::string name() const = 0;
  virtual absl::StatusOr<ibv_port_attr> QueryPort(uint8_t port) = 0;
  virtual absl::StatusOr<std::vector<VerbsGidEntry>> QueryGids(uint8_t port) = 0;
  // ibv_reg_mr_iova: the NIC translates [iova, iova + length) to addr.
  virtual absl::StatusOr<VerbsMr> RegisterMemory(void* addr, size_t length, uint64_t iova,
                                                 int verbs_access) = 0;
  virtual void DeregisterMemory(const VerbsMr& mr) = 0;
  virtual absl::StatusOr<uint32_t> CreateRcQp() = 0;  // in RESET; returns its QPN
  virtual absl::Status ModifyQp(uint32_t qpn, const ibv_qp_attr& attr, int mask) = 0;
  virtual void DestroyQp(uint32_t qpn) = 0;
};

// Opens `name` ("" for the first device), allocates its PD and a CQ.
// Without any device: "no RDMA device found (ibv_get_device_list returned
// none); use --backend soft".
absl::StatusOr<std::unique_ptr<VerbsDevice>> OpenVerbsDevice(absl::string_view name);

// Regions registered with the NIC, and one RC QP per accepted handshake;
// it is the collector's HandshakeHandler for --backend verbs.
class VerbsBackend : public HandshakeHandler {
 public:
  VerbsBackend(std::unique_ptr<VerbsDevice> device, VerbsQpOptions options, CollectorEndpoint self);
  ~VerbsBackend() override;  // destroys every QP, then deregisters every region
  VerbsBackend(const VerbsBackend&) = delete;
  VerbsBackend& operator=(const VerbsBackend&) = delete;

  // Registers a region's memory (from a MemoryRegionTable) with the NIC, at
  // the same iova. The NIC's rkey replaces the table's in handshakes.
  absl::StatusOr<MemoryRegion> RegisterRegion(const MemoryRegion& region);

  // Creates a QP and connects it to the hello's side: dest QPN, rq_psn =
  // the hello's PSN, path MTU = the smallest of the hello's, ours and the
  // port's active one, GID from the hello's address.
  absl::StatusOr<QpParams> Accept(const QpParams& hello) override;
  void Abandon(const QpParams& reply) override;  // destroys the reply's QP

  size_t qp_count() const { return qps_.size(); }
  VerbsDevice& device() { return *device_; }

 private:
  absl::StatusOr<uint8_t> SgidIndex();
  absl::Status Connect(uint32_t qpn, const QpParams& hello, const MemoryRegion& region,
                       ibv_mtu mtu);

  std::unique_ptr<VerbsDevice> device_;
  const VerbsQpOptions options_;
  const CollectorEndpoint self_;
  struct Registered {
    MemoryRegion region;  // rkey: the NIC's
    VerbsMr mr;
  };
  std::vector<Registered> regions_;
  absl::flat_hash_map<uint32_t, std::string> qps_;  // QPN -> region name
};

}  // namespace softfino::rdma
