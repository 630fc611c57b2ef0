#include "softfino/rdma/verbs_backend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace softfino::rdma {
namespace {

std::string Hex(uint64_t v) { return absl::StrCat("0x", absl::Hex(v)); }

// libibverbs on an opened device: one PD for every region and QP, one CQ
// that every QP shares (a responder-only QP completes nothing of its own).
class RealVerbsDevice final : public VerbsDevice {
 public:
  RealVerbsDevice(std::string name, ibv_context* context, ibv_pd* pd, ibv_cq* cq)
      : name_(std::move(name)), context_(context), pd_(pd), cq_(cq) {}
  ~RealVerbsDevice() override {
    for (auto& [qpn, qp] : qps_) ibv_destroy_qp(qp);
    ibv_destroy_cq(cq_);
    ibv_dealloc_pd(pd_);
    ibv_close_device(context_);
  }

  std::string name() const override { return name_; }

  absl::StatusOr<ibv_port_attr> QueryPort(uint8_t port) override {
    ibv_port_attr attr{};
    if (const int rc = ibv_query_port(context_, port, &attr); rc != 0) {
      return absl::InvalidArgumentError(absl::StrCat("cannot query port ", port, " of ", name_,
                                                     ": ", std::strerror(rc),
                                                     "; is the port number right?"));
    }
    return attr;
  }

  absl::StatusOr<std::vector<VerbsGidEntry>> QueryGids(uint8_t port) override {
    absl::StatusOr<ibv_port_attr> attr = QueryPort(port);
    if (!attr.ok()) return attr.status();
    std::vector<ibv_gid_entry> entries(static_cast<size_t>(std::max(attr->gid_tbl_len, 0)));
    const ssize_t n = ibv_query_gid_table(context_, entries.data(), entries.size(), 0);
    if (n < 0) {
      return absl::InternalError(absl::StrCat("cannot read the GID table of ", name_, ": ",
                                              std::strerror(static_cast<int>(-n))));
    }
    std::vector<VerbsGidEntry> gids;
    for (ssize_t i = 0; i < n; ++i) {
      const ibv_gid_entry& e = entries[static_cast<size_t>(i)];
      if (e.port_num != port) continue;
      gids.push_back({e.gid_index, GidFromVerbs(e.gid), e.gid_type == IBV_GID_TYPE_ROCE_V2});
    }
    return gids;
  }

  absl::StatusOr<VerbsMr> RegisterMemory(void* addr, size_t length, uint64_t iova,
                                         int verbs_access) override {
    ibv_mr* mr = ibv_reg_mr_iova(pd_, addr, length, iova, verbs_access);
    if (mr == nullptr) return absl::ResourceExhaustedError(std::strerror(errno));
    return VerbsMr{mr->lkey, mr->rkey, mr};
  }

  void DeregisterMemory(const VerbsMr& mr) override {
    ibv_dereg_mr(static_cast<ibv_mr*>(mr.handle));
  }

  absl::StatusOr<uint32_t> CreateRcQp() override {
    ibv_qp_init_attr init{};
    init.send_cq = cq_;
    init.recv_cq = cq_;
    init.qp_type = IBV_QPT_RC;
    // The NIC answers WRITE/READ/atomics without work requests; one of each
    // is the smallest queue every provider accepts.
    init.cap.max_send_wr = init.cap.max_recv_wr = 1;
    init.cap.max_send_sge = init.cap.max_recv_sge = 1;
    ibv_qp* qp = ibv_create_qp(pd_, &init);
    if (qp == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot create an RC queue pair on ", name_, ": ", std::strerror(errno)));
    }
    qps_[qp->qp_num] = qp;
    return qp->qp_num;
  }

  absl::Status ModifyQp(uint32_t qpn, const ibv_qp_attr& attr, int mask) override {
    const auto it = qps_.find(qpn);
    if (it == qps_.end()) return absl::NotFoundError(absl::StrCat("no QP ", Hex(qpn)));
    ibv_qp_attr copy = attr;  // ibv_modify_qp takes a non-const pointer
    if (const int rc = ibv_modify_qp(it->second, &copy, mask); rc != 0) {
      return absl::InvalidArgumentError(std::strerror(rc));
    }
    return absl::OkStatus();
  }

