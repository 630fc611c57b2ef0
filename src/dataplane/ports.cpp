#include "softfino/dataplane/ports.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "softfino/dataplane/soft_rss.h"
#include "softfino/pipe/packet_burst.h"
#include "softfino/pipe/program.h"

namespace softfino::dataplane {
namespace {

absl::Status PortError(uint16_t port, const std::string& name, absl::string_view what, int rc) {
  return absl::InternalError(
      absl::StrCat("port ", port, " (", name, "): ", what, " failed: ", rte_strerror(-rc)));
}

// This process's AF_PACKET sockets bound to interface `if_index`: the
// af_packet PMD's, one per queue (DPDK keeps their descriptors private).
std::vector<int> PacketSocketsOf(unsigned if_index) {
  std::vector<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  while (const dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    int domain = 0;
    socklen_t len = sizeof(domain);
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        domain != AF_PACKET) {
      continue;
    }
    sockaddr_ll addr{};
    len = sizeof(addr);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        addr.sll_ifindex > 0 && static_cast<unsigned>(addr.sll_ifindex) == if_index) {
      fds.push_back(static_cast<int>(fd));
    }
  }
  closedir(dir);
  return fds;
}

}  // namespace

uint64_t Ports::KernelRingDrops(uint16_t port) const {
  if (port >= packet_sockets_.size() || packet_sockets_[port] == nullptr) return 0;
  const PacketSockets& s = *packet_sockets_[port];
  for (int fd : s.fds) {
    tpacket_stats st{};
    socklen_t len = sizeof(st);
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      s.drops.fetch_add(st.tp_drops, std::memory_order_relaxed);
    }
  }
  return s.drops.load(std::memory_order_relaxed);
}

absl::StatusOr<uint16_t> CountPorts() {
  const uint16_t n = rte_eth_dev_count_avail();
  if (n == 0) {
    return absl::FailedPreconditionError(
        "no ports: give DPDK a device, e.g. --vdev=net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap "
        "or a NIC bound to vfio-pci"
#ifdef SOFTFINO_DPDK_STATIC
        " (this build links DPDK statically and drives e1000, ixgbe, i40e, iavf, ice, "
        "vmxnet3, virtio and mlx5 NICs; for others build with meson -Ddpdk_static=false)"
#endif
    );
  }
  uint16_t expected = 0;
  uint16_t port;
  RTE_ETH_FOREACH_DEV(port) {
    if (port != expected++) {
      return absl::FailedPreconditionError(
          absl::StrCat("DPDK numbered the ports with a gap (port ", port,
                       "); softfino needs ports 0..n-1"));
    }
  }
  return n;
}

absl::StatusOr<std::unique_ptr<Ports>> Ports::Start(const PortOptions& options) {
  auto ports = std::unique_ptr<Ports>(new Ports());
  if (absl::Status s = ports->Setup(options); !s.ok()) return s;
  return ports;
}

