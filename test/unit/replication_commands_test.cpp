// Mirror sessions and multicast groups changed through ReplicationControl:
// each change is published as a new version (checked against the version a
// pipe would Acquire), refused requests name the problem and leave the
// published version untouched, and the program's own entries stay its own.
#include "softfino/control/replication_commands.h"

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <memory>
#include <thread>

#include "gtest/gtest.h"
#include "softfino/control/command_registry.h"

namespace softfino::control {
namespace {

using nlohmann::json;

class ReplicationCommandsTest : public ::testing::Test {
 protected:
  ReplicationCommandsTest()
      : replication_(std::make_unique<const tm::Replication>(Initial())),
        control_(replication_, pipe::RcuDomain{}, /*port_count=*/4, Owned(), "prog") {
    EXPECT_TRUE(RegisterReplicationCommands(registry_, control_).ok());
  }
  static tm::Replication Initial() {
    tm::Replication r;
    r.mirror_sessions.Set(7, {2, 0, 0});          // the program's
    r.mirror_sessions.Set(1, {1, 0, 64});         // the config's
    r.multicast_groups.Set(9, {{3, 1}, {2, 2}});  // the program's
    return r;
  }
  static pipe::ProgramReplication Owned() {
    pipe::ProgramReplication owned;
    owned.mirror_sessions.push_back({7, 2, 0});
    owned.groups.push_back({9, {{3, 1}, {2, 2}}});
    return owned;
  }
  absl::StatusOr<json> Call(const char* cmd, const json& args) { return registry_.Call(cmd, args); }
  const tm::Replication& Seen() const { return *replication_.Acquire(); }

  pipe::Versioned<tm::Replication> replication_;
  ReplicationControl control_;
  CommandRegistry registry_;
};

TEST_F(ReplicationCommandsTest, MirrorAddModifyDeletePublishNewVersions) {
  const tm::Replication* before = replication_.Acquire();
  auto added = Call("mirror_add", {{"session", 5}, {"port", 3}, {"max_len", 100}});
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_NE(replication_.Acquire(), before);  // a new version, not an edit in place
  ASSERT_TRUE(Seen().mirror_sessions.contains(5));
  EXPECT_EQ(Seen().mirror_sessions.at(5).port, 3);
  EXPECT_EQ(Seen().mirror_sessions.at(5).max_len, 100u);
  EXPECT_EQ(Seen().mirror_sessions.size(), 3u);

  ASSERT_TRUE(Call("mirror_modify", {{"session", 5}, {"port", 0}, {"qid", 2}}).ok());
  EXPECT_EQ(Seen().mirror_sessions.at(5).port, 0);
  EXPECT_EQ(Seen().mirror_sessions.at(5).qid, 2);
  EXPECT_EQ(Seen().mirror_sessions.at(5).max_len, 0u);
  ASSERT_TRUE(Call("mirror_modify", {{"session", 1}, {"port", 2}, {"max_len", 20}}).ok());
  EXPECT_EQ(Seen().mirror_sessions.at(1).max_len, 20u);

  auto list = Call("mirror_list", json::object());
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["mirror_sessions"],
            json::parse(R"([{"session": 1, "port": 2, "qid": 0, "max_len": 20},
                            {"session": 5, "port": 0, "qid": 2, "max_len": 0},
                            {"session": 7, "port": 2, "qid": 0, "max_len": 0, "owner": "prog"}])"));

  ASSERT_TRUE(Call("mirror_delete", {{"session", 5}}).ok());
  EXPECT_FALSE(Seen().mirror_sessions.contains(5));
  EXPECT_EQ(Seen().mirror_sessions.size(), 2u);
}

TEST_F(ReplicationCommandsTest, GroupAddModifyDelete) {
  ASSERT_TRUE(Call("mcast_add",
                   json::parse(R"({"group": 3, "members": [{"port": 1, "rid": 10}, {"port": 2}]})"))
                  .ok());
  ASSERT_EQ(Seen().multicast_groups.at(3).size(), 2u);
  EXPECT_EQ(Seen().multicast_groups.at(3)[0].port, 1);
  EXPECT_EQ(Seen().multicast_groups.at(3)[0].rid, 10);
  EXPECT_EQ(Seen().multicast_groups.at(3)[1].rid, 0);
  ASSERT_TRUE(
      Call("mcast_modify", json::parse(R"({"group": 3, "members": [{"port": 0, "rid": 4}]})"))
          .ok());
  ASSERT_EQ(Seen().multicast_groups.at(3).size(), 1u);
  EXPECT_EQ(Seen().multicast_groups.at(3)[0].port, 0);
  auto list = Call("mcast_list", json::object());
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["multicast_groups"],
            json::parse(R"([{"group": 3, "members": [{"port": 0, "rid": 4}]},
                            {"group": 9, "members": [{"port": 3, "rid": 1}, {"port": 2, "rid": 2}],
                             "owner": "prog"}])"));
  ASSERT_TRUE(Call("mcast_delete", {{"group", 3}}).ok());
  EXPECT_FALSE(Seen().multicast_groups.contains(3));
}