  void DestroyQp(uint32_t qpn) override {
    const auto it = qps_.find(qpn);
    if (it == qps_.end()) return;
    ibv_destroy_qp(it->second);
    qps_.erase(it);
  }

 private:
  const std::string name_;
  ibv_context* const context_;
  ibv_pd* const pd_;
  ibv_cq* const cq_;
  absl::flat_hash_map<uint32_t, ibv_qp*> qps_;
};

const char* StateName(ibv_qp_state state) {
  switch (state) {
    case IBV_QPS_INIT:
      return "INIT";
    case IBV_QPS_RTR:
      return "RTR";
    case IBV_QPS_RTS:
      return "RTS";
    default:
      return "another state";
  }
}

}  // namespace

ibv_mtu MtuToVerbs(uint32_t bytes) {
  switch (bytes) {
    case 256:
      return IBV_MTU_256;
    case 512:
      return IBV_MTU_512;
    case 1024:
      return IBV_MTU_1024;
    case 2048:
      return IBV_MTU_2048;
    case 4096:
      return IBV_MTU_4096;
    default:
      return static_cast<ibv_mtu>(0);
  }
}

uint32_t MtuFromVerbs(ibv_mtu mtu) {
  switch (mtu) {
    case IBV_MTU_256:
      return 256;
    case IBV_MTU_512:
      return 512;
    case IBV_MTU_1024:
      return 1024;
    case IBV_MTU_2048:
      return 2048;
    case IBV_MTU_4096:
      return 4096;
  }
  return 0;
}

int AccessToVerbs(uint32_t access) {
  int verbs = 0;
  if (access & kAccessLocalWrite) verbs |= IBV_ACCESS_LOCAL_WRITE;
  if (access & kAccessRemoteWrite) verbs |= IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE;
  if (access & kAccessRemoteRead) verbs |= IBV_ACCESS_REMOTE_READ;
  if (access & kAccessRemoteAtomic) verbs |= IBV_ACCESS_REMOTE_ATOMIC | IBV_ACCESS_LOCAL_WRITE;
  return verbs;
}

ibv_gid GidToVerbs(const Gid& gid) {
  ibv_gid out{};
  std::memcpy(out.raw, gid.data(), sizeof(out.raw));
  return out;
}

Gid GidFromVerbs(const ibv_gid& gid) {
  Gid out{};
  std::memcpy(out.data(), gid.raw, out.size());
  return out;
}

QpTransition InitTransition(const VerbsQpOptions& options, int verbs_access) {
  QpTransition t;
  t.attr.qp_state = IBV_QPS_INIT;
  t.attr.pkey_index = 0;  // RoCE has the default P_Key only
  t.attr.port_num = options.port;
  t.attr.qp_access_flags = static_cast<unsigned>(
      verbs_access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC));
  t.mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
  return t;
}

QpTransition RtrTransition(const VerbsQpOptions& options, const QpParams& peer, ibv_mtu path_mtu,
                           uint8_t sgid_index) {
  QpTransition t;
  t.attr.qp_state = IBV_QPS_RTR;
  t.attr.path_mtu = path_mtu;
  t.attr.dest_qp_num = peer.qpn;
  t.attr.rq_psn = peer.psn;
  t.attr.max_dest_rd_atomic = options.max_dest_rd_atomic;
  t.attr.min_rnr_timer = options.min_rnr_timer;
  // RoCE addresses by GID (the provider resolves the MAC from it through
  // the kernel's neighbour table); the LID is unused.
  t.attr.ah_attr.is_global = 1;
  t.attr.ah_attr.grh.dgid = GidToVerbs(peer.gid);
  t.attr.ah_attr.grh.sgid_index = sgid_index;
  t.attr.ah_attr.grh.hop_limit = options.hop_limit;
  t.attr.ah_attr.grh.traffic_class = options.traffic_class;
  t.attr.ah_attr.sl = options.service_level;
  t.attr.ah_attr.port_num = options.port;
  t.mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
           IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
  return t;
}

