#include "softfino/dataplane/links.h"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <atomic>

#include "absl/strings/str_cat.h"

namespace softfino::dataplane {
namespace {

// Ring names are short in DPDK (RTE_RING_NAMESIZE): number them.
std::atomic<unsigned> next_ring_id{0};

}  // namespace

absl::StatusOr<std::unique_ptr<InternalLink>> InternalLink::Create(const std::string& name,
                                                                   uint16_t a_pipes,
                                                                   uint16_t b_pipes,
                                                                   unsigned ring_size) {
  auto link = std::unique_ptr<InternalLink>(new InternalLink());
  link->name_ = name;
  // The rings each end receives from: to_a[j] is a's RX queue j.
  std::vector<rte_ring*> to_a, to_b;
  const auto make = [&](uint16_t count, std::vector<rte_ring*>& out) -> absl::Status {
    for (uint16_t q = 0; q < count; ++q) {
      const std::string ring_name = absl::StrCat("sf_link", next_ring_id.fetch_add(1));
      rte_ring* ring = rte_ring_create(ring_name.c_str(), ring_size, rte_socket_id(), RING_F_SC_DEQ);
      if (ring == nullptr) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "internal link ", name, ": cannot create a ring of ", ring_size,
            " packets: ", rte_strerror(rte_errno), "; give DPDK more memory (EAL -m)"));
      }
      link->rings_.push_back(ring);
      out.push_back(ring);
    }
    return absl::OkStatus();
  };
  if (absl::Status s = make(a_pipes, to_a); !s.ok()) return s;
  if (absl::Status s = make(b_pipes, to_b); !s.ok()) return s;
  // Each end's TX queue i (pipe i) goes into the far end's ring i % pipes.
  std::vector<rte_ring*> a_tx, b_tx;
  for (uint16_t i = 0; i < a_pipes; ++i) a_tx.push_back(to_b[i % b_pipes]);
  for (uint16_t i = 0; i < b_pipes; ++i) b_tx.push_back(to_a[i % a_pipes]);
  const auto end = [&](const char* side, std::vector<rte_ring*>& rx, std::vector<rte_ring*>& tx,
                       uint16_t& port) -> absl::Status {
    // DPDK names the port "net_ring_<dev>".
    const std::string dev = absl::StrCat(name, "_", side);
    const int id = rte_eth_from_rings(dev.c_str(), rx.data(), static_cast<unsigned>(rx.size()),
                                      tx.data(), static_cast<unsigned>(tx.size()), rte_socket_id());
    if (id < 0) {
      return absl::InternalError(absl::StrCat("internal link ", name, ": cannot create port ", dev,
                                              ": ", rte_strerror(rte_errno)));
    }
    port = static_cast<uint16_t>(id);
    return absl::OkStatus();
  };
  if (absl::Status s = end("a", to_a, a_tx, link->a_port_); !s.ok()) return s;
  if (absl::Status s = end("b", to_b, b_tx, link->b_port_); !s.ok()) return s;
  return link;
}

InternalLink::~InternalLink() {
  for (rte_ring* ring : rings_) {
    void* pkt;
    while (rte_ring_dequeue(ring, &pkt) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(pkt));
    rte_ring_free(ring);
  }
}

}  // namespace softfino::dataplane
