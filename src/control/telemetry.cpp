#include "softfino/control/telemetry.h"

#include <rte_telemetry.h>

#include <charconv>
#include <cstring>
#include <mutex>
#include <string>

namespace softfino::control {
namespace {

std::mutex mutex;
const dataplane::Switch* current = nullptr;
std::string pipeline_name;

// Parses the numeric parameter of "/softfino/port,3"; -1 when absent or bad.
long Index(const char* params, size_t limit) {
  if (params == nullptr || *params == '\0') return -1;
  long value = -1;
  const char* end = params + std::strlen(params);
  auto [ptr, ec] = std::from_chars(params, end, value);
  if (ec != std::errc() || ptr != end || value < 0 || static_cast<size_t>(value) >= limit) return -1;
  return value;
}

int Info(const char*, const char*, rte_tel_data* d) {
  std::lock_guard lock(mutex);
  if (current == nullptr) return -1;
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "pipeline", pipeline_name.c_str());
  rte_tel_data_add_dict_u64(d, "ports", current->port_count());
  rte_tel_data_add_dict_u64(d, "pipes", current->pipe_count());
  return 0;
}

int List(rte_tel_data* d, size_t n) {
  rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
  for (size_t i = 0; i < n; ++i) rte_tel_data_add_array_int(d, static_cast<int>(i));
  return 0;
}

int PortList(const char*, const char*, rte_tel_data* d) {
  std::lock_guard lock(mutex);
  if (current == nullptr) return -1;
  return List(d, current->port_count());
}

int PipeList(const char*, const char*, rte_tel_data* d) {
  std::lock_guard lock(mutex);
  if (current == nullptr) return -1;
  return List(d, current->pipe_count());
}

int Port(const char*, const char* params, rte_tel_data* d) {
  std::lock_guard lock(mutex);
  if (current == nullptr) return -1;
  const long port = Index(params, current->port_count());
  if (port < 0) return -EINVAL;
  const auto snap = current->Snapshot();
  const auto& t = snap.ports[static_cast<size_t>(port)];
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "device", current->ports().name(static_cast<uint16_t>(port)).c_str());
  rte_tel_data_add_dict_u64(d, "rx_packets", t.rx_packets);
  rte_tel_data_add_dict_u64(d, "rx_bytes", t.rx_bytes);
  rte_tel_data_add_dict_u64(d, "tx_packets", t.tx_packets);
  rte_tel_data_add_dict_u64(d, "tx_bytes", t.tx_bytes);
  rte_tel_data_add_dict_u64(d, "rx_missed", t.rx_missed);
  return 0;
}

int Pipe(const char*, const char* params, rte_tel_data* d) {
  std::lock_guard lock(mutex);
  if (current == nullptr) return -1;
  const long pipe = Index(params, current->pipe_count());
  if (pipe < 0) return -EINVAL;
  const auto snap = current->Snapshot();
  const auto& t = snap.pipes[static_cast<size_t>(pipe)];
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "lcore", t.lcore);
  rte_tel_data_add_dict_u64(d, "rx_packets", t.rx_packets);
  rte_tel_data_add_dict_u64(d, "tx_packets", t.tx_packets);
  rte_tel_data_add_dict_u64(d, "dropped", t.dropped);
  rte_tel_data_add_dict_u64(d, "polls", t.polls);
  rte_tel_data_add_dict_u64(d, "busy_polls", t.busy_polls);
  rte_tel_data_add_dict_u64(d, "idle_sleeps", t.idle_sleeps);
  rte_tel_data_add_dict_u64(d, "held_back", t.held_back);
  return 0;
}

int Drops(const char*, const char*, rte_tel_data* d) {
  std::lock_guard lock(mutex);
  if (current == nullptr) return -1;
  const auto snap = current->Snapshot();
  rte_tel_data_start_dict(d);
  for (size_t r = 1; r < pipe::kDropReasonCount; ++r) {
    rte_tel_data_add_dict_u64(d, std::string(pipe::kDropReasonNames[r]).c_str(), snap.drops[r]);
  }
  return 0;
}

}  // namespace

void PublishTelemetry(const dataplane::Switch* sw, absl::string_view pipeline) {
  {
    std::lock_guard lock(mutex);
    current = sw;
    pipeline_name = std::string(pipeline);
  }
  // Registering twice fails harmlessly (EEXIST): the commands stay bound to
  // the functions above, which always read `current`.
  rte_telemetry_register_cmd("/softfino/info", Info, "Pipeline, number of ports and pipes");
  rte_telemetry_register_cmd("/softfino/ports", PortList, "List of port ids");
  rte_telemetry_register_cmd("/softfino/port", Port,
                             "Counters of one port. Parameters: int port_id");
  rte_telemetry_register_cmd("/softfino/pipes", PipeList, "List of pipe ids");
  rte_telemetry_register_cmd("/softfino/pipe", Pipe,
                             "Counters of one pipe. Parameters: int pipe_id");
  rte_telemetry_register_cmd("/softfino/drops", Drops, "Drops by reason, summed over pipes");
}

void UnpublishTelemetry() {
  std::lock_guard lock(mutex);
  current = nullptr;
}

}  // namespace softfino::control
