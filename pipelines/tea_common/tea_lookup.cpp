#include "pipelines/tea_common/tea_lookup.h"

#include <algorithm>
#include <cstring>

#include <rte_byteorder.h>

#include "absl/strings/str_cat.h"
#include "softfino/pipe/drop_reason.h"
#include "softfino/rdma/qp_params.h"

namespace softfino::pipelines {

using pipe::DropReason;

absl::StatusOr<TeaLookupOptions> ParseTeaLookupOptions(const nlohmann::json& tea) {
  TeaLookupOptions o;
  if (tea.is_null()) return o;
  if (!tea.is_object()) return absl::InvalidArgumentError("tea: expected an object");
  const auto number = [&](const std::string& key, const nlohmann::json& v, uint64_t lo,
                          uint64_t hi) -> absl::StatusOr<uint64_t> {
    if (!v.is_number_unsigned() || v.get<uint64_t>() < lo || v.get<uint64_t>() > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("tea.", key, " must be an integer ", lo, "..", hi, ", not ", v.dump()));
    }
    return v.get<uint64_t>();
  };
  for (const auto& [key, v] : tea.items()) {
    absl::StatusOr<uint64_t> n = uint64_t{0};
    if (key == "deferral") {
      if (v == "local") {
        o.deferral = TeaDeferral::kLocal;
      } else if (v == "remote") {
        o.deferral = TeaDeferral::kRemote;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("tea.deferral must be \"local\" or \"remote\", not ", v.dump()));
      }
      continue;
    }
    if (key == "cache_policy") {
      if (!v.is_string()) return absl::InvalidArgumentError("tea.cache_policy must be a string");
      absl::StatusOr<tea::CachePolicy> p = tea::CachePolicyFromName(v.get<std::string>());
      if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("tea.", p.status().message()));
      o.cache_policy = *p;
      continue;
    }
    if (key == "cache_entries") {
      n = number(key, v, 0, tea::FlowCache::kMaxEntries);
      if (n.ok()) o.cache_entries = static_cast<uint32_t>(*n);
    } else if (key == "cache_ways") {
      n = number(key, v, 1, tea::FlowCache::kMaxWays);
      if (n.ok()) o.cache_ways = static_cast<uint32_t>(*n);
    } else if (key == "in_flight") {
      n = number(key, v, 1, tea::PendingLookups::kMaxSlots);
      if (n.ok()) o.in_flight = static_cast<uint32_t>(*n);
    } else if (key == "packet_bytes") {
      n = number(key, v, 64, tea::PendingLookups::kMaxPacketBytes);
      if (n.ok()) o.packet_bytes = static_cast<uint32_t>(*n);
    } else if (key == "timeout_us") {
      n = number(key, v, 1, 10'000'000);
      if (n.ok()) o.timeout_ns = *n * 1000;
    } else if (key == "probe_timeout_us") {
      n = number(key, v, 1, 10'000'000);
      if (n.ok()) o.probe_timeout_ns = *n * 1000;
    } else if (key == "mirror_session") {
      n = number(key, v, 1, 1015);  // Tofino's mirror session ids
      if (n.ok()) o.mirror_session = static_cast<uint16_t>(*n);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("tea: unknown field \"", key,
                       "\"; it has deferral, cache_entries, cache_ways, cache_policy, in_flight, "
                       "packet_bytes, timeout_us, probe_timeout_us, mirror_session"));
    }
    if (!n.ok()) return n.status();
  }
  return o;
}

