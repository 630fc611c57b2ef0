// The register and counter commands over a real Register and CounterArray,
// checked against values this test sets through the fast-path calls
// (Execute, Count) and against a plain model, never against the commands'
// own earlier output.
#include "softfino/control/stateful_commands.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "softfino/control/command_registry.h"
#include "softfino/pipe/stateful_control.h"

namespace softfino::control {
namespace {

using nlohmann::json;

class StatefulCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reg16_ = *pipe::Register<uint16_t>::Create("max_len", 8, /*pipes=*/2, /*initial=*/3);
    reg64_ = *pipe::Register<uint64_t>::Create("wide", 4, /*pipes=*/2);
    counter_ = *pipe::CounterArray::Create("hits", 16, pipe::CounterType::kPacketsAndBytes, 2);
    pkts_ = *pipe::CounterArray::Create("pkts", 4, pipe::CounterType::kPackets, 2);
    ASSERT_TRUE(stateful_.AddRegister(*reg16_).ok());
    ASSERT_TRUE(stateful_.AddRegister(*reg64_).ok());
    ASSERT_TRUE(stateful_.AddCounter(*counter_).ok());
    ASSERT_TRUE(stateful_.AddCounter(*pkts_).ok());
    ASSERT_TRUE(RegisterStatefulCommands(registry_, stateful_).ok());
  }
  absl::StatusOr<json> Call(const char* cmd, const json& args) { return registry_.Call(cmd, args); }
  // Every cell of every pipe of reg16_, straight from the register.
  std::vector<uint16_t> Cells16() {
    std::vector<uint16_t> out;
    for (uint16_t p = 0; p < 2; ++p) {
      for (uint32_t i = 0; i < 8; ++i) out.push_back(*reg16_->Read(p, i));
    }
    return out;
  }

  std::unique_ptr<pipe::Register<uint16_t>> reg16_;
  std::unique_ptr<pipe::Register<uint64_t>> reg64_;
  std::unique_ptr<pipe::CounterArray> counter_, pkts_;
  pipe::StatefulControl stateful_;
  CommandRegistry registry_;
};

TEST_F(StatefulCommandsTest, ExposesByNameAndRefusesDuplicates) {
  EXPECT_EQ(stateful_.RegisterNames(), (std::vector<std::string>{"max_len", "wide"}));
  EXPECT_EQ(stateful_.CounterNames(), (std::vector<std::string>{"hits", "pkts"}));
  EXPECT_EQ(stateful_.AddRegister(*reg16_).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(stateful_.AddCounter(*counter_).code(), absl::StatusCode::kAlreadyExists);
  auto missing = stateful_.FindRegister("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("max_len, wide"), std::string::npos);
  auto list = Call("register_list", json::object());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)["registers"][0],
            (json{{"name", "max_len"}, {"size", 8}, {"width", 16}, {"pipes", 2}, {"initial", 3}}));
}

TEST_F(StatefulCommandsTest, ReadSeesWhatPacketsWrotePerPipe) {
  // Pipe 0 keeps the max of 100 and 60 at cell 2; pipe 1 sees 70 there.
  const auto keep_max = [](uint16_t len) { return [len](uint16_t& c) { c = std::max(c, len); }; };
  reg16_->Execute(0, 2, keep_max(100));
  reg16_->Execute(0, 2, keep_max(60));
  reg16_->Execute(1, 2, keep_max(70));
  auto all = Call("register_read", {{"register", "max_len"}, {"index", 2}});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)["entries"], (json::array({{{"index", 2}, {"values", {100, 70}}}})));
  auto one = Call("register_read", {{"register", "max_len"}, {"from", 1}, {"to", 3}, {"pipe", 1}});
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ((*one)["pipe"], 1);
  EXPECT_EQ((*one)["entries"], (json::array({{{"index", 1}, {"value", 3}},
                                             {{"index", 2}, {"value", 70}},
                                             {{"index", 3}, {"value", 3}}})));
  auto every = Call("register_read", {{"register", "max_len"}});
  ASSERT_TRUE(every.ok());
  EXPECT_EQ((*every)["entries"].size(), 8u);
}

TEST_F(StatefulCommandsTest, WriteRoundTripsAndResetRestoresInitial) {
  ASSERT_TRUE(
      Call("register_write", {{"register", "max_len"}, {"from", 4}, {"to", 5}, {"value", 65535}})
          .ok());
  ASSERT_TRUE(
      Call("register_write", {{"register", "max_len"}, {"index", 0}, {"pipe", 1}, {"value", 9}})
          .ok());
  std::vector<uint16_t> want(16, 3);
  want[4] = want[5] = want[8 + 4] = want[8 + 5] = 65535;
  want[8 + 0] = 9;
  EXPECT_EQ(Cells16(), want);
  ASSERT_TRUE(
      Call("register_write", {{"register", "wide"}, {"index", 3}, {"value", UINT64_MAX}}).ok());
  EXPECT_EQ(*reg64_->Read(1, 3), UINT64_MAX);
  auto reset = Call("register_reset", {{"register", "max_len"}});
  ASSERT_TRUE(reset.ok()) << reset.status();
  EXPECT_EQ(Cells16(), std::vector<uint16_t>(16, 3));
  EXPECT_EQ(*reg64_->Read(1, 3), UINT64_MAX);  // only the register named
  ASSERT_TRUE(Call("register_reset", json::object()).ok());
  EXPECT_EQ(*reg64_->Read(1, 3), 0u);
}