QpTransition RtsTransition(const VerbsQpOptions& options, uint32_t sq_psn) {
  QpTransition t;
  t.attr.qp_state = IBV_QPS_RTS;
  t.attr.sq_psn = sq_psn;
  t.attr.timeout = options.timeout;
  t.attr.retry_cnt = options.retry_cnt;
  t.attr.rnr_retry = options.rnr_retry;
  t.attr.max_rd_atomic = options.max_rd_atomic;
  t.mask = IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
           IBV_QP_MAX_QP_RD_ATOMIC;
  return t;
}

absl::StatusOr<std::unique_ptr<VerbsDevice>> OpenVerbsDevice(absl::string_view name) {
  int count = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr || count <= 0) {
    if (list != nullptr) ibv_free_device_list(list);
    return absl::FailedPreconditionError(
        "no RDMA device found (ibv_get_device_list returned none); use --backend soft");
  }
  ibv_device* device = nullptr;
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    names.push_back(ibv_get_device_name(list[i]));
    if (device == nullptr && (name.empty() || names.back() == name)) device = list[i];
  }
  if (device == nullptr) {
    ibv_free_device_list(list);
    return absl::NotFoundError(absl::StrCat("no RDMA device named ", name, "; this host has ",
                                            absl::StrJoin(names, ", ")));
  }
  const std::string device_name = ibv_get_device_name(device);
  ibv_context* context = ibv_open_device(device);
  ibv_free_device_list(list);
  if (context == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open RDMA device ", device_name, ": ", std::strerror(errno),
                     "; check the permissions of /dev/infiniband"));
  }
  ibv_pd* pd = ibv_alloc_pd(context);
  ibv_cq* cq = pd == nullptr ? nullptr : ibv_create_cq(context, 16, nullptr, nullptr, 0);
  if (cq == nullptr) {
    const std::string why = std::strerror(errno);
    if (pd != nullptr) ibv_dealloc_pd(pd);
    ibv_close_device(context);
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot allocate a protection domain and completion queue on ", device_name, ": ", why));
  }
  return std::make_unique<RealVerbsDevice>(device_name, context, pd, cq);
}

VerbsBackend::VerbsBackend(std::unique_ptr<VerbsDevice> device, VerbsQpOptions options,
                           CollectorEndpoint self)
    : device_(std::move(device)), options_(options), self_(self) {}

VerbsBackend::~VerbsBackend() {
  // QPs first: a region must not go while a QP could still reach it.
  for (const auto& [qpn, region] : qps_) device_->DestroyQp(qpn);
  for (const Registered& r : regions_) device_->DeregisterMemory(r.mr);
}

absl::StatusOr<MemoryRegion> VerbsBackend::RegisterRegion(const MemoryRegion& region) {
  for (const Registered& r : regions_) {
    if (r.region.name == region.name) {
      return absl::AlreadyExistsError(
          absl::StrCat("region ", region.name, " is already registered with ", device_->name()));
    }
  }
  absl::StatusOr<VerbsMr> mr = device_->RegisterMemory(region.base, region.length, region.iova,
                                                       AccessToVerbs(region.access));
  if (!mr.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot register region ", region.name, " (", region.length, " bytes) with ",
                     device_->name(), ": ", mr.status().message(),
                     "; the NIC pins the memory, so check the locked-memory limit (ulimit -l)"));
  }
  Registered r{region, *mr};
  r.region.rkey = mr->rkey;
  regions_.push_back(r);
  return r.region;
}