absl::StatusOr<std::unique_ptr<TeaLookup>> TeaLookup::Create(const rdma::ConnectedQueuePair& conn,
                                                             const tea::Layout& layout,
                                                             const TeaLookupOptions& options,
                                                             pipe::MirrorSessionId mirror_session) {
  const std::string& region = conn.remote.region;
  if (options.deferral == TeaDeferral::kRemote && !layout.has_shadow()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TEA table ", region, ": tea.deferral \"remote\" parks packets in the table's shadow "
        "rows, and its spec has none: add packet=P (the largest packet, e.g. packet=256) and "
        "lanes=L to the table spec, the same in the collector's --tea-table"));
  }
  if (conn.remote.length != layout.bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TEA table ", region, ": the collector's region has ", conn.remote.length,
        " bytes but the table spec gives ", layout.bytes(),
        "; give the switch the same buckets and slots as the collector's --tea-table"));
  }
  if (layout.window_bytes() > conn.remote.mtu) {
    return absl::InvalidArgumentError(
        absl::StrCat("TEA table ", region, ": a probe window is ", layout.window_bytes(),
                     " bytes, more than the path MTU ", conn.remote.mtu,
                     ": use fewer slots or a larger --mtu, so one READ response holds it"));
  }
  auto builder = rdma::RoceBuilder::Create(conn.RequestEndpoint(), conn.remote.qpn);
  if (!builder.ok()) return builder.status();
  auto hash = tea::KeyHash::Create();
  if (!hash.ok()) return hash.status();
  auto cache =
      tea::FlowCache::Create(options.cache_entries, options.cache_ways, options.cache_policy);
  if (!cache.ok())
    return absl::InvalidArgumentError(absl::StrCat("tea: ", cache.status().message()));
  auto pending = tea::PendingLookups::Create(
      options.in_flight, options.deferral == TeaDeferral::kLocal ? options.packet_bytes : 0);
  if (!pending.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tea: ", pending.status().message()));
  }
  rdma::RcRequesterConfig rc;
  rc.start_psn = conn.remote.psn;  // the PSN the collector expects first
  rc.mtu = conn.remote.mtu;
  rc.retransmit = false;
  rc.timeout_ns = options.probe_timeout_ns;
  std::unique_ptr<TeaLookup> t(new TeaLookup(conn, *builder, rc, layout, *std::move(hash),
                                             *std::move(cache), *std::move(pending), options));
  t->remote_ip_ = rdma::Ipv4OfGid(conn.remote.gid);
  t->mirror_session_ = mirror_session;
  if (options.deferral == TeaDeferral::kRemote) {
    // Enough bits that lookups in flight rarely share one (a shared bit
    // only makes a packet take another lane).
    t->row_bits_per_lane_ = std::max<uint64_t>(64, uint64_t{4} * options.in_flight);
    t->row_bits_per_lane_ = std::min(t->row_bits_per_lane_, layout.bucket_count());
    t->row_bits_per_lane_ = std::max<uint64_t>(1, t->row_bits_per_lane_);
    t->rows_busy_.assign((layout.shadow_lanes() * t->row_bits_per_lane_ + 63) / 64, 0);
    t->scratch_.resize(layout.shadow_packet_bytes());
  }
  return t;
}

TeaLookup::Step TeaLookup::DeferRemote(rte_mbuf* m, pipe::IngressMetadata& md,
                                       const tea::Key& key, uint32_t hash, uint32_t tag) {
  const uint32_t len = m->data_len;
  const uint64_t window = layout_.window_bytes();
  if (m->nb_segs != 1 || len > layout_.shadow_packet_bytes() || window + len > conn_.remote.mtu) {
    Count(TeaLookupEvent::kTooLarge);
    md.Drop(DropReason::kTeaPacketTooLarge);
    return Step::kDropped;
  }
  const uint64_t h = hash & layout_.mask();
  uint32_t lane = 0;
  while (lane < layout_.shadow_lanes() && RowBusy(RowBit(lane, h))) ++lane;
  if (lane == layout_.shadow_lanes()) {
    Count(TeaLookupEvent::kShadowBusy);
    md.Drop(DropReason::kTeaQueueFull);
    return Step::kDropped;
  }
  // The WRITE takes the next PSN, the READ the one after: the lookup waits
  // under the READ's.
  const uint32_t read_psn = (requester_.next_psn() + 1) & net::kPsnMask;
  if (!pending_.CanReserve(read_psn)) {
    Count(TeaLookupEvent::kQueueFull);
    md.Drop(DropReason::kTeaQueueFull);
    return Step::kDropped;
  }
  rdma::PacketFields write;
  write.opcode = net::RcOpcode::kWriteOnly;
  write.vaddr = conn_.remote.iova + layout_.ShadowPacketOffset(lane, h);
  write.rkey = conn_.remote.rkey;
  write.dma_length = len;
  rdma::PacketFields read;
  read.opcode = net::RcOpcode::kReadRequest;
  read.vaddr = conn_.remote.iova + layout_.ShadowRowOffset(lane, h);
  read.rkey = conn_.remote.rkey;
  read.dma_length = static_cast<uint32_t>(window + len);
  const uint64_t now = md.ig_intr_md.ingress_mac_tstamp;
  if (!requester_.Post(write, 0, now) || !requester_.Post(read, 0, now)) {
    // Both or neither: the requester refuses only in its error state,
    // which nothing between the two calls changes.
    Count(TeaLookupEvent::kRecovering);
    md.Drop(requester_.in_error() ? DropReason::kRdmaQpError : DropReason::kRdmaRecovering);
    return Step::kDropped;
  }
  std::memcpy(scratch_.data(), rte_pktmbuf_mtod(m, const uint8_t*), len);
  write.payload = std::span<const uint8_t>(scratch_.data(), len);
  if (builder_.Build(m, write) != rdma::BuildStatus::kOk) {
    // The packet does not fit its buffer with the RoCE headers; the two
    // PSNs spent make a gap that the collector's NAK resyncs.
    Count(TeaLookupEvent::kBuildFailures);
    md.Drop(DropReason::kRdmaBadPacket);
    return Step::kDropped;
  }
  tea::PendingLookup* e = pending_.Reserve(read.psn, now);  // free: checked above
  e->key = key;
  e->hash = hash;
  e->tag = tag;
  e->expect_len = read.dma_length;
  e->packet_len = len;
  e->lane = lane;
  SetRow(RowBit(lane, h), true);
  md.ig_intr_md_for_tm.ucast_egress_port = conn_.port;
  md.ig_intr_md_for_dprsr.mirror_type = 1;
  md.ig_intr_md_for_dprsr.mirror_session = mirror_session_;
  Count(TeaLookupEvent::kReads);
  return Step::kDeferred;
}

