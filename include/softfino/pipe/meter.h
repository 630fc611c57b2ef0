// TNA's Meter<I>(size, MeterType_t): per-index rate meters that color each
// packet GREEN, YELLOW or RED; by default the two-rate three-color marker of
// RFC 2698 (trTCM) as on Tofino, optionally the single-rate one of RFC 2697
// (srTCM). Built on DPDK's rte_meter: one run-time context per cell per
// pipe, each pipe the only writer of its cells.
//
// Rates are bytes per second and bursts bytes for BYTES meters. rte_meter
// only counts bytes, so a PACKETS meter feeds it 1 "byte" per packet: its
// rates are then packets per second and its bursts packets.
//
// Time: Execute takes `now` in TSC cycles, because rte_meter profiles are
// computed with rte_get_tsc_hz() cycles per second. The switch passes the
// TSC when live, or its virtual time converted to cycles
// (ns * rte_get_tsc_hz() / 1e9) when replaying; within a pipe `now` must not
// go backwards.
//
// Configuration never writes a pipe's cells (that would race its
// read-modify-write): the control plane publishes the new profile of an
// index under a sequence number and bumps the meter's generation; a pipe
// that sees a new generation when it meters that index takes the profile
// over (buckets full, clock started at that packet's `now`). In steady state
// that costs a pipe one load of a read-mostly word and one compare per
// packet. An index never configured colors everything GREEN, like a meter
// without a limit.
#pragma once

#include <rte_common.h>
#include <rte_memory.h>
#include <rte_meter.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace softfino::pipe {

// MeterType_t.
enum class MeterType : uint8_t { kPackets, kBytes };

// MeterColor_t, with TNA's encoding.
enum class MeterColor : uint8_t { kGreen = 0, kYellow = 1, kRed = 3 };

enum class MeterAlgorithm : uint8_t {
  kTrTcm,  // RFC 2698: CIR/CBS and PIR/PBS buckets (Tofino's meters)
  kSrTcm,  // RFC 2697: CIR with CBS and EBS buckets
};

// One index's parameters. Units: see the top of this file.
struct MeterProfile {
  uint64_t cir = 0;  // committed rate
  uint64_t pir = 0;  // peak rate (trTCM only)
  uint64_t cbs = 0;  // committed burst
  uint64_t pbs = 0;  // peak burst (trTCM) or excess burst EBS (srTCM)
  bool operator==(const MeterProfile&) const = default;
};

class Meter {
 public:
  static absl::StatusOr<std::unique_ptr<Meter>> Create(
      absl::string_view name, uint32_t size, MeterType type, uint16_t pipes,
      MeterAlgorithm algorithm = MeterAlgorithm::kTrTcm, int socket = SOCKET_ID_ANY);
  ~Meter();
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  const std::string& name() const { return name_; }
  uint32_t size() const { return size_; }
  MeterType type() const { return type_; }
  MeterAlgorithm algorithm() const { return algorithm_; }
  uint16_t pipes() const { return static_cast<uint16_t>(cells_.size()); }

  // execute(index): colors a packet of `bytes` bytes (ignored by PACKETS
  // meters) arriving at `now` (TSC cycles), color-blind. Fast path; the
  // calling thread must be `pipe`'s worker. The index wraps as Register's.
  MeterColor Execute(uint16_t pipe, uint32_t index, uint64_t now, uint32_t bytes) {
    Cell& c = Prepare(pipe, index, now);
    if (!c.configured) return MeterColor::kGreen;
    const uint32_t len = type_ == MeterType::kPackets ? 1 : bytes;
    const rte_color color =
        algorithm_ == MeterAlgorithm::kTrTcm
            ? rte_meter_trtcm_color_blind_check(&c.ctx.tr, &c.profile.tr, now, len)
            : rte_meter_srtcm_color_blind_check(&c.ctx.sr, &c.profile.sr, now, len);
    return ToTna(color);
  }