absl::Status Ports::Setup(const PortOptions& options) {
  if (options.ethdevs.empty()) {
    auto count = CountPorts();
    if (!count.ok()) return count.status();
    for (uint16_t port = 0; port < *count; ++port) ethdevs_.push_back(port);
  } else {
    ethdevs_ = options.ethdevs;
    for (uint16_t dev : ethdevs_) {
      if (!rte_eth_dev_is_valid_port(dev)) {
        return absl::InvalidArgumentError(absl::StrCat("there is no DPDK port ", dev));
      }
    }
  }
  count_ = static_cast<uint16_t>(ethdevs_.size());
  rx_queues_.assign(options.pipes, {});

  // Enough mbufs to fill every ring, plus what pipes and per-lcore caches hold.
  constexpr unsigned kCache = 256;
  const unsigned per_port =
      options.pipes * (options.rx_descriptors + options.tx_descriptors + pipe::kBurstSize);
  const unsigned mbufs = std::max(8191u, count_ * per_port + rte_lcore_count() * kCache);
  pool_ = rte_pktmbuf_pool_create(absl::StrCat(options.name, "_mbufs").c_str(), mbufs, kCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  rte_socket_id());
  if (pool_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot allocate ", mbufs, " packet buffers: ", rte_strerror(rte_errno),
        "; give DPDK more memory (EAL -m, or more hugepages)"));
  }

  uint16_t next_pipe = 0;
  for (uint16_t port = 0; port < count_; ++port) {
    const uint16_t dev = ethdevs_[port];
    rte_eth_dev_info info{};
    char name[RTE_ETH_NAME_MAX_LEN] = "?";
    rte_eth_dev_get_name_by_port(dev, name);
    names_.emplace_back(name);
    if (int rc = rte_eth_dev_info_get(dev, &info); rc != 0) {
      return PortError(port, names_.back(), "reading device info", rc);
    }
    const bool soft_rss = options.sw_rss && options.pipes > 1;
    const uint16_t rx_queues =
        soft_rss ? 1 : std::min<uint16_t>(options.pipes, info.max_rx_queues);
    if (info.max_rx_queues == 0) {
      return absl::FailedPreconditionError(absl::StrCat("port ", port, " (", name, ") has no RX queue"));
    }
    // Only the owner pipe sends on a port: pipe p uses TX queue p when the
    // device has that many (each pipe's own, as before), else p mod count
    // (still no sharing, one pipe per port).
    const uint16_t tx_queues = std::min<uint16_t>(options.pipes, info.max_tx_queues);
    if (tx_queues == 0) {
      return absl::FailedPreconditionError(absl::StrCat("port ", port, " (", name, ") has no TX queue"));
    }
    const uint16_t owner = pipe::PipeOfPort(port, options.pipes);
    tx_queues_.push_back(owner % tx_queues);

    rte_eth_conf conf{};
    if (rx_queues > 1) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(kSymmetricRssKey.data());
      conf.rx_adv_conf.rss_conf.rss_key_len = kSymmetricRssKey.size();
      conf.rx_adv_conf.rss_conf.rss_hf =
          (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    if (int rc = rte_eth_dev_configure(dev, rx_queues, tx_queues, &conf); rc != 0) {
      return PortError(port, name, "configure", rc);
    }
    uint16_t rx_desc = options.rx_descriptors, tx_desc = options.tx_descriptors;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(dev, &rx_desc, &tx_desc); rc != 0) {
      return PortError(port, name, "sizing descriptor rings", rc);
    }
    const int socket = rte_eth_dev_socket_id(dev);
    for (uint16_t q = 0; q < rx_queues; ++q) {
      if (int rc = rte_eth_rx_queue_setup(dev, q, rx_desc, socket, nullptr, pool_); rc != 0) {
        return PortError(port, name, absl::StrCat("RX queue ", q, " setup"), rc);
      }
    }
    if (soft_rss) {
      // The owner reads the port's one queue and spreads; every other pipe
      // receives the port's packets from its ring.
      auto rss = SoftRss::Create(options.name, port, options.pipes, owner);
      if (!rss.ok()) return rss.status();
      for (uint16_t p = 0; p < options.pipes; ++p) {
        RxQueueRef ref{port, 0, dev};
        if (p == owner) {
          ref.spread = rss->get();
        } else {
          ref.ring = (*rss)->ring(p);
        }
        rx_queues_[p].push_back(ref);
      }
      soft_rss_.push_back(*std::move(rss));
    } else {
      for (uint16_t q = 0; q < rx_queues; ++q) {
        rx_queues_[next_pipe].push_back({port, q, dev});
        next_pipe = (next_pipe + 1) % options.pipes;
      }
    }
    for (uint16_t q = 0; q < tx_queues; ++q) {
      if (int rc = rte_eth_tx_queue_setup(dev, q, tx_desc, socket, nullptr); rc != 0) {
        return PortError(port, name, absl::StrCat("TX queue ", q, " setup"), rc);
      }
    }
    if (options.promiscuous) {
      const int rc = rte_eth_promiscuous_enable(dev);
      if (rc != 0 && rc != -ENOTSUP) return PortError(port, name, "promiscuous mode", rc);
    }
    if (int rc = rte_eth_dev_start(dev); rc != 0) return PortError(port, name, "start", rc);
    started_ = port + 1;
    packet_sockets_.emplace_back();
    if (info.driver_name != nullptr && std::strcmp(info.driver_name, "net_af_packet") == 0 &&
        info.if_index != 0) {
      packet_sockets_.back() = std::make_unique<PacketSockets>();
      packet_sockets_.back()->fds = PacketSocketsOf(info.if_index);
    }
  }
  return absl::OkStatus();
}

Ports::~Ports() {
  packet_sockets_.clear();  // stopping closes them
  // Close every configured port, not only started ones, so a failed start
  // still flushes and closes what it opened (net_pcap writes files on close).
  for (uint16_t port = 0; port < count_; ++port) {
    if (port < started_) rte_eth_dev_stop(ethdevs_[port]);
    rte_eth_dev_close(ethdevs_[port]);
  }
  soft_rss_.clear();  // frees the packets in its rings
  rte_mempool_free(pool_);
}

}  // namespace softfino::dataplane