bool TeaLookup::ToReadRequest(rte_mbuf* m) {
  rdma::RocePacket p;
  if (!remote() || rdma::ParseRoce(m, &p) != rdma::RoceParseError::kOk) return false;
  const net::Reth* reth = p.reth();
  if (p.opcode() != net::RcOpcode::kWriteOnly || reth == nullptr ||
      p.bth().qpn() != conn_.remote.qpn || p.src_ip() == remote_ip_) {
    return false;
  }
  const uint32_t len = rte_be_to_cpu_32(reth->dma_length);
  if (len == 0) return false;  // a probe
  rdma::PacketFields read;
  read.opcode = net::RcOpcode::kReadRequest;
  read.psn = (p.bth().psn_value() + 1) & net::kPsnMask;
  read.vaddr = rte_be_to_cpu_64(reth->vaddr) - layout_.window_bytes();
  read.rkey = rte_be_to_cpu_32(reth->rkey);
  read.dma_length = static_cast<uint32_t>(layout_.window_bytes() + len);
  if (builder_.Build(m, read) != rdma::BuildStatus::kOk) {
    Count(TeaLookupEvent::kBuildFailures);  // cannot happen: a READ request is smaller
    return false;
  }
  return true;
}

void TeaLookup::Finish(const tea::PendingLookup& e) {
  if (remote()) SetRow(RowBit(e.lane, e.hash & layout_.mask()), false);
}

