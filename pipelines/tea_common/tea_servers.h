// One TEA table over several memory servers, as one pipe sees it: every
// server hosts the whole table's geometry and a share of its keys. A key
// lives on its primary server and on a replica (tea/key.h: PrimaryServer,
// ReplicaServer); the control plane inserts it in both. Each server is one
// queue pair (a TeaLookup, with its own cache and lookups in flight).
//
// Failover: a lookup goes to the key's primary while that server is up,
// else to the replica (TeaLookup::up(): down once a lookup timed out and
// nothing came from the server for timeout_us, so a dead server is out
// within about timeout_us + timeout_us/8 of its first unanswered READ;
// up again at its next answer, e.g. to a health probe). Lookups already in
// flight to a server that died time out, their packets dropped and counted.
// With one server this is that server, with no replica.
//
// Fast path: no allocation, one owner (a pipe).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "pipelines/tea_common/tea_lookup.h"

namespace softfino::pipelines {

class TeaServers {
 public:
  // Up to kMaxServers servers, index = server number.
  static constexpr uint32_t kMaxServers = 8;
  explicit TeaServers(std::vector<std::unique_ptr<TeaLookup>> servers)
      : servers_(std::move(servers)) {}

  // The server that serves `hash`'s key now.
  TeaLookup& Serving(uint32_t hash) const {
    bool replica;
    return Pick(hash, &replica);
  }
  // Serving, counting the lookups a replica serves.
  TeaLookup& For(uint32_t hash) {
    bool replica;
    TeaLookup& server = Pick(hash, &replica);
    by_replica_ += replica;
    return server;
  }
  TeaLookup::Step Lookup(rte_mbuf* m, pipe::IngressMetadata& md, const tea::Key& key,
                         uint32_t tag, uint64_t* value) {
    return Lookup(m, md, key, Hash(key), tag, value);
  }
  // The same in two steps over a burst: each packet's key hashed (Hash, or
  // tea::KeyHash::Many for a burst's keys: every table hashes by
  // tea::KeyHash) and its cache set prefetched first, then Lookup with the
  // hash (the cache sets loaded meanwhile).
  uint32_t Hash(const tea::Key& key) const { return servers_[0]->Hash(key); }
  void Prefetch(uint32_t hash) const { Serving(hash).PrefetchCache(hash); }
  TeaLookup::Step Lookup(rte_mbuf* m, pipe::IngressMetadata& md, const tea::Key& key,
                         uint32_t hash, uint32_t tag, uint64_t* value) {
    return For(hash).Lookup(m, md, key, hash, tag, value);
  }
  std::optional<uint64_t> Cached(const tea::Key& key) {
    return For(servers_[0]->Hash(key)).Cached(key);
  }
  void Remember(const tea::Key& key, uint64_t value) {
    For(servers_[0]->Hash(key)).Remember(key, value);
  }

  // The server whose queue pair has local QPN `qpn` on `port`, or null.
  TeaLookup* ByQueuePair(uint32_t qpn, pipe::PortId port) {
    for (const auto& s : servers_) {
      if (s->local_qpn() == qpn && s->port() == port) return s.get();
    }
    return nullptr;
  }
  // A timer packet: a probe of the first server that needs one.
  bool Probe(rte_mbuf* m, pipe::IngressMetadata& md) {
    for (const auto& s : servers_) {
      if (s->Probe(m, md)) return true;
    }
    return false;
  }
  void Expire(uint64_t now_ns) {
    for (const auto& s : servers_) s->Expire(now_ns);
  }

  size_t size() const { return servers_.size(); }
  TeaLookup& server(size_t i) const { return *servers_[i]; }
  // Counters of a single server as they were; with several, per server
  // under "servers" plus lookups the replicas served.
  nlohmann::json Counters() const;

  // Slow path: an event for each server taken out or back since the last
  // call, e.g. {"event": "tea_failover", "table": "out", "server": 1,
  // "up": false, "failovers": 1, "failbacks": 0, "replica": 0}.
  void DrainHealthEvents(absl::string_view table, const std::function<void(nlohmann::json)>& emit);

 private:
  TeaLookup& Pick(uint32_t hash, bool* replica) const {
    *replica = false;
    const uint32_t n = static_cast<uint32_t>(servers_.size());
    if (n == 1) return *servers_[0];
    const uint32_t primary = tea::PrimaryServer(hash, n);
    if (servers_[primary]->up()) return *servers_[primary];
    TeaLookup& other = *servers_[tea::ReplicaServer(primary, n)];
    if (!other.up()) return *servers_[primary];  // both down: the primary's timeouts count
    *replica = true;
    return other;
  }
  std::vector<std::unique_ptr<TeaLookup>> servers_;
  uint64_t by_replica_ = 0;
  std::vector<uint64_t> changes_seen_;  // slow path: failovers + failbacks per server
};

}  // namespace softfino::pipelines
