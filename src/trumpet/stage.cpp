#include "softfino/trumpet/stage.h"

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "softfino/trumpet/trigger_parser.h"

namespace softfino::trumpet {
namespace {

using nlohmann::json;

// An unsigned option of the section, within [min, max].
absl::Status ReadUint(const json& section, const char* key, uint64_t min, uint64_t max,
                      uint64_t& out) {
  if (!section.contains(key)) return absl::OkStatus();
  const json& v = section[key];
  if (!v.is_number_unsigned() || v.get<uint64_t>() < min || v.get<uint64_t>() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("trumpet.", key, ": expected a whole number from ", min, " to ", max));
  }
  out = v.get<uint64_t>();
  return absl::OkStatus();
}

constexpr const char* kKeys[] = {"triggers",        "trigger_file",    "epoch_us",
                                 "flows",           "burst_gap_us",    "idle_timeout_ms",
                                 "sweep_budget_us", "admit_after",     "event_ring"};

}  // namespace

absl::Status Stage::Configure(const json& section, uint16_t pipe_count) {
  if (section.is_null()) return absl::OkStatus();
  if (!section.is_object()) return absl::InvalidArgumentError("trumpet: expected an object");
  for (const auto& [key, value] : section.items()) {
    // Init-capture: clang before 16 cannot capture a structured binding.
    if (std::find_if(std::begin(kKeys), std::end(kKeys),
                     [&name = key](const char* k) { return name == k; }) == std::end(kKeys)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "trumpet: unknown key '", key,
          "' (known: triggers, trigger_file, epoch_us, flows, burst_gap_us, idle_timeout_ms, "
          "sweep_budget_us, admit_after, event_ring)"));
    }
  }
  uint64_t epoch_us = 1000, flows = 65536, gap_us = 100, idle_ms = 1000, budget_us = 5,
           admit = 1, ring = 65536;
  for (auto s : {ReadUint(section, "epoch_us", 100, 60'000'000, epoch_us),
                 ReadUint(section, "flows", 8, 1u << 26, flows),
                 ReadUint(section, "burst_gap_us", 1, 60'000'000, gap_us),
                 ReadUint(section, "idle_timeout_ms", 1, 3'600'000, idle_ms),
                 ReadUint(section, "sweep_budget_us", 0, 1'000'000, budget_us),
                 ReadUint(section, "admit_after", 1, 255, admit),
                 ReadUint(section, "event_ring", 64, 1u << 24, ring)}) {
    if (!s.ok()) return s;
  }
  config_.epoch_ns = epoch_us * 1000;
  config_.flow_capacity = static_cast<uint32_t>(flows);
  config_.burst_gap_ns = gap_us * 1000;
  config_.idle_timeout_ns = idle_ms * 1'000'000;
  config_.sweep_budget_cycles = budget_us * rte_get_tsc_hz() / 1'000'000;
  config_.admit_after = static_cast<uint32_t>(admit);
  config_.event_ring_size = static_cast<uint32_t>(rte_align32pow2(static_cast<uint32_t>(ring)));
  config_.export_partials = pipe_count > 1;

  std::vector<Trigger> triggers;
  if (section.contains("trigger_file")) {
    if (!section["trigger_file"].is_string()) {
      return absl::InvalidArgumentError("trumpet.trigger_file: expected a file name");
    }
    const std::string path = section["trigger_file"];
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("trumpet.trigger_file: cannot read ", path));
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = ParseTriggerFile(text.str());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", parsed.status().message()));
    }
    triggers = *std::move(parsed);
  }
  if (section.contains("triggers")) {
    const json& list = section["triggers"];
    if (!list.is_array()) return absl::InvalidArgumentError("trumpet.triggers: expected a list of lines");
    for (size_t i = 0; i < list.size(); ++i) {
      auto t = list[i].is_string() ? ParseTrigger(list[i].get<std::string>()) : TriggerFromJson(list[i]);
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trumpet.triggers[", i, "]: ", t.status().message()));
      }
      triggers.push_back(*std::move(t));
    }
  }
  for (size_t i = 0; i < triggers.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (triggers[i].name == triggers[j].name) {
        return absl::InvalidArgumentError(
            absl::StrCat("trumpet: trigger name '", triggers[i].name, "' is used twice"));
      }
    }
    triggers[i].id = next_id_++;
  }
  auto set = TriggerSet::Create(triggers, config_.epoch_ns, ++generation_);
  if (!set.ok()) return set.status();
  set_ = *std::move(set);
  triggers_ = std::move(triggers);
  for (const Trigger& t : triggers_) by_id_[t.id] = t, live_[t.id] = true;
  for (uint16_t p = 0; p < pipe_count; ++p) {
    MonitorConfig c = config_;
    c.pipe = p;
    auto monitor = Monitor::Create(c, set_);
    if (!monitor.ok()) return monitor.status();
    monitors_.push_back(*std::move(monitor));
  }
  combiner_ = std::make_unique<EventCombiner>(pipe_count);
  return absl::OkStatus();
}