TeaLookup::Step TeaLookup::Miss(rte_mbuf* m, pipe::IngressMetadata& md, const tea::Key& key,
                                uint32_t hash, uint32_t tag) {
  Count(TeaLookupEvent::kCacheMisses);
  if (remote()) return DeferRemote(m, md, key, hash, tag);
  if (m->nb_segs != 1 || m->data_len > pending_.packet_bytes()) {
    Count(TeaLookupEvent::kTooLarge);
    md.Drop(DropReason::kTeaPacketTooLarge);
    return Step::kDropped;
  }
  // The entry is checked before the PSN is spent: a PSN taken and not sent
  // would leave a gap the collector NAKs.
  if (!pending_.CanReserve(requester_.next_psn())) {
    Count(TeaLookupEvent::kQueueFull);
    md.Drop(DropReason::kTeaQueueFull);
    return Step::kDropped;
  }
  rdma::PacketFields f;
  f.opcode = net::RcOpcode::kReadRequest;
  f.vaddr = conn_.remote.iova + layout_.WindowOffset(hash & layout_.mask());
  f.rkey = conn_.remote.rkey;
  f.dma_length = static_cast<uint32_t>(layout_.window_bytes());
  const uint64_t now = md.ig_intr_md.ingress_mac_tstamp;
  if (!requester_.Post(f, 0, now)) {
    Count(TeaLookupEvent::kRecovering);
    md.Drop(requester_.in_error() ? DropReason::kRdmaQpError : DropReason::kRdmaRecovering);
    return Step::kDropped;
  }
  tea::PendingLookup* e = pending_.Reserve(f.psn, now);  // free: checked above
  e->key = key;
  e->hash = hash;
  e->tag = tag;
  e->expect_len = f.dma_length;
  e->packet_len = m->data_len;
  std::memcpy(e->packet, rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
  if (builder_.Build(m, f) != rdma::BuildStatus::kOk) {
    // Cannot happen with a valid mbuf (a READ request is 74 bytes); the
    // spent PSN makes a gap that the collector's NAK resyncs.
    Count(TeaLookupEvent::kBuildFailures);
    pending_.Release(e);
    md.Drop(DropReason::kRdmaBadPacket);
    return Step::kDropped;
  }
  md.ig_intr_md_for_tm.ucast_egress_port = conn_.port;
  Count(TeaLookupEvent::kReads);
  return Step::kDeferred;
}

void TeaLookup::AbandonIfResynced() {
  const uint64_t resyncs = requester_.count(rdma::RequesterEvent::kResyncs);
  if (resyncs == resyncs_seen_) return;
  resyncs_seen_ = resyncs;
  counts_[static_cast<size_t>(TeaLookupEvent::kAbandoned)] +=
      pending_.AbandonFrom(requester_.next_psn(), [this](const tea::PendingLookup& e) { Finish(e); });
}

TeaLookup::Resumed TeaLookup::OnAnswer(rte_mbuf* m, const rdma::RocePacket& p,
                                       pipe::IngressMetadata& md) {
  Resumed r;
  if (p.src_ip() != remote_ip_) {
    Count(TeaLookupEvent::kWrongSource);
    md.Drop(DropReason::kTeaUnknownQp);
    return r;
  }
  const uint64_t now = md.ig_intr_md.ingress_mac_tstamp;
  const auto ignore = [](const rdma::Completion&) {};
  switch (p.opcode()) {
    case net::RcOpcode::kAcknowledge:
      if (p.aeth() == nullptr) break;
      Count(net::AethKindOf(p.aeth()->syndrome) == net::AethKind::kNak ? TeaLookupEvent::kNaks
                                                                       : TeaLookupEvent::kAcks);
      requester_.OnAnswer(p, now, ignore);
      AbandonIfResynced();
      Alive(now);
      md.Drop(DropReason::kRdmaAnswerConsumed);
      return r;
    case net::RcOpcode::kReadResponseOnly: {
      tea::PendingLookup* e = pending_.Find(p.bth().psn_value());
      if (e == nullptr) {
        Count(TeaLookupEvent::kUnexpectedPsn);
        md.Drop(DropReason::kTeaUnexpectedPsn);
        return r;
      }
      // A wrong length leaves the entry waiting: only the right answer, or
      // the timeout, ends it.
      if (p.payload_len != e->expect_len) {
        Count(TeaLookupEvent::kBadLength);
        md.Drop(DropReason::kTeaBadLength);
        return r;
      }
      const uint32_t room = rte_pktmbuf_data_room_size(m->pool) - m->data_off;
      if (m->nb_segs != 1 || e->packet_len > room) {
        Count(TeaLookupEvent::kTooLarge);
        Finish(*e);
        pending_.Release(e);
        md.Drop(DropReason::kTeaPacketTooLarge);
        return r;
      }
      requester_.OnAnswer(p, now, ignore);  // executed through this PSN
      Alive(now);
      ++latency_[LatencyBucket(now - e->sent_ns)];
      const std::optional<uint64_t> v =
          tea::FindInWindow(p.payload().first(layout_.window_bytes()), e->key);
      // The answer's mbuf becomes the deferred packet (the window was read
      // above: this overwrites it): from the switch's entry (local), or
      // from the answer itself, after the buckets (remote).
      if (remote()) {
        std::memmove(rte_pktmbuf_mtod(m, uint8_t*), p.payload().data() + layout_.window_bytes(),
                     e->packet_len);
      } else {
        std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), e->packet, e->packet_len);
      }
      m->data_len = static_cast<uint16_t>(e->packet_len);
      m->pkt_len = e->packet_len;
      m->ol_flags = 0;
      m->packet_type = 0;
      m->tx_offload = 0;
      r.tag = e->tag;
      if (v.has_value()) {
        cache_.Insert(e->key, e->hash, *v);
        Count(TeaLookupEvent::kFound);
        r.kind = Resumed::Kind::kFound;
        r.value = *v;
      } else {
        Count(TeaLookupEvent::kNotFound);
        r.kind = Resumed::Kind::kNotFound;
      }
      Finish(*e);
      pending_.Release(e);
      return r;
    }
    default:
      break;
  }
  Count(TeaLookupEvent::kBadOpcode);
  md.Drop(DropReason::kTeaBadResponse);
  return r;
}

