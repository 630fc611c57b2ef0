#include "softfino/control/command_registry.h"

#include <stdexcept>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "softfino/control/control_server.h"

namespace softfino::control {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

absl::StatusOr<json> Echo(const json& args) { return json{{"echo", args}}; }

class CommandRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Register("echo", "Returns its args.", Echo).ok());
    ASSERT_TRUE(registry_
                    .Register("fail", "Always fails.",
                              [](const json&) -> absl::StatusOr<json> {
                                return absl::InvalidArgumentError("port 7 does not exist");
                              })
                    .ok());
    ASSERT_TRUE(registry_
                    .Register("throws", "Misuses json.",
                              [](const json& args) -> absl::StatusOr<json> {
                                return args.at("missing");  // throws out_of_range
                              })
                    .ok());
  }
  json Line(const std::string& line) { return json::parse(ReplyToLine(registry_, line)); }

  CommandRegistry registry_;
};

TEST_F(CommandRegistryTest, DispatchesAndEchoesTheId) {
  const json reply = registry_.Dispatch({{"id", 7}, {"cmd", "echo"}, {"args", {{"port", 1}}}});
  EXPECT_EQ(reply, json({{"id", 7}, {"ok", true}, {"result", {{"echo", {{"port", 1}}}}}}));
  // Any JSON is an id, and none is null.
  const json object_id = {{"client", "a"}, {"n", {1, 2}}};
  EXPECT_EQ(registry_.Dispatch({{"id", object_id}, {"cmd", "echo"}})["id"], object_id);
  EXPECT_TRUE(registry_.Dispatch({{"cmd", "echo"}})["id"].is_null());
}

TEST_F(CommandRegistryTest, MissingArgsAreAnEmptyObject) {
  EXPECT_EQ(registry_.Dispatch({{"cmd", "echo"}})["result"]["echo"], json::object());
  EXPECT_EQ(registry_.Dispatch({{"cmd", "echo"}, {"args", nullptr}})["result"]["echo"],
            json::object());
}

TEST_F(CommandRegistryTest, HandlerErrorsBecomeErrorReplies) {
  const json reply = registry_.Dispatch({{"id", "x"}, {"cmd", "fail"}});
  EXPECT_EQ(reply, json({{"id", "x"}, {"ok", false}, {"error", "port 7 does not exist"}}));
}

TEST_F(CommandRegistryTest, AThrowingHandlerCostsOneRequest) {
  const json reply = registry_.Dispatch({{"id", 1}, {"cmd", "throws"}});
  EXPECT_EQ(reply["ok"], false);
  EXPECT_THAT(reply["error"].get<std::string>(), HasSubstr("command 'throws' failed"));
  EXPECT_EQ(registry_.Dispatch({{"cmd", "echo"}})["ok"], true);
}

TEST_F(CommandRegistryTest, UnknownCommandListsTheKnownOnes) {
  const json reply = registry_.Dispatch({{"id", 2}, {"cmd", "nosuch"}});
  EXPECT_EQ(reply["id"], 2);
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["error"], "unknown command 'nosuch'; known commands: echo, fail, help, throws");
}

TEST_F(CommandRegistryTest, BadRequestsSayWhatIsWrong) {
  auto error = [&](const json& request) { return registry_.Dispatch(request)["error"]; };
  EXPECT_THAT(error({{"id", 1}}).get<std::string>(), HasSubstr("has no \"cmd\""));
  EXPECT_THAT(error({{"cmd", 3}}).get<std::string>(),
              HasSubstr("\"cmd\" must be a string naming a command"));
  EXPECT_THAT(error({{"cmd", "echo"}, {"args", {1, 2}}}).get<std::string>(),
              HasSubstr("the args of 'echo' must be a JSON object"));
  EXPECT_THAT(error({{"command", "echo"}}).get<std::string>(),
              HasSubstr("unknown request field 'command'"));
  EXPECT_THAT(error(json::array({1})).get<std::string>(), HasSubstr("a request is a JSON object"));
}