void Stage::Observe(const pipe::PacketBurst& burst, const pipe::ParsedHeaders* headers) const {
  if (!enabled()) return;
  // Raw storage, each view made (placement new) only when a packet gets
  // one: an array of PacketView would be zeroed whole first, a 1,280-byte
  // memset per burst (perf: 0.8% of l3fwd+Trumpet's cycles).
  alignas(PacketView) unsigned char storage[sizeof(PacketView) * pipe::kBurstSize];
  PacketView* views = reinterpret_cast<PacketView*>(storage);
  uint16_t n = 0;
  for (uint16_t i = 0; i < burst.count; ++i) {
    if (burst.md[i].dropped() || headers[i].l3_type != pipe::L3Type::kIpv4) continue;
    const rte_mbuf* m = burst.pkts[i];
    const rte_ipv4_hdr* ip = headers[i].ipv4;
    // Zeroed, then each field written once (GCC drops the zero stores it
    // overwrites): what is left zero is a UDP packet's TCP fields, and the
    // ports of a packet that is neither TCP nor UDP, or a later fragment.
    PacketView& v = *new (&views[n++]) PacketView;
    v.flow.src = rte_be_to_cpu_32(ip->src_addr);
    v.flow.dst = rte_be_to_cpu_32(ip->dst_addr);
    v.flow.proto = ip->next_proto_id;
    v.bytes = m->pkt_len;
    v.tstamp_ns = burst.md[i].ig_intr_md.ingress_mac_tstamp;
    const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
    const auto* l4 = reinterpret_cast<const uint8_t*>(ip) + ihl;
    const auto* end = rte_pktmbuf_mtod(m, const uint8_t*) + m->data_len;
    // Ports of the first fragment only; later fragments carry none.
    const bool first_fragment = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) == 0;
    if (!first_fragment || (v.flow.proto != IPPROTO_TCP && v.flow.proto != IPPROTO_UDP)) continue;
    if (l4 + 4 > end) continue;
    uint32_t ports;  // both in one load
    std::memcpy(&ports, l4, sizeof(ports));
    ports = rte_be_to_cpu_32(ports);
    v.flow.sport = static_cast<uint16_t>(ports >> 16);
    v.flow.dport = static_cast<uint16_t>(ports);
    if (v.flow.proto == IPPROTO_TCP && l4 + 20 <= end) {
      const uint32_t data_offset = (l4[12] >> 4) * 4u;
      const uint32_t ip_len = headers[i].l3_length;
      uint32_t seq;
      std::memcpy(&seq, l4 + 4, sizeof(seq));
      v.tcp = true;
      v.tcp_seq = rte_be_to_cpu_32(seq);
      v.tcp_payload = ip_len > ihl + data_offset ? ip_len - ihl - data_offset : 0;
    }
  }
  const uint16_t pipe = burst.count ? burst.md[0].ig_intr_md.pipe : 0;
  monitors_[pipe]->OnPackets(views, n);
}

absl::Status Stage::Publish(std::vector<Trigger> next) {
  auto set = TriggerSet::Create(next, config_.epoch_ns, generation_ + 1);
  if (!set.ok()) return set.status();
  ++generation_;
  set_ = *std::move(set);
  triggers_ = std::move(next);
  for (auto& m : monitors_) m->Offer(set_);
  return absl::OkStatus();
}

