// Switch events over DTA Append reports (dta/event_record, control/
// dta_event_export) and events gathered from another switch's control
// socket (control/remote_events), against what the test planted: a record
// layout derived by hand here, datagrams caught on a loopback socket, and a
// real control server and event manager standing in for the other switch.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "softfino/control/control_server.h"
#include "softfino/control/dta_event_export.h"
#include "softfino/control/event_manager.h"
#include "softfino/control/remote_events.h"
#include "softfino/dta/event_record.h"

namespace softfino {
namespace {

using nlohmann::json;

// CRC-32/ISO-HDLC bit by bit, written from the definition (reflected
// polynomial 0xEDB88320, init and xor-out all ones).
uint32_t BitwiseCrc32(const std::vector<uint8_t>& bytes) {
  uint32_t crc = 0xffffffff;
  for (uint8_t b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320u : 0);
  }
  return ~crc;
}

dta::EventRecord Sample(uint32_t i) {
  dta::EventRecord r;
  r.trigger_id = 7 + i;
  r.interval_start_us = 1'700'000'000'000'000ull + i * 10'000;
  r.interval_us = 10'000;
  r.src = 0x0a010000 + i;
  r.dst = 0xe7000001;  // 231.0.0.1: starts with the magic byte
  r.sport = 1234;
  r.dport = 80;
  r.proto = 6;
  r.seq = i;
  r.value = 0.125 + i;
  return r;
}

TEST(EventRecord, WordsAreTheDocumentedLayout) {
  const dta::EventRecord r = Sample(1);
  const auto w = dta::EncodeEventRecord(r);
  EXPECT_EQ(w[0], 0xE7000008u);
  EXPECT_EQ(w[1], static_cast<uint32_t>(r.interval_start_us >> 32));
  EXPECT_EQ(w[2], static_cast<uint32_t>(r.interval_start_us));
  EXPECT_EQ(w[3], 10'000u);
  EXPECT_EQ(w[4], 0x0a010001u);
  EXPECT_EQ(w[5], 0xe7000001u);
  EXPECT_EQ(w[6], (1234u << 16) | 80u);
  EXPECT_EQ(w[7], (6u << 24) | 1u);
  // 1.125 = 0x3FF2000000000000
  EXPECT_EQ(w[8], 0x3ff20000u);
  EXPECT_EQ(w[9], 0u);
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 10; ++i) {
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<uint8_t>(w[i] >> s));
  }
  EXPECT_EQ(w[10], BitwiseCrc32(bytes));
}

TEST(EventRecord, ScanSkipsLostAndDamagedReportsAndWaitsForPartialOnes) {
  std::vector<uint32_t> entries;
  for (uint32_t i = 0; i < 6; ++i) {
    const auto w = dta::EncodeEventRecord(Sample(i));
    for (uint32_t k = 0; k < w.size(); ++k) {
      if (i == 2 && k == 5) continue;  // a lost report
      entries.push_back(i == 4 && k == 8 ? w[k] ^ 0x100 : w[k]);  // a damaged one
    }
  }
  const auto last = dta::EncodeEventRecord(Sample(6));
  entries.insert(entries.end(), last.begin(), last.begin() + 4);  // still arriving

  const dta::EventScan scan = dta::ScanEventRecords(entries);
  std::vector<uint32_t> seqs;
  for (const auto& r : scan.records) seqs.push_back(r.seq);
  EXPECT_THAT(seqs, ::testing::ElementsAre(0u, 1u, 3u, 5u));
  // Record 2 (10 words) and record 4 (11 words) are skipped word by word.
  EXPECT_EQ(scan.skipped, 21u);
  EXPECT_EQ(scan.consumed, entries.size() - 4);
  const dta::EventRecord& r = scan.records[3];
  EXPECT_EQ(r.trigger_id, 12u);
  EXPECT_EQ(r.interval_start_us, Sample(5).interval_start_us);
  EXPECT_EQ(r.src, Sample(5).src);
  EXPECT_EQ(r.dst, 0xe7000001u);
  EXPECT_EQ(r.value, 5.125);

  // The rest arrives: scanning on from `consumed` finds the record.
  std::vector<uint32_t> rest(entries.begin() + static_cast<long>(scan.consumed), entries.end());
  rest.insert(rest.end(), last.begin() + 4, last.end());
  const dta::EventScan more = dta::ScanEventRecords(rest);
  ASSERT_EQ(more.records.size(), 1u);
  EXPECT_EQ(more.records[0].seq, 6u);
  EXPECT_EQ(more.consumed, rest.size());
}