absl::StatusOr<uint8_t> VerbsBackend::SgidIndex() {
  if (options_.gid_index >= 0) {
    if (options_.gid_index > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("gid index ", options_.gid_index, " is too large; at most 255"));
    }
    return static_cast<uint8_t>(options_.gid_index);
  }
  absl::StatusOr<std::vector<VerbsGidEntry>> gids = device_->QueryGids(options_.port);
  if (!gids.ok()) return gids.status();
  std::vector<std::string> seen;
  for (const VerbsGidEntry& e : *gids) {
    if (e.roce_v2 && e.gid == self_.gid && e.index <= 255) return static_cast<uint8_t>(e.index);
    seen.push_back(absl::StrCat(e.index, " ", FormatGid(e.gid), e.roce_v2 ? " (v2)" : " (v1)"));
  }
  return absl::NotFoundError(absl::StrCat(
      "port ", options_.port, " of ", device_->name(), " has no RoCEv2 GID for ",
      FormatGid(self_.gid), " (its GIDs: ", seen.empty() ? "none" : absl::StrJoin(seen, ", "),
      "); assign that address to the NIC's interface, or give the GID index"));
}

absl::Status VerbsBackend::Connect(uint32_t qpn, const QpParams& hello, const MemoryRegion& region,
                                   ibv_mtu mtu) {
  absl::StatusOr<uint8_t> sgid = SgidIndex();
  if (!sgid.ok()) return sgid.status();
  const QpTransition steps[] = {
      InitTransition(options_, AccessToVerbs(region.access)),
      RtrTransition(options_, hello, mtu, *sgid),
      RtsTransition(options_, RandomPsn()),
  };
  for (const QpTransition& t : steps) {
    if (absl::Status s = device_->ModifyQp(qpn, t.attr, t.mask); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot move QP ", Hex(qpn), " on ", device_->name(), " to ", StateName(t.attr.qp_state),
          ": ", s.message(), " (peer qpn ", Hex(hello.qpn), ", gid ", FormatGid(hello.gid),
          ", gid index ", *sgid, ", mtu ", MtuFromVerbs(mtu), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<QpParams> VerbsBackend::Accept(const QpParams& hello) {
  const auto found = std::find_if(regions_.begin(), regions_.end(), [&](const Registered& r) {
    return r.region.name == hello.region;
  });
  if (found == regions_.end()) {
    std::vector<std::string> names;
    for (const Registered& r : regions_) names.push_back(r.region.name);
    std::sort(names.begin(), names.end());
    return absl::NotFoundError(absl::StrCat("no region named ", hello.region, "; it has ",
                                            names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  const MemoryRegion& region = found->region;

  absl::StatusOr<ibv_port_attr> port = device_->QueryPort(options_.port);
  if (!port.ok()) return port.status();
  if (port->link_layer != IBV_LINK_LAYER_ETHERNET) {
    return absl::FailedPreconditionError(
        absl::StrCat("port ", options_.port, " of ", device_->name(),
                     " is not Ethernet (InfiniBand?); the collector speaks RoCEv2 only"));
  }
  uint32_t mtu = std::min(self_.mtu, MtuFromVerbs(port->active_mtu));
  if (hello.mtu != 0) mtu = std::min(mtu, hello.mtu);
  if (!IsPathMtu(mtu)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "port ", options_.port, " of ", device_->name(), " reports no usable active MTU (",
        static_cast<int>(port->active_mtu), "); is its link up?"));
  }

  absl::StatusOr<uint32_t> qpn = device_->CreateRcQp();
  if (!qpn.ok()) return qpn.status();
  if (absl::Status s = Connect(*qpn, hello, region, MtuToVerbs(mtu)); !s.ok()) {
    device_->DestroyQp(*qpn);
    return s;
  }
  qps_[*qpn] = region.name;

  QpParams reply;
  reply.qpn = *qpn;
  reply.psn = hello.psn;
  reply.region = region.name;
  reply.rkey = region.rkey;
  reply.iova = region.iova;
  reply.length = region.length;
  reply.gid = self_.gid;
  reply.mac = self_.mac;
  reply.mtu = mtu;
  return reply;
}

void VerbsBackend::Abandon(const QpParams& reply) {
  if (qps_.erase(reply.qpn) > 0) device_->DestroyQp(reply.qpn);
}

}  // namespace softfino::rdma