void TeaLookup::Expire(uint64_t now_ns) {
  if (pending_.busy() == 0) return;
  if (now_ns >= last_expire_ns_ && now_ns - last_expire_ns_ < options_.timeout_ns / 8) return;
  last_expire_ns_ = now_ns;
  const uint64_t expired =
      pending_.Expire(now_ns, options_.timeout_ns, [this](const tea::PendingLookup& e) { Finish(e); });
  counts_[static_cast<size_t>(TeaLookupEvent::kTimeouts)] += expired;
  if (expired != 0 && up() && now_ns - last_answer_ns_ > options_.timeout_ns) {
    down_.store(true, std::memory_order_relaxed);
    failovers_.fetch_add(1, std::memory_order_relaxed);
    last_health_probe_ns_ = now_ns;
  }
}

void TeaLookup::Alive(uint64_t now_ns) {
  last_answer_ns_ = now_ns;
  if (!up()) {
    down_.store(false, std::memory_order_relaxed);
    failbacks_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool TeaLookup::Probe(rte_mbuf* m, pipe::IngressMetadata& md) {
  const uint64_t now = md.ig_intr_md.ingress_mac_tstamp;
  const rdma::PacketFields* due = requester_.NextProbe(now);
  rdma::PacketFields health;
  if (due == nullptr) {
    // A server taken as down is asked now and then whether it is back: a
    // zero-length WRITE that asks for an ACK.
    if (up() || now - last_health_probe_ns_ < options_.probe_timeout_ns) return false;
    health.opcode = net::RcOpcode::kWriteOnly;
    health.ack_req = true;
    if (!requester_.Post(health, 0, now)) return false;
    last_health_probe_ns_ = now;
    due = &health;
  }
  rdma::PacketFields f = *due;
  f.vaddr = conn_.remote.iova;  // a zero-length WRITE touches nothing
  f.rkey = conn_.remote.rkey;
  if (builder_.Build(m, f) != rdma::BuildStatus::kOk) {
    Count(TeaLookupEvent::kBuildFailures);
    return false;
  }
  md.ig_intr_md_for_tm.ucast_egress_port = conn_.port;
  Count(TeaLookupEvent::kProbes);
  return true;
}

nlohmann::json TeaLookup::Counters() const {
  nlohmann::json j = {{"region", conn_.remote.region},
                      {"qpn", conn_.local.qpn},
                      {"in_flight", pending_.busy()},
                      {"cache_size", cache_.size()},
                      {"cache_evictions", cache_.counters().evictions},
                      {"next_psn", requester_.next_psn()},
                      {"up", up()},
                      {"failovers", failovers()},
                      {"failbacks", failbacks()}};
  for (size_t i = 0; i < kTeaLookupEventNames.size(); ++i) j[kTeaLookupEventNames[i]] = counts_[i];
  // The latency histogram, sparse: [bucket start ns, lookups].
  nlohmann::json latency = nlohmann::json::array();
  for (size_t b = 0; b < kLatencyBuckets; ++b) {
    if (latency_[b] != 0) latency.push_back({LatencyBucketStart(b), latency_[b]});
  }
  j["latency_ns"] = std::move(latency);
  for (const rdma::RequesterEvent e :
       {rdma::RequesterEvent::kResyncs, rdma::RequesterEvent::kLost,
        rdma::RequesterEvent::kRecoveries, rdma::RequesterEvent::kHeldForRecovery}) {
    j[absl::StrCat("qp_", rdma::kRequesterEventNames[static_cast<size_t>(e)])] =
        requester_.count(e);
  }
  return j;
}

}  // namespace softfino::pipelines
