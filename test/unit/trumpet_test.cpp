// Trumpet: the trigger language, tuple-space matching and the per-pipe
// monitor, each against a naive reference written from the definitions
// (brute-force filter checks; per-packet sums per trigger, interval and
// group), never against the monitor's own output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <tuple>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "softfino/trumpet/event_combiner.h"
#include "softfino/trumpet/monitor.h"
#include "softfino/trumpet/trigger_parser.h"
#include "softfino/trumpet/trigger_set.h"

namespace softfino::trumpet {
namespace {

using ::testing::HasSubstr;

Trigger Parse(const std::string& line) {
  auto t = ParseTrigger(line);
  EXPECT_TRUE(t.ok()) << line << ": " << t.status();
  return t.ok() ? *t : Trigger{};
}

TEST(TriggerParser, ReadsEveryPart) {
  Trigger t = Parse("lossy: filter src=10.1.0.0/16 dport=80 proto=tcp group src/24 dport "
                    "every 10ms when lost/packets > 10%");
  EXPECT_EQ(t.name, "lossy");
  EXPECT_EQ(t.filter_value.src, 0x0a010000u);
  EXPECT_EQ(t.filter_lengths.src, 16);
  EXPECT_EQ(t.filter_value.dport, 80);
  EXPECT_EQ(t.filter_lengths.dport, 16);
  EXPECT_EQ(t.filter_value.proto, 6);
  EXPECT_EQ(t.group_lengths.src, 24);
  EXPECT_EQ(t.group_lengths.dport, 16);
  EXPECT_EQ(t.group_lengths.dst, 0);
  EXPECT_EQ(t.interval_ns, 10'000'000u);
  EXPECT_TRUE(t.predicate.ratio);
  EXPECT_EQ(t.predicate.metric, Metric::kLost);
  EXPECT_EQ(t.predicate.denominator, Metric::kPackets);
  EXPECT_DOUBLE_EQ(t.predicate.threshold, 0.1);
}

TEST(TriggerParser, FormatParsesBackToTheSameTrigger) {
  for (const char* line :
       {"a: filter * group * every 1ms when packets >= 1000",
        "b: filter dst=10.2.0.0/16 sport=1024/6 group 5tuple every 2s when bytes < 5",
        "c: filter proto=17 group dst/8 proto every 250ms when bursts/packets <= 50%"}) {
    Trigger t = Parse(line);
    Trigger back = Parse(FormatTrigger(t));
    EXPECT_EQ(FormatTrigger(back), FormatTrigger(t)) << line;
    EXPECT_EQ(back.filter_value, t.filter_value);
    EXPECT_EQ(back.filter_lengths, t.filter_lengths);
    EXPECT_EQ(back.group_lengths, t.group_lengths);
    EXPECT_EQ(back.interval_ns, t.interval_ns);
  }
}

TEST(TriggerParser, ErrorsNameTheLineAndTheField) {
  const auto error = [](const std::string& text) {
    auto r = ParseTriggerFile(text);
    EXPECT_FALSE(r.ok()) << text;
    return std::string(r.status().message());
  };
  EXPECT_THAT(error("a: filter srcip=10.0.0.0/8 group * every 1ms when packets > 1"),
              HasSubstr("line 1: unknown filter field 'srcip'"));
  EXPECT_THAT(error("# ok\n\na: filter src=10.1.2.3/16 group * every 1ms when packets > 1"),
              AllOf(HasSubstr("line 3"), HasSubstr("filter field src"), HasSubstr("10.1.0.0/16")));
  EXPECT_THAT(error("a: filter * group port every 1ms when packets > 1"),
              HasSubstr("unknown group field 'port'"));
  EXPECT_THAT(error("a: filter * group * every 500us when packets > 1"), HasSubstr("under 1ms"));
  EXPECT_THAT(error("a: filter * group * every 10 when packets > 1"), HasSubstr("interval '10'"));
  EXPECT_THAT(error("a: filter * group * every 1ms when packets > 10%"), HasSubstr("needs a ratio"));
  EXPECT_THAT(error("a: filter * group * every 1ms when volume > 1"), HasSubstr("unknown metric 'volume'"));
  EXPECT_THAT(error("a: filter * group * every 1ms when packets => 1"), HasSubstr("comparison '=>'"));
  EXPECT_THAT(error("a: filter * every 1ms when packets > 1"), HasSubstr("expected 'group'"));
  EXPECT_THAT(error("filter * group * every 1ms when packets > 1"), HasSubstr("line 1"));
  EXPECT_THAT(error("a: filter dport=70000 group * every 1ms when packets > 1"),
              HasSubstr("filter field dport"));
  EXPECT_THAT(error("a: filter * group * every 1ms when packets > 1\n"
                    "a: filter * group * every 1ms when bytes > 1"),
              HasSubstr("line 2: trigger name 'a' is used twice"));
}

TEST(TriggerParser, JsonFormTakesTheSameChecks) {
  auto t = TriggerFromJson(nlohmann::json::parse(
      R"({"name": "h", "filter": {"dst": "10.2.0.0/16", "dport": 80}, "group": {"src": 24},
          "every": "10ms", "when": "bytes > 100"})"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->filter_lengths.dst, 16);
  EXPECT_EQ(t->filter_value.dport, 80);
  EXPECT_EQ(t->group_lengths.src, 24);
  auto bad = TriggerFromJson(nlohmann::json::parse(
      R"({"name": "h", "filter": {}, "group": [], "every": "10ms", "when": "bytes ~ 1"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("comparison '~'"));
  auto missing = TriggerFromJson(nlohmann::json::parse(R"({"name": "h", "filter": {}})"));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("'group' is missing"));
}

// Random triggers over a few tuples, random flows in a small space so that
// filters hit.
FiveTuple RandomFlow(std::mt19937_64& rng) {
  FiveTuple f;
  f.src = 0x0a010000 | static_cast<uint32_t>(rng() % 8) << 8 | static_cast<uint32_t>(rng() % 4);
  f.dst = 0x0a020000 | static_cast<uint32_t>(rng() % 4);
  f.sport = static_cast<uint16_t>(1000 + rng() % 6);
  f.dport = std::array<uint16_t, 3>{53, 80, 443}[rng() % 3];
  f.proto = rng() % 4 ? 6 : 17;
  return f;
}

std::vector<Trigger> RandomTriggers(std::mt19937_64& rng, size_t count) {
  // Selective enough that no flow matches more triggers than its entry
  // holds (Monitor::kMaxTriggersPerFlow; the tests check match_overflow).
  const FieldLengths tuples[] = {{0, 0, 16, 0, 0}, {24, 0, 0, 0, 0}, {0, 32, 0, 16, 0},
                                 {16, 32, 0, 0, 8}, {32, 32, 16, 16, 8}};
  const FieldLengths groups[] = {{0, 0, 0, 0, 0}, {32, 32, 16, 16, 8}, {24, 0, 0, 0, 0},
                                 {0, 32, 0, 0, 0}, {0, 31, 0, 16, 8}};
  const char* predicates[] = {"packets > 3", "bytes >= 2000", "lost/packets > 10%", "bursts >= 2",
                              "packets < 4", "lost >= 1", "bursts/packets <= 50%"};
  std::vector<Trigger> out;
  for (size_t i = 0; i < count; ++i) {
    Trigger t = Parse(absl::StrCat("t", i, ": filter * group * every ", 1 + rng() % 3, "ms when ",
                                   predicates[rng() % std::size(predicates)]));
    t.filter_lengths = tuples[rng() % std::size(tuples)];
    t.filter_value = Mask(RandomFlow(rng), t.filter_lengths);
    t.group_lengths = groups[rng() % std::size(groups)];
    if (i % 25 == 0) t.filter_lengths = {};  // a few that every flow matches
    t.filter_value = Mask(t.filter_value, t.filter_lengths);
    t.id = static_cast<uint32_t>(100 + i);
    out.push_back(t);
  }
  return out;
}

TEST(TriggerSet, MatchEqualsCheckingEveryFilter) {
  std::mt19937_64 rng(7);
  auto triggers = RandomTriggers(rng, 300);
  auto set = TriggerSet::Create(triggers, 1'000'000, 1);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_LE((*set)->tuple_count(), 6u);  // five random tuples and match-all
  for (int i = 0; i < 2000; ++i) {
    const FiveTuple f = RandomFlow(rng);
    std::vector<TriggerIndex> expected;
    for (size_t k = 0; k < triggers.size(); ++k) {
      if (triggers[k].Matches(f)) expected.push_back(static_cast<TriggerIndex>(k));
    }
    std::vector<TriggerIndex> got(400);
    got.resize((*set)->Match(f, got.data(), got.size()));
    EXPECT_EQ(got, expected);
  }
}

TEST(TriggerSet, RefusesAnIntervalThatIsNotAMultipleOfTheEpoch) {
  Trigger t = Parse("a: filter * group * every 3ms when packets > 1");
  auto set = TriggerSet::Create({t}, 2'000'000, 1);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("multiple of the monitor's epoch"));
}

// ---- the monitor against a per-packet reference ----

// Random traffic over `epochs` ms: per flow TCP sequence numbers with some
// segments resent, trains of back-to-back packets and long gaps.
std::vector<PacketView> RandomTraffic(std::mt19937_64& rng, uint64_t start_ns, uint64_t span_ns,
                                      size_t count) {
  std::vector<PacketView> out;
  std::map<std::tuple<uint32_t, uint32_t, uint16_t, uint16_t, uint8_t>, uint32_t> next_seq;
  std::vector<uint64_t> times;
  for (size_t i = 0; i < count; ++i) times.push_back(start_ns + rng() % span_ns);
  std::sort(times.begin(), times.end());
  for (uint64_t t : times) {
    PacketView p;
    p.flow = RandomFlow(rng);
    p.tstamp_ns = t;
    p.bytes = static_cast<uint32_t>(64 + rng() % 1400);
    if (p.flow.proto == 6) {
      p.tcp = true;
      uint32_t& seq = next_seq[{p.flow.src, p.flow.dst, p.flow.sport, p.flow.dport, p.flow.proto}];
      p.tcp_payload = rng() % 5 == 0 ? 0 : static_cast<uint32_t>(rng() % 1000 + 1);
      if (rng() % 6 == 0 && seq > 2000) {
        p.tcp_seq = seq - 2000;  // a resent segment
        p.tcp_payload = 1000;
      } else {
        p.tcp_seq = seq;
        seq += p.tcp_payload;
      }
    }
    out.push_back(p);
  }
  return out;
}

using EventKey = std::tuple<uint32_t /*trigger*/, uint64_t /*start*/, uint32_t, uint32_t, uint16_t,
                            uint16_t, uint8_t, uint64_t, uint64_t, uint64_t, uint64_t>;

EventKey KeyOf(const Event& e) {
  return {e.trigger_id, e.interval_start_ns, e.group.src,  e.group.dst,  e.group.sport,
          e.group.dport, e.group.proto,      e.sums[0],    e.sums[1],    e.sums[2], e.sums[3]};
}

// The definitions, per packet: a flow's packet is lost when it carries data
// ending at or before the highest end seen; it starts a burst when it is the
// flow's first or comes more than burst_gap after the flow's previous one.
// Only intervals that ended by `end_ns` and (per trigger) start at or after
// `from_ns[id]` count.
std::set<EventKey> Reference(const std::vector<PacketView>& pkts, const std::vector<Trigger>& triggers,
                             uint64_t burst_gap_ns, uint64_t end_ns,
                             const std::map<uint32_t, uint64_t>& from_ns = {},
                             const std::map<uint32_t, uint64_t>& until_ns = {}) {
  struct FlowState {
    bool seen = false, seq_valid = false;
    uint32_t max_end = 0;
    uint64_t last = 0;
  };
  std::map<std::tuple<uint32_t, uint32_t, uint16_t, uint16_t, uint8_t>, FlowState> flows;
  std::map<std::tuple<uint32_t, uint64_t, uint32_t, uint32_t, uint16_t, uint16_t, uint8_t>,
           std::array<uint64_t, 4>>
      sums;
  for (const PacketView& p : pkts) {
    FlowState& f = flows[{p.flow.src, p.flow.dst, p.flow.sport, p.flow.dport, p.flow.proto}];
    const bool burst = !f.seen || p.tstamp_ns - f.last > burst_gap_ns;
    bool lost = false;
    if (p.tcp && p.tcp_payload > 0) {
      const uint32_t end = p.tcp_seq + p.tcp_payload;
      if (f.seq_valid && static_cast<int32_t>(end - f.max_end) <= 0) {
        lost = true;
      } else {
        f.max_end = end;
        f.seq_valid = true;
      }
    }
    f.seen = true;
    f.last = p.tstamp_ns;
    for (const Trigger& t : triggers) {
      if (!t.Matches(p.flow)) continue;
      const FiveTuple g = Mask(p.flow, t.group_lengths);
      const uint64_t start = p.tstamp_ns / t.interval_ns * t.interval_ns;
      auto& s = sums[{t.id, start, g.src, g.dst, g.sport, g.dport, g.proto}];
      s[0] += 1;
      s[1] += p.bytes;
      s[2] += lost;
      s[3] += burst;
    }
  }
  std::set<EventKey> out;
  for (const auto& [key, s] : sums) {
    const auto& [id, start, src, dst, sport, dport, proto] = key;
    const Trigger& t = *std::find_if(triggers.begin(), triggers.end(),
                                     [&, id = id](const Trigger& u) { return u.id == id; });
    if (start + t.interval_ns > end_ns) continue;
    if (auto it = from_ns.find(id); it != from_ns.end() && start < it->second) continue;
    if (auto it = until_ns.find(id); it != until_ns.end() && start + t.interval_ns > it->second) continue;
    uint64_t v[4] = {s[0], s[1], s[2], s[3]};
    if (!t.predicate.Holds(t.predicate.Value(v))) continue;
    out.insert({id, start, src, dst, sport, dport, proto, s[0], s[1], s[2], s[3]});
  }
  return out;
}

std::string Show(const EventKey& k) {
  return absl::StrCat("trigger ", std::get<0>(k), " start ", std::get<1>(k), " group ",
                      std::get<2>(k), "/", std::get<3>(k), "/", std::get<4>(k), "/", std::get<5>(k),
                      "/", std::get<6>(k), " sums ", std::get<7>(k), ",", std::get<8>(k), ",",
                      std::get<9>(k), ",", std::get<10>(k));
}

// Equal sets, or the first differences each way.
void ExpectSameEvents(const std::set<EventKey>& got, const std::set<EventKey>& expected) {
  std::string diff;
  int missing = 0, extra = 0;
  for (const EventKey& k : expected) {
    if (!got.count(k) && missing++ < 8) absl::StrAppend(&diff, "\n  missing: ", Show(k));
  }
  for (const EventKey& k : got) {
    if (!expected.count(k) && extra++ < 8) absl::StrAppend(&diff, "\n  extra:   ", Show(k));
  }
  EXPECT_TRUE(got == expected) << got.size() << " events, expected " << expected.size() << diff;
}

std::set<EventKey> Drain(Monitor& m, EventCombiner& combiner,
                         const std::vector<Trigger>& triggers) {
  Event e;
  while (rte_ring_sc_dequeue_elem(m.events(), &e, sizeof(Event)) == 0) combiner.Add(e);
  std::set<EventKey> out;
  combiner.Flush(
      [&](uint32_t id) -> const Predicate* {
        for (const Trigger& t : triggers) {
          if (t.id == id) return &t.predicate;
        }
        return nullptr;
      },
      [&](const Event& fired) { EXPECT_TRUE(out.insert(KeyOf(fired)).second); });
  return out;
}

// Every event of `pkts` fed to the monitor in bursts of 32, the background
// work run after each, and the monitor finished at the last packet's time.
std::set<EventKey> Replay(Monitor& m, const std::vector<PacketView>& pkts,
                          const std::vector<Trigger>& triggers) {
  EventCombiner combiner(1);
  std::set<EventKey> got;
  for (size_t i = 0; i < pkts.size(); i += 32) {
    const auto n = static_cast<uint16_t>(std::min<size_t>(32, pkts.size() - i));
    m.OnPackets(&pkts[i], n);
    m.Background(pkts[i + n - 1].tstamp_ns);
    for (const EventKey& k : Drain(m, combiner, triggers)) got.insert(k);
  }
  m.Finish(pkts.back().tstamp_ns);
  for (const EventKey& k : Drain(m, combiner, triggers)) got.insert(k);
  return got;
}

MonitorConfig TestConfig() {
  MonitorConfig c;
  c.flow_capacity = 8192;  // the random flows number 4608
  c.epoch_ns = 1'000'000;
  c.burst_gap_ns = 50'000;
  c.sweep_budget_cycles = 0;  // the smallest slices: results must not depend on slicing
  return c;
}

TEST(Monitor, EventsEqualThePerPacketReference) {
  std::mt19937_64 rng(11);
  const auto triggers = RandomTriggers(rng, 45);
  auto set = TriggerSet::Create(triggers, 1'000'000, 1);
  ASSERT_TRUE(set.ok());
  auto monitor = Monitor::Create(TestConfig(), *set);
  ASSERT_TRUE(monitor.ok()) << monitor.status();
  const auto pkts = RandomTraffic(rng, 5'000'000'000, 40'000'000, 20000);
  const std::set<EventKey> got = Replay(**monitor, pkts, triggers);
  const auto expected = Reference(pkts, triggers, 50'000, pkts.back().tstamp_ns);
  EXPECT_GT(expected.size(), 100u);
  ExpectSameEvents(got, expected);
  EXPECT_GT((*monitor)->counters().sweep_slices, (*monitor)->counters().sweeps);
  EXPECT_EQ((*monitor)->counters().events_lost, 0u);
  EXPECT_EQ((*monitor)->counters().match_overflow, 0u);
  EXPECT_EQ((*monitor)->counters().flow_table_full, 0u);
  EXPECT_EQ((*monitor)->counters().packets, pkts.size());
}

TEST(Monitor, PartialsFromSeveralPipesAddUpToOnePipesAnswer) {
  std::mt19937_64 rng(12);
  const auto triggers = RandomTriggers(rng, 40);
  auto set = TriggerSet::Create(triggers, 1'000'000, 1);
  ASSERT_TRUE(set.ok());
  std::vector<std::unique_ptr<Monitor>> pipes;
  for (uint16_t p = 0; p < 3; ++p) {
    MonitorConfig c = TestConfig();
    c.pipe = p;
    c.export_partials = true;
    auto m = Monitor::Create(c, *set);
    ASSERT_TRUE(m.ok());
    pipes.push_back(*std::move(m));
  }
  const auto pkts = RandomTraffic(rng, 7'000'000'000, 30'000'000, 15000);
  // Flows spread over pipes as RSS would: all of a flow's packets to one.
  std::vector<std::vector<PacketView>> per_pipe(3);
  for (const PacketView& p : pkts) {
    per_pipe[(p.flow.src ^ p.flow.dst ^ p.flow.sport ^ p.flow.dport ^ p.flow.proto) % 3].push_back(p);
  }
  EventCombiner combiner(3);
  for (uint16_t p = 0; p < 3; ++p) {
    const auto& mine = per_pipe[p];
    for (size_t i = 0; i < mine.size(); i += 32) {
      const auto n = static_cast<uint16_t>(std::min<size_t>(32, mine.size() - i));
      pipes[p]->OnPackets(&mine[i], n);
      pipes[p]->Background(mine[i + n - 1].tstamp_ns);
    }
  }
  const uint64_t end_ns = pkts.back().tstamp_ns;
  std::set<EventKey> got;
  for (auto& m : pipes) {
    m->Finish(end_ns);
    for (const EventKey& k : Drain(*m, combiner, triggers)) got.insert(k);
  }
  EXPECT_EQ(combiner.pending_intervals(), 0u);
  for (auto& m : pipes) EXPECT_EQ(m->counters().match_overflow, 0u);
  const auto expected = Reference(pkts, triggers, 50'000, end_ns);
  EXPECT_GT(expected.size(), 50u);
  ExpectSameEvents(got, expected);
}

TEST(Monitor, ATriggerAddedOrRemovedMidRunChangesNothingElse) {
  std::mt19937_64 rng(13);
  auto triggers = RandomTriggers(rng, 30);
  for (auto& t : triggers) t.interval_ns = 2'000'000;
  const std::vector<Trigger> before(triggers.begin(), triggers.end() - 1);  // the last comes later
  std::vector<Trigger> after(triggers.begin() + 1, triggers.end());          // the first goes
  auto set1 = TriggerSet::Create(before, 1'000'000, 1);
  auto set2 = TriggerSet::Create(after, 1'000'000, 2);
  ASSERT_TRUE(set1.ok() && set2.ok());
  auto monitor = Monitor::Create(TestConfig(), *set1);
  ASSERT_TRUE(monitor.ok());
  const uint64_t t0 = 9'000'000'000;
  const auto pkts = RandomTraffic(rng, t0, 20'000'000, 12000);
  // Offered 7.5 ms in: adopted at the boundary at 8 ms; the new trigger's
  // first interval starts there (a multiple of 2 ms) and the removed one's
  // last full interval ended there.
  const uint64_t offer_at = t0 + 7'500'000, adopt_at = t0 + 8'000'000;
  EventCombiner combiner(1);
  std::set<EventKey> got;
  bool offered = false;
  for (size_t i = 0; i < pkts.size(); i += 16) {
    const auto n = static_cast<uint16_t>(std::min<size_t>(16, pkts.size() - i));
    if (!offered && pkts[i].tstamp_ns >= offer_at) {
      (*monitor)->Offer(*set2);
      offered = true;
    }
    (*monitor)->OnPackets(&pkts[i], n);
    (*monitor)->Background(pkts[i + n - 1].tstamp_ns);
    for (const EventKey& k : Drain(**monitor, combiner, triggers)) got.insert(k);
  }
  const uint64_t end_ns = pkts.back().tstamp_ns;
  (*monitor)->Finish(end_ns);
  for (const EventKey& k : Drain(**monitor, combiner, triggers)) got.insert(k);
  EXPECT_EQ((*monitor)->adopted_generation(), 2u);
  EXPECT_EQ((*monitor)->counters().trigger_set_changes, 1u);
  const auto expected = Reference(pkts, triggers, 50'000, end_ns,
                                  {{triggers.back().id, adopt_at}}, {{triggers.front().id, adopt_at}});
  ExpectSameEvents(got, expected);
}

TEST(Monitor, AFullFlowTableIsCountedNotFatal) {
  MonitorConfig c = TestConfig();
  c.flow_capacity = 8;
  auto set = TriggerSet::Create({Parse("a: filter * group * every 1ms when packets > 0")}, 1'000'000, 1);
  ASSERT_TRUE(set.ok());
  auto m = Monitor::Create(c, *set);
  ASSERT_TRUE(m.ok());
  std::vector<PacketView> pkts(64);
  for (size_t i = 0; i < pkts.size(); ++i) {
    pkts[i].flow.src = static_cast<uint32_t>(i);
    pkts[i].tstamp_ns = 1000 + i;
  }
  (*m)->OnPackets(pkts.data(), 32);
  (*m)->OnPackets(pkts.data() + 32, 32);
  EXPECT_GE((*m)->counters().flows_added, 8u);
  EXPECT_EQ((*m)->counters().flows_added + (*m)->counters().flow_table_full, 64u);
}

TEST(Monitor, TheCountingFilterAdmitsAFlowFromItsNthPacket) {
  MonitorConfig c = TestConfig();
  c.admit_after = 3;
  auto set = TriggerSet::Create({Parse("a: filter * group 5tuple every 1ms when packets > 0")},
                                1'000'000, 1);
  ASSERT_TRUE(set.ok());
  auto m = Monitor::Create(c, *set);
  ASSERT_TRUE(m.ok());
  std::vector<PacketView> pkts(5);
  for (size_t i = 0; i < pkts.size(); ++i) {
    pkts[i].flow = {0x0a000001, 0x0a000002, 1, 2, 17};
    pkts[i].tstamp_ns = 1'000'000 + i;
  }
  (*m)->OnPackets(pkts.data(), 5);
  (*m)->Finish(2'000'000);
  EXPECT_EQ((*m)->counters().not_admitted, 2u);
  Event e;
  ASSERT_EQ(rte_ring_sc_dequeue_elem((*m)->events(), &e, sizeof(Event)), 0);
  EXPECT_EQ(e.sums[static_cast<int>(Metric::kPackets)], 3u);
}

TEST(Monitor, IdleFlowsLeaveTheTableAndComeBackAsNew) {
  MonitorConfig c = TestConfig();
  c.flow_capacity = 64;
  c.idle_timeout_ns = 5'000'000;
  auto set = TriggerSet::Create({Parse("a: filter * group * every 1ms when packets > 0")}, 1'000'000, 1);
  ASSERT_TRUE(set.ok());
  auto m = Monitor::Create(c, *set);
  ASSERT_TRUE(m.ok());
  PacketView p;
  p.flow = {0x0a000001, 0x0a000002, 1, 2, 17};
  p.tstamp_ns = 1'000'000;
  (*m)->OnPackets(&p, 1);
  // 20 ms of silence, time moving on between (empty) polls.
  for (uint64_t t = 1'000'000; t <= 21'000'000; t += 100'000) (*m)->Background(t);
  EXPECT_EQ((*m)->counters().flows_expired, 1u);
  p.tstamp_ns = 21'500'000;
  (*m)->OnPackets(&p, 1);
  EXPECT_EQ((*m)->counters().flows_added, 2u);
}

TEST(Monitor, FlowsThatStayAreFoundAfterOthersLeaveAndAFullTableRefillsExactly) {
  // 64 flows fill a table of 64 (its index has 128 slots, so runs of
  // colliding flows form); half go idle and leave, which moves the others
  // within their runs. Every flow that stayed must still be found (not
  // added again), and exactly the 32 freed places take new flows.
  MonitorConfig c = TestConfig();
  c.flow_capacity = 64;
  c.idle_timeout_ns = 5'000'000;
  c.sweep_budget_cycles = ~uint64_t{0};  // sweeps end in one slice: expiry runs after them
  auto set = TriggerSet::Create({Parse("a: filter * group * every 1ms when packets > 0")}, 1'000'000, 1);
  ASSERT_TRUE(set.ok());
  auto m = Monitor::Create(c, *set);
  ASSERT_TRUE(m.ok());
  const auto flows = [](uint32_t first, uint32_t count, uint64_t t) {
    std::vector<PacketView> pkts(count);
    for (uint32_t i = 0; i < count; ++i) {
      pkts[i].flow = {0x0a000000 + first + i, 0x0a010001, static_cast<uint16_t>(first + i), 80, 6};
      pkts[i].tstamp_ns = t;
    }
    return pkts;
  };
  auto all = flows(0, 64, 1'000'000);
  (*m)->OnPackets(all.data(), 32);
  (*m)->OnPackets(all.data() + 32, 32);
  EXPECT_EQ((*m)->counters().flows_added, 64u);
  for (uint64_t t = 1'000'000; t <= 21'000'000; t += 100'000) {
    if (t % 1'000'000 == 0) {
      auto stay = flows(32, 32, t);  // the upper half keeps sending
      (*m)->OnPackets(stay.data(), 32);
    }
    (*m)->Background(t);
  }
  EXPECT_EQ((*m)->counters().flows_expired, 32u);
  auto stay = flows(32, 32, 21'500'000);
  (*m)->OnPackets(stay.data(), 32);
  EXPECT_EQ((*m)->counters().flows_added, 64u);
  auto fresh = flows(100, 33, 21'600'000);
  (*m)->OnPackets(fresh.data(), 33);
  EXPECT_EQ((*m)->counters().flows_added, 96u);
  EXPECT_EQ((*m)->counters().flow_table_full, 1u);
  (*m)->OnPackets(stay.data(), 32);
  EXPECT_EQ((*m)->counters().flows_added, 96u);
}

TEST(Monitor, TwoFlowsOfOneHashKeepTheirOwnStatistics) {
  // Flows whose 32-bit hashes are equal share a probe sequence and an index
  // hash; only the key tells them apart. Find such a pair (a birthday search
  // over random source addresses and ports: about 2^16 tries; the source
  // address alone would never do, a CRC being one-to-one on 32 bits), send
  // both, interleaved and in either order within bursts, among other flows,
  // and compare every event with the per-packet reference.
  FiveTuple a, b;
  std::unordered_map<uint32_t, FiveTuple> seen;
  std::mt19937_64 search(5);
  for (int tries = 0;; ++tries) {
    ASSERT_LT(tries, 10'000'000) << "no two flows of one hash";
    const FiveTuple f{static_cast<uint32_t>(search()), 0x0a010001,
                      static_cast<uint16_t>(search()), 53, 17};
    const auto [it, fresh] = seen.emplace(FlowHash(f), f);
    if (!fresh && !(it->second == f)) {
      a = it->second;
      b = f;
      break;
    }
  }
  ASSERT_EQ(FlowHash(a), FlowHash(b));
  ASSERT_FALSE(a == b);
  const std::vector<Trigger> triggers = {
      Parse("a: filter * group 5tuple every 1ms when packets > 0")};
  auto set = TriggerSet::Create(triggers, 1'000'000, 1);
  ASSERT_TRUE(set.ok());
  auto m = Monitor::Create(TestConfig(), *set);
  ASSERT_TRUE(m.ok());
  std::mt19937_64 rng(21);
  std::vector<PacketView> pkts;
  for (uint64_t i = 0; i < 3000; ++i) {
    PacketView p;
    const uint64_t pick = rng() % 4;
    p.flow = pick == 0 ? a : pick == 1 ? b : FiveTuple{0x0b000000 + static_cast<uint32_t>(rng() % 64),
                                                        0x0a010001, 4000, 53, 17};
    p.tstamp_ns = 1'000'000 + i * 2'000;
    p.bytes = static_cast<uint32_t>(64 + rng() % 1400);
    pkts.push_back(p);
  }
  ExpectSameEvents(Replay(**m, pkts, triggers),
                   Reference(pkts, triggers, TestConfig().burst_gap_ns, pkts.back().tstamp_ns));
  EXPECT_EQ((*m)->counters().flows_added, 2u + 64u);
}

}  // namespace
}  // namespace softfino::trumpet