TEST_F(CommandRegistryTest, HelpListsEveryCommand) {
  const json result = registry_.Call("help", json::object()).value();
  EXPECT_EQ(result.size(), 4u);
  EXPECT_EQ(result["echo"], "Returns its args.");
  EXPECT_TRUE(result.contains("help"));
  EXPECT_EQ(registry_.Call("help", {{"command", "fail"}}).value(),
            json({{"fail", "Always fails."}}));
  EXPECT_THAT(std::string(registry_.Call("help", {{"command", "x"}}).status().message()),
              HasSubstr("help: no command \"x\"; known commands: echo, fail"));
  EXPECT_THAT(std::string(registry_.Call("help", {{"verbose", true}}).status().message()),
              HasSubstr("unknown argument 'verbose': help takes command"));
}

TEST_F(CommandRegistryTest, RegisterRefusesDuplicatesAndBadNames) {
  EXPECT_EQ(registry_.Register("echo", "again", Echo).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry_.Register("help", "again", Echo).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(registry_.Register("", "x", Echo).ok());
  EXPECT_FALSE(registry_.Register("Bad", "x", Echo).ok());
  EXPECT_FALSE(registry_.Register("has space", "x", Echo).ok());
  EXPECT_FALSE(registry_.Register("nohandler", "x", nullptr).ok());
  EXPECT_TRUE(registry_.Register("table.add_2", "x", Echo).ok());
}

TEST_F(CommandRegistryTest, ReplyToLineParsesOrExplains) {
  EXPECT_EQ(Line(R"({"id": 5, "cmd": "echo", "args": {"a": "b"}})")["result"]["echo"]["a"], "b");
  const json bad = Line(R"({"id": 5, "cmd": )");
  EXPECT_TRUE(bad["id"].is_null());
  EXPECT_EQ(bad["ok"], false);
  EXPECT_THAT(bad["error"].get<std::string>(),
              HasSubstr("the request is not valid JSON (parse error at line 1, column"));
  EXPECT_THAT(Line("[1, 2]")["error"].get<std::string>(), HasSubstr("a request is a JSON object"));
  // A number no double holds is nlohmann's out_of_range, not parse_error:
  // once it escaped and ended the switch (fuzz_control_framing found it).
  const json huge = Line(R"({"id": 1, "cmd": "echo", "args": {"a": 5555.55e555}})");
  EXPECT_EQ(huge["ok"], false);
  EXPECT_THAT(huge["error"].get<std::string>(),
              HasSubstr("the request is not valid JSON (number overflow parsing '5555.55e555'"));
  // Nesting that would recurse deep in dump() is refused before parsing.
  const json deep = Line(std::string(10000, '[') + std::string(10000, ']'));
  EXPECT_THAT(deep["error"].get<std::string>(), HasSubstr("nests more than 64 levels"));
  // Brackets inside strings do not count.
  const std::string brackets(200, '[');
  EXPECT_EQ(Line(R"({"cmd": "echo", "args": {"s": ")" + brackets + "\"}}")["ok"], true);
}

TEST(CheckArgNamesTest, NamesTheStrayKey) {
  EXPECT_TRUE(CheckArgNames("ports", {{"port", 1}}, {"port"}).ok());
  EXPECT_TRUE(CheckArgNames("ports", json::object(), {"port"}).ok());
  EXPECT_EQ(CheckArgNames("queues", {{"prot", 1}}, {"port", "qid"}).message(),
            "unknown argument 'prot': queues takes port, qid");
  EXPECT_EQ(CheckArgNames("info", {{"x", 1}}, {}).message(),
            "unknown argument 'x': info takes no arguments");
}

TEST(OptionalIndexArgTest, ChecksTypeAndRange) {
  EXPECT_EQ(OptionalIndexArg(json::object(), "port", "port", 3).value(), -1);
  EXPECT_EQ(OptionalIndexArg({{"port", 2}}, "port", "port", 3).value(), 2);
  EXPECT_EQ(OptionalIndexArg({{"port", 7}}, "port", "port", 3).status().message(),
            "port 7 does not exist; this switch has 3 port(s), 0..2");
  EXPECT_EQ(OptionalIndexArg({{"port", -1}}, "port", "port", 3).status().message(),
            "port -1 does not exist; this switch has 3 port(s), 0..2");
  EXPECT_THAT(std::string(OptionalIndexArg({{"port", "1"}}, "port", "port", 3).status().message()),
              HasSubstr("\"port\" must be a port number (an integer)"));
  EXPECT_FALSE(OptionalIndexArg({{"port", 1.5}}, "port", "port", 3).ok());
}

}  // namespace
}  // namespace softfino::control