absl::StatusOr<json> Stage::AddTrigger(Trigger t) {
  if (!enabled()) {
    return absl::FailedPreconditionError(
        "trumpet is off in this switch: give the program's config a \"trumpet\" section");
  }
  for (const Trigger& u : triggers_) {
    if (u.name == t.name) {
      return absl::AlreadyExistsError(absl::StrCat("trigger '", t.name, "' exists; delete it first"));
    }
  }
  t.id = next_id_++;
  std::vector<Trigger> next = triggers_;
  next.push_back(t);
  if (auto s = Publish(std::move(next)); !s.ok()) return s;
  by_id_[t.id] = t;
  live_[t.id] = true;
  return json{{"added", t.name}, {"id", t.id}, {"generation", generation_}};
}

absl::StatusOr<json> Stage::DeleteTrigger(const std::string& name) {
  auto it = std::find_if(triggers_.begin(), triggers_.end(),
                         [&](const Trigger& t) { return t.name == name; });
  if (it == triggers_.end()) {
    return absl::NotFoundError(absl::StrCat("no trigger named '", name, "' (trigger_list shows them)"));
  }
  const uint32_t id = it->id;
  std::vector<Trigger> next = triggers_;
  next.erase(next.begin() + (it - triggers_.begin()));
  if (auto s = Publish(std::move(next)); !s.ok()) return s;
  live_[id] = false;
  return json{{"deleted", name}, {"generation", generation_}};
}

json Stage::ListTriggers() const {
  json list = json::array();
  for (const Trigger& t : triggers_) list.push_back(TriggerToJson(t));
  json adopted = json::array();
  for (const auto& m : monitors_) adopted.push_back(m->adopted_generation());
  return {{"triggers", std::move(list)}, {"generation", generation_}, {"adopted_by_pipe", adopted}};
}

json Stage::EventJson(const Event& e) const {
  const auto it = by_id_.find(e.trigger_id);
  const Trigger* t = it == by_id_.end() ? nullptr : &it->second;
  json j{{"event", "trumpet"},
         {"trigger", t ? t->name : std::string("?")},
         {"trigger_id", e.trigger_id},
         {"interval_start_ns", e.interval_start_ns},
         {"interval_ns", e.interval_ns},
         {"group", t ? FormatGroup(e.group, t->group_lengths) : std::string("?")},
         // The same, as numbers (host order): src, dst, sport, dport, proto.
         {"group_key", {e.group.src, e.group.dst, e.group.sport, e.group.dport, e.group.proto}}};
  if (t) j["value"] = t->predicate.Value(e.sums);
  for (int m = 0; m < static_cast<int>(Metric::kCount); ++m) {
    j[MetricName(static_cast<Metric>(m))] = e.sums[m];
  }
  if (monitors_.size() == 1) j["pipe"] = e.pipe;
  return j;
}

void Stage::DrainEvents(const std::function<void(json)>& emit) {
  if (!enabled()) return;
  for (auto& m : monitors_) {
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst_elem(m->events(), drain_batch_, sizeof(Event),
                                               std::size(drain_batch_), nullptr)) > 0) {
      for (unsigned i = 0; i < n; ++i) combiner_->Add(drain_batch_[i]);
    }
  }
  combiner_->Flush(
      [&](uint32_t id) -> const Predicate* {
        auto live = live_.find(id);
        if (live == live_.end() || !live->second) return nullptr;
        return &by_id_.at(id).predicate;
      },
      [&](const Event& e) { emit(EventJson(e)); });
}