TEST(DtaEventExport, SpecErrorsSayWhatIsWrong) {
  EXPECT_THAT(control::ParseDtaEventExport("10.0.0.2").status().message(),
              ::testing::HasSubstr("list=L is missing"));
  EXPECT_THAT(control::ParseDtaEventExport("host,list=1").status().message(),
              ::testing::HasSubstr("not an IPv4 address"));
  EXPECT_THAT(control::ParseDtaEventExport("10.0.0.2:0,list=1").status().message(),
              ::testing::HasSubstr("port \"0\""));
  EXPECT_THAT(control::ParseDtaEventExport("10.0.0.2,list=1,form=4-byte").status().message(),
              ::testing::HasSubstr("2-byte"));
  EXPECT_THAT(control::ParseDtaEventExport("10.0.0.2,list=1,speed=3").status().message(),
              ::testing::HasSubstr("unknown option \"speed\""));
  auto ok = control::ParseDtaEventExport("10.0.0.2:4000,list=3,form=2-byte,rate=10");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->address, 0x0a000002u);
  EXPECT_EQ(ok->port, 4000);
  EXPECT_EQ(ok->list, 3u);
  EXPECT_EQ(ok->form, net::DtaBaseForm::kTwoByte);
}

json EventJson(const dta::EventRecord& r) {
  return json{{"trigger_id", r.trigger_id},
              {"interval_start_ns", r.interval_start_us * 1000},
              {"interval_ns", uint64_t{r.interval_us} * 1000},
              {"group_key", {r.src, r.dst, r.sport, r.dport, r.proto}},
              {"value", r.value},
              {"seq", r.seq}};
}

TEST(DtaEventExport, SendsOneAppendReportPerWordInBothForms) {
  for (const net::DtaBaseForm form : {net::DtaBaseForm::kThreeByte, net::DtaBaseForm::kTwoByte}) {
    const int rx = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(rx, reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0);
    socklen_t len = sizeof(at);
    getsockname(rx, reinterpret_cast<sockaddr*>(&at), &len);
    const timeval timeout{1, 0};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

    control::DtaEventExportOptions o;
    o.address = INADDR_LOOPBACK;
    o.port = ntohs(at.sin_port);
    o.list = 9;
    o.form = form;
    o.queue = 2;
    auto exporter = control::DtaEventExporter::Create(o);
    ASSERT_TRUE(exporter.ok()) << exporter.status();
    (*exporter)->Add(EventJson(Sample(0)));
    (*exporter)->Add(json{{"event", "other"}});  // not a trigger event
    (*exporter)->Add(EventJson(Sample(1)));
    (*exporter)->Add(EventJson(Sample(2)));  // the queue holds 2
    (*exporter)->Drain(std::chrono::seconds(2));

    const uint32_t base = form == net::DtaBaseForm::kThreeByte ? 3 : 2;
    std::vector<uint32_t> words;
    for (uint32_t i = 0; i < 2 * dta::kEventRecordWords; ++i) {
      uint8_t buf[64];
      const ssize_t n = recv(rx, buf, sizeof(buf), 0);
      ASSERT_EQ(n, base + 8) << "report " << i;
      EXPECT_EQ(buf[0], 0x02);  // Append
      if (base == 3) {
        EXPECT_EQ(buf[1], static_cast<uint8_t>(i)) << "seqnum";
      }
      EXPECT_EQ(buf[base - 1], 0);  // flags
      EXPECT_EQ(net::DtaLoad32(buf + base), 9u);  // list
      words.push_back(net::DtaLoad32(buf + base + 4));
    }
    close(rx);
    const dta::EventScan scan = dta::ScanEventRecords(words);
    ASSERT_EQ(scan.records.size(), 2u);
    EXPECT_EQ(scan.records[1].seq, 1u);
    const json c = (*exporter)->Counters();
    EXPECT_EQ(c["events"], 2);
    EXPECT_EQ(c["not_exportable"], 1);
    EXPECT_EQ(c["queue_full"], 1);
    EXPECT_EQ(c["reports"], 22);
    EXPECT_EQ(c["waiting"], 0);
  }
}