TEST_F(StatefulCommandsTest, RefusedRequestsNameTheProblemAndChangeNothing) {
  const std::vector<uint16_t> before = Cells16();
  const struct {
    const char* cmd;
    json args;
    const char* says;
  } cases[] = {
      {"register_read", {{"register", "nope"}}, "no register 'nope'"},
      {"register_read", json::object(), "register: missing"},
      {"register_read",
       {{"register", "max_len"}, {"index", 8}},
       "index 8 is out of range; valid indices are 0..7"},
      {"register_read", {{"register", "max_len"}, {"pipe", 2}}, "pipe 2 does not exist"},
      {"register_read", {{"register", "max_len"}, {"from", 5}, {"to", 2}}, "from 5 is after to 2"},
      {"register_read", {{"register", "max_len"}, {"from", 5}}, "needs both from=A and to=B"},
      {"register_read", {{"register", "max_len"}, {"index", -1}}, "index: must be an integer >= 0"},
      {"register_read", {{"register", "max_len"}, {"idx", 1}}, "unknown argument 'idx'"},
      {"register_write",
       {{"register", "max_len"}, {"index", 1}, {"value", 65536}},
       "does not fit its 16 bits; give 0..65535"},
      {"register_write",
       {{"register", "max_len"}, {"from", 0}, {"to", 8}, {"value", 1}},
       "to 8 is out of range"},
      {"register_write", {{"register", "max_len"}, {"value", 1}}, "say which cells"},
      {"register_write", {{"register", "max_len"}, {"index", 1}}, "value: missing"},
      {"register_write",
       {{"register", "max_len"}, {"index", 1}, {"value", "7"}},
       "value: must be an integer"},
      {"register_write",
       {{"register", "max_len"}, {"index", 1}, {"value", 1.5}},
       "value: must be an integer"},
      {"register_reset", {{"register", "nope"}}, "no register 'nope'"},
      {"counter_read",
       {{"counter", "nope"}},
       "no counter 'nope' in this program; it has hits, pkts"},
      {"counter_clear", {{"counter", "hits"}, {"index", 16}}, "index 16 is out of range"},
  };
  for (const auto& c : cases) {
    auto r = Call(c.cmd, c.args);
    ASSERT_FALSE(r.ok()) << c.cmd << " " << c.args.dump();
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.cmd << " " << c.args.dump() << ": " << r.status().message();
  }
  EXPECT_EQ(Cells16(), before);
}

TEST_F(StatefulCommandsTest, CounterReadSumsPipesAndClearZeroes) {
  // A model of what the packets below add up to.
  uint64_t pkts[16] = {}, bytes[16] = {}, pipe1_pkts = 0, pipe1_bytes = 0;
  for (uint32_t k = 0; k < 100; ++k) {
    const uint16_t p = k % 2;
    const uint32_t index = (k * 7) % 16, len = 60 + k;
    counter_->Count(p, index, len);
    pkts[index] += 1;
    bytes[index] += len;
    if (p == 1 && index == 5) {
      ++pipe1_pkts;
      pipe1_bytes += len;
    }
  }
  auto all = Call("counter_read", {{"counter", "hits"}});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ((*all)["entries"].size(), 16u);
  for (uint32_t i = 0; i < 16; ++i) {
    EXPECT_EQ((*all)["entries"][i],
              (json{{"index", i}, {"packets", pkts[i]}, {"bytes", bytes[i]}}));
  }
  auto one = Call("counter_read", {{"counter", "hits"}, {"index", 5}, {"pipe", 1}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)["entries"][0],
            (json{{"index", 5}, {"packets", pipe1_pkts}, {"bytes", pipe1_bytes}}));
  // A packets-only counter reports no bytes.
  pkts_->Count(0, 1, 99);
  auto p = Call("counter_read", {{"counter", "pkts"}, {"index", 1}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["entries"][0], (json{{"index", 1}, {"packets", 1}}));

  ASSERT_TRUE(Call("counter_clear", {{"counter", "hits"}, {"from", 0}, {"to", 4}}).ok());
  for (uint32_t i = 0; i < 16; ++i) {
    const pipe::CounterValue v = *counter_->Read(i);
    EXPECT_EQ(v.packets, i <= 4 ? 0 : pkts[i]) << i;
  }
  ASSERT_TRUE(Call("counter_clear", {{"counter", "hits"}}).ok());
  for (uint32_t i = 0; i < 16; ++i) EXPECT_EQ(*counter_->Read(i), pipe::CounterValue{});
  counter_->Count(1, 3, 10);  // counting goes on from zero
  EXPECT_EQ(*counter_->Read(3), (pipe::CounterValue{1, 10}));
}

}  // namespace
}  // namespace softfino::control
