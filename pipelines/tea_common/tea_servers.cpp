#include "pipelines/tea_common/tea_servers.h"

namespace softfino::pipelines {

nlohmann::json TeaServers::Counters() const {
  if (servers_.size() == 1) return servers_[0]->Counters();
  nlohmann::json per = nlohmann::json::array();
  uint64_t failovers = 0;
  for (const auto& s : servers_) {
    per.push_back(s->Counters());
    failovers += s->failovers();
  }
  return {{"servers", std::move(per)}, {"served_by_replica", by_replica_}, {"failovers", failovers}};
}

void TeaServers::DrainHealthEvents(absl::string_view table,
                                   const std::function<void(nlohmann::json)>& emit) {
  changes_seen_.resize(servers_.size(), 0);
  const uint32_t n = static_cast<uint32_t>(servers_.size());
  for (uint32_t k = 0; k < n; ++k) {
    const TeaLookup& s = *servers_[k];
    const uint64_t failovers = s.failovers(), failbacks = s.failbacks();
    if (failovers + failbacks == changes_seen_[k]) continue;
    changes_seen_[k] = failovers + failbacks;
    nlohmann::json e = {{"event", "tea_failover"}, {"table", std::string(table)},
                        {"server", k},         {"up", s.up()},
                        {"failovers", failovers}, {"failbacks", failbacks}};
    if (n > 1) e["replica"] = tea::ReplicaServer(k, n);
    emit(std::move(e));
  }
}

}  // namespace softfino::pipelines