// A program that hands out the events it is given.
class PlantedEvents : public pipe::Program {
 public:
  absl::Status Configure(const json&, const pipe::SwitchInfo&) override { return absl::OkStatus(); }
  void Ingress(pipe::PacketBurst&) const override {}
  std::vector<pipe::ResourceUse> Resources() const override { return {}; }
  void DrainEvents(const std::function<void(json)>& emit) override {
    for (json& e : planted) emit(std::move(e));
    planted.clear();
  }
  std::vector<json> planted;
};

// Another switch: its event manager behind a real control server.
struct OtherSwitch {
  explicit OtherSwitch(const std::string& path) {
    manager = *control::EventManager::Create(program, {});
    EXPECT_TRUE(manager->RegisterCommands(registry).ok());
    control::ControlServerOptions o;
    o.path = path;
    server = *control::ControlServer::Create(registry, o);
  }
  void Plant(int from, int to) {
    for (int i = from; i < to; ++i) program.planted.push_back(json{{"event", "test"}, {"n", i}});
    manager->Poll();
  }
  PlantedEvents program;
  control::CommandRegistry registry;
  std::unique_ptr<control::EventManager> manager;
  std::unique_ptr<control::ControlServer> server;
};

TEST(RemoteEvents, GathersAcrossOutagesAndRestarts) {
  char dir[] = "/tmp/softfino-remote-events.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/sw2.sock";
  EXPECT_FALSE(control::RemoteEventSource::Parse("sw2").ok());
  EXPECT_FALSE(control::RemoteEventSource::Parse("=x").ok());
  auto source = control::RemoteEventSource::Parse("sw2=" + path);
  ASSERT_TRUE(source.ok()) << source.status();

  std::vector<json> got;
  auto now = control::RemoteEventSource::Clock::now();
  const auto run = [&](OtherSwitch* other, size_t want) {
    for (int i = 0; i < 4000 && got.size() < want; ++i) {
      if (other) other->server->Poll();
      now += std::chrono::milliseconds(20);
      source->Poll(now, [&](json e) { got.push_back(std::move(e)); });
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  };

  // Not there yet: an outage, retried.
  run(nullptr, 0);
  source->Poll(now, [&](json e) { got.push_back(std::move(e)); });
  EXPECT_EQ(source->Status()["connected"], false);
  EXPECT_EQ(source->Status()["outages"], 1);

  {
    auto other = std::make_unique<OtherSwitch>(path);
    other->Plant(0, 1200);  // more than one answer holds
    run(other.get(), 1200);
    other->Plant(1200, 1210);
    run(other.get(), 1210);
  }
  ASSERT_EQ(got.size(), 1210u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["n"], i);
    EXPECT_EQ(got[i]["switch"], "sw2");
    EXPECT_EQ(got[i]["switch_seq"], i);
  }
  // The other switch went away and comes back restarted, numbering from 0.
  run(nullptr, 1210);
  {
    auto other = std::make_unique<OtherSwitch>(path);
    other->Plant(5000, 5003);
    run(other.get(), 1213);
  }
  ASSERT_EQ(got.size(), 1213u);
  EXPECT_EQ(got[1210]["n"], 5000);
  EXPECT_EQ(got[1212]["switch_seq"], 2);
  const json status = source->Status();
  EXPECT_EQ(status["restarts"], 1);
  EXPECT_EQ(status["events"], 1213);
  EXPECT_EQ(status["missed"], 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace softfino