  // execute(index, color): color-aware, a packet already `pre_color` can
  // only keep or worsen its color (RFC 2698/2697 color-aware mode).
  MeterColor ExecuteColorAware(uint16_t pipe, uint32_t index, uint64_t now, uint32_t bytes,
                               MeterColor pre_color) {
    Cell& c = Prepare(pipe, index, now);
    if (!c.configured) return pre_color;
    const uint32_t len = type_ == MeterType::kPackets ? 1 : bytes;
    const rte_color in = pre_color == MeterColor::kGreen    ? RTE_COLOR_GREEN
                         : pre_color == MeterColor::kYellow ? RTE_COLOR_YELLOW
                                                            : RTE_COLOR_RED;
    const rte_color color =
        algorithm_ == MeterAlgorithm::kTrTcm
            ? rte_meter_trtcm_color_aware_check(&c.ctx.tr, &c.profile.tr, now, len, in)
            : rte_meter_srtcm_color_aware_check(&c.ctx.sr, &c.profile.sr, now, len, in);
    return ToTna(color);
  }

  // Control path (one thread at a time). Sets the profile of `index` on
  // every pipe; the error says which parameter is wrong (e.g. PIR < CIR).
  absl::Status Configure(uint32_t index, const MeterProfile& profile);
  absl::Status ConfigureAll(const MeterProfile& profile);
  // The profile last configured at `index`; NotFound if none.
  absl::StatusOr<MeterProfile> Profile(uint32_t index) const;
  // Refills every pipe's buckets of `index` (by republishing its profile).
  absl::Status Reset(uint32_t index);

 private:
  // One pipe's state of one index: rte_meter's context and the profile the
  // pipe took over, side by side so a packet touches two adjacent lines.
  struct alignas(64) Cell {
    union {
      rte_meter_trtcm tr;
      rte_meter_srtcm sr;
    } ctx;
    union {
      rte_meter_trtcm_profile tr;
      rte_meter_srtcm_profile sr;
    } profile;
    uint64_t applied_version;  // of the published profile; 0 = none
    uint64_t seen_generation;
    bool configured;
  };

  // The profile the control plane published for one index, under a
  // sequence lock: odd while being written. Read by pipes only when the
  // generation moved.
  struct alignas(64) Published {
    std::atomic<uint64_t> version;
    std::atomic<uint64_t> words[6];  // the rte_meter profile, as computed on the control path
    MeterProfile params;             // control side only, for Profile()
  };
  static_assert(sizeof(rte_meter_trtcm_profile) <= sizeof(uint64_t) * 6);
  static_assert(sizeof(rte_meter_srtcm_profile) <= sizeof(uint64_t) * 6);

  Meter(absl::string_view name, uint32_t size, MeterType type, MeterAlgorithm algorithm,
        uint16_t pipes);

  Cell& Prepare(uint16_t pipe, uint32_t index, uint64_t now) {
    const uint32_t i = index & mask_;
    Cell& c = cells_[pipe][i];
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    if (c.seen_generation != generation) [[unlikely]] {
      Refresh(c, i, now, generation);
    }
    return c;
  }
  // Takes over a newly published profile of index `i`, if there is one and
  // it was not torn; otherwise leaves the cell to retry on its next packet.
  void Refresh(Cell& c, uint32_t i, uint64_t now, uint64_t generation);
  absl::Status Publish(uint32_t index, const MeterProfile& profile, const uint64_t* words);
  absl::Status Check(uint32_t index) const;
  absl::StatusOr<std::vector<uint64_t>> Compile(const MeterProfile& profile) const;

  static MeterColor ToTna(rte_color color) {
    // rte_meter's GREEN, YELLOW, RED are 0, 1, 2; TNA's are 0, 1, 3.
    return static_cast<MeterColor>(color | (color >> 1));
  }

  std::string name_;
  uint32_t size_;
  uint32_t mask_;  // capacity - 1
  MeterType type_;
  MeterAlgorithm algorithm_;
  std::atomic<uint64_t> generation_{0};
  std::vector<Cell*> cells_;  // one array per pipe
  Published* published_ = nullptr;
};

}  // namespace softfino::pipe
