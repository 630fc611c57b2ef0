// Helpers shared by the libFuzzer targets: a minimal EAL for the targets
// that need DPDK memory (rte_hash, rte_lpm, mempools), a way to cut one
// input into several packets, and a check that aborts with a message, so
// that a broken invariant is a crash libFuzzer saves, also in release
// builds where assert() is gone.
#pragma once

#include <rte_eal.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>

#include "nlohmann/json.hpp"

namespace softfino::fuzz {

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

// The test EAL of DESIGN.md: no hugepages, no devices, no shared config (so
// several fuzzers run at once), one lcore, quiet. Once per process.
inline void InitEal() {
  static bool done = false;
  if (done) return;
  done = true;
  char arg0[] = "softfino_fuzz";
  char a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "512", a5[] = "--no-pci",
       a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry", a9[] = "--log-level=error";
  char* argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(argv) / sizeof(argv[0]), argv) < 0) {
    std::fprintf(stderr, "fuzz: cannot initialise EAL\n");
    std::abort();
  }
}

// Reads an input as a sequence of chunks, each a 2-byte little-endian
// length and that many bytes (the last one may be short). Lets one input
// carry several packets, so stateful receivers (a queue pair, a monitor)
// are fuzzed across packets, not only one at a time.
class Chunks {
 public:
  Chunks(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  std::optional<std::span<const uint8_t>> Next() {
    if (size_ - pos_ < 2) return std::nullopt;
    size_t len = data_[pos_] | (size_t{data_[pos_ + 1]} << 8);
    pos_ += 2;
    if (len > size_ - pos_) len = size_ - pos_;
    std::span<const uint8_t> chunk(data_ + pos_, len);
    pos_ += len;
    return chunk;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Parses a JSON text the way the config loader does (no exceptions out);
// nullopt for bytes that are not JSON.
inline std::optional<nlohmann::json> ParseJson(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

}  // namespace softfino::fuzz