TEST_F(ReplicationCommandsTest, RefusedRequestsChangeNothing) {
  const tm::Replication* before = replication_.Acquire();
  const struct {
    const char* cmd;
    const char* args;
    const char* says;
  } cases[] = {
      {"mirror_add", R"({"session": 1, "port": 0})", "session 1 already exists; use mirror_modify"},
      {"mirror_modify", R"({"session": 2, "port": 0})", "session 2 does not exist; use mirror_add"},
      {"mirror_add", R"({"session": 2, "port": 4})", "port: 4 is not an integer in 0..3"},
      {"mirror_add", R"({"session": 2, "port": 0, "max_len": 10})",
       "max_len: 10 is shorter than an Ethernet header"},
      {"mirror_add", R"({"session": 70000, "port": 0})",
       "session: 70000 is not an integer in 0..65535"},
      {"mirror_add", R"({"port": 0})", "session: missing"},
      {"mirror_add", R"({"session": 2, "port": 0, "mtu": 5})", "unknown field 'mtu'"},
      {"mirror_modify", R"({"session": 7, "port": 0})", "installed by program prog"},
      {"mirror_delete", R"({"session": 7})", "installed by program prog"},
      {"mirror_delete", R"({"session": 3})", "mirror session 3 does not exist"},
      {"mirror_delete", R"({"session": "x"})", "session: \"x\" is not an integer"},
      {"mcast_add", R"({"group": 9, "members": [{"port": 0}]})", "installed by program prog"},
      {"mcast_delete", R"({"group": 9})", "installed by program prog"},
      {"mcast_add", R"({"group": 0, "members": [{"port": 0}]})",
       "group: 0 is not an integer in 1..65535"},
      {"mcast_add", R"({"group": 4, "members": []})", "members: must be a non-empty array"},
      {"mcast_add", R"({"group": 4, "members": [{"port": 9}]})",
       "members[0].port: 9 is not an integer in 0..3"},
      {"mcast_modify", R"({"group": 4, "members": [{"port": 1}]})",
       "group 4 does not exist; use mcast_add"},
      {"mcast_delete", R"({"group": 4})", "multicast group 4 does not exist"},
      {"mcast_list", R"({"group": 4})", "mcast_list takes no arguments"},
  };
  for (const auto& c : cases) {
    auto r = Call(c.cmd, json::parse(c.args));
    ASSERT_FALSE(r.ok()) << c.cmd << " " << c.args;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.cmd << " " << c.args << ": " << r.status().message();
    EXPECT_EQ(replication_.Acquire(), before) << c.cmd << " " << c.args;
  }
}

// A pipe's view while the control plane rewrites a group over and over:
// every version it takes holds the group whole (all members of one change,
// never a mix), and versions are freed only after its quiescent state.
TEST(ReplicationControlRcu, APipeSeesEachChangeWhole) {
  auto* qsbr = static_cast<rte_rcu_qsbr*>(
      rte_zmalloc("repl_rcu", rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE));
  ASSERT_NE(qsbr, nullptr);
  ASSERT_EQ(rte_rcu_qsbr_init(qsbr, 1), 0);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(qsbr, 0), 0);
  tm::Replication initial;
  initial.multicast_groups.Set(3, {{0, 0}});
  pipe::Versioned<tm::Replication> replication(
      std::make_unique<const tm::Replication>(std::move(initial)));
  ReplicationControl control(replication, pipe::RcuDomain{qsbr, RTE_QSBR_THRID_INVALID},
                             /*port_count=*/8, pipe::ProgramReplication{}, "prog");
  std::atomic<bool> stop{false}, online{false};
  std::atomic<uint64_t> torn{0}, polls{0};
  std::thread pipe_thread([&] {
    rte_rcu_qsbr_thread_online(qsbr, 0);
    online = true;
    while (!stop.load(std::memory_order_relaxed)) {
      const tm::Replication* rep = replication.Acquire();  // once per poll, as PipeWorker
      const auto& members = rep->multicast_groups.at(3);
      // Change k has k % 8 + 1 members, each with rid k and port m.
      const uint16_t k = members[0].rid;
      if (members.size() != k % 8u + 1) torn.fetch_add(1);
      for (size_t m = 0; m < members.size(); ++m) {
        if (members[m].rid != k || members[m].port != m) torn.fetch_add(1);
      }
      polls.fetch_add(1, std::memory_order_relaxed);
      rte_rcu_qsbr_quiescent(qsbr, 0);
    }
    rte_rcu_qsbr_thread_offline(qsbr, 0);
  });
  while (!online.load()) std::this_thread::yield();
  for (uint16_t k = 1; k <= 100; ++k) {
    json members = json::array();
    for (uint16_t m = 0; m <= k % 8; ++m) members.push_back({{"port", m}, {"rid", k}});
    auto r = control.SetGroup({{"group", 3}, {"members", members}}, /*modify=*/true);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  stop = true;
  pipe_thread.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(polls.load(), 0u);
  EXPECT_EQ(replication.current().multicast_groups.at(3).size(), 100 % 8 + 1u);
  rte_free(qsbr);
}

}  // namespace
}  // namespace softfino::control