std::vector<pipe::ProgramCommand> Stage::Commands() {
  if (!enabled()) return {};
  std::vector<pipe::ProgramCommand> out;
  out.push_back({"trigger_add",
                 "Adds a Trumpet trigger: {\"trigger\": \"NAME: filter ... group ... every 10ms "
                 "when ...\"} or the JSON form {\"trigger\": {\"name\": ..., \"filter\": {...}, "
                 "\"group\": [...], \"every\": \"10ms\", \"when\": \"...\"}}. Pipes adopt it at "
                 "their next epoch; it counts from its first interval boundary after that.",
                 [this](const json& args) -> absl::StatusOr<json> {
                   if (!args.is_object() || !args.contains("trigger")) {
                     return absl::InvalidArgumentError(
                         "trigger: missing; e.g. trigger='heavy: filter * group dst every 10ms "
                         "when bytes > 1000000'");
                   }
                   const json& t = args["trigger"];
                   auto parsed = t.is_string() ? ParseTrigger(t.get<std::string>()) : TriggerFromJson(t);
                   if (!parsed.ok()) return parsed.status();
                   return AddTrigger(*std::move(parsed));
                 }});
  out.push_back({"trigger_del", "Deletes a trigger by name: {\"name\": NAME}.",
                 [this](const json& args) -> absl::StatusOr<json> {
                   if (!args.is_object() || !args.contains("name") || !args["name"].is_string()) {
                     return absl::InvalidArgumentError("name: missing; give the trigger's name");
                   }
                   return DeleteTrigger(args["name"].get<std::string>());
                 }});
  out.push_back({"trigger_list", "Lists the triggers, and the set generation each pipe runs.",
                 [this](const json&) -> absl::StatusOr<json> { return ListTriggers(); }});
  return out;
}

json Stage::Counters() const {
  if (!enabled()) return nullptr;
  MonitorCounters sum;
  for (const auto& m : monitors_) {
    const MonitorCounters& c = m->counters();
    sum.packets += c.packets;
    sum.flows_added += c.flows_added;
    sum.flows_expired += c.flows_expired;
    sum.flow_table_full += c.flow_table_full;
    sum.not_admitted += c.not_admitted;
    sum.match_overflow += c.match_overflow;
    sum.sweeps += c.sweeps;
    sum.sweep_slices += c.sweep_slices;
    sum.sweep_overruns += c.sweep_overruns;
    sum.events += c.events;
    sum.events_lost += c.events_lost;
    sum.trigger_set_changes += c.trigger_set_changes;
    sum.longest_slice_cycles = std::max(sum.longest_slice_cycles, c.longest_slice_cycles);
    for (size_t k = 0; k < std::size(c.slice_cycles_log2); ++k) {
      sum.slice_cycles_log2[k] += c.slice_cycles_log2[k];
    }
  }
  // Percentiles of the slices' lengths, as the upper edge of their log2 bucket.
  uint64_t slices = 0;
  for (uint64_t n : sum.slice_cycles_log2) slices += n;
  const auto percentile_ns = [&](double q) {
    uint64_t seen = 0;
    for (size_t k = 0; k < std::size(sum.slice_cycles_log2); ++k) {
      seen += sum.slice_cycles_log2[k];
      if (slices > 0 && static_cast<double>(seen) >= q * static_cast<double>(slices)) {
        return static_cast<double>(uint64_t{2} << k) * 1e9 / static_cast<double>(rte_get_tsc_hz());
      }
    }
    return 0.0;
  };
  const double longest_slice_ns =
      static_cast<double>(sum.longest_slice_cycles) * 1e9 / static_cast<double>(rte_get_tsc_hz());
  return {{"packets", sum.packets},         {"flows_added", sum.flows_added},
          {"flows_expired", sum.flows_expired}, {"flow_table_full", sum.flow_table_full},
          {"not_admitted", sum.not_admitted}, {"match_overflow", sum.match_overflow},
          {"sweeps", sum.sweeps},           {"sweep_slices", sum.sweep_slices},
          {"sweep_overruns", sum.sweep_overruns}, {"events", sum.events},
          {"events_lost", sum.events_lost}, {"trigger_set_changes", sum.trigger_set_changes},
          {"triggers", triggers_.size()}, {"longest_sweep_slice_ns", longest_slice_ns},
          {"sweep_slice_ns_p50_below", percentile_ns(0.5)},
          {"sweep_slices_log2_cycles", std::vector<uint64_t>(std::begin(sum.slice_cycles_log2),
                                                            std::end(sum.slice_cycles_log2))},
          {"sweep_slice_ns_p99_below", percentile_ns(0.99)},
          {"sweep_slice_ns_p999_below", percentile_ns(0.999)}};
}

}  // namespace softfino::trumpet
