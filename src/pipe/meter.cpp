#include "softfino/pipe/meter.h"

#include <rte_malloc.h>

#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"

namespace softfino::pipe {
namespace {

const char* RateUnit(MeterType type) {
  return type == MeterType::kPackets ? "packets/s" : "bytes/s";
}
const char* BurstUnit(MeterType type) { return type == MeterType::kPackets ? "packets" : "bytes"; }

}  // namespace

absl::StatusOr<std::unique_ptr<Meter>> Meter::Create(absl::string_view name, uint32_t size,
                                                     MeterType type, uint16_t pipes,
                                                     MeterAlgorithm algorithm, int socket) {
  if (size == 0 || size > (1u << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("meter '", name, "': size ", size, " is out of range; give 1 to 2^31 cells"));
  }
  if (pipes == 0) {
    return absl::InvalidArgumentError(absl::StrCat("meter '", name, "': needs at least one pipe"));
  }
  std::unique_ptr<Meter> m(new Meter(name, size, type, algorithm, pipes));
  const size_t capacity = size_t{m->mask_} + 1;
  auto out_of_memory = [&](size_t bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "meter '", name, "': cannot allocate ", bytes,
        " bytes; give DPDK more memory (EAL -m or more hugepages) or make the meter smaller"));
  };
  // Zeroed cells are unconfigured and at generation 0; published version 0
  // means never configured.
  for (uint16_t p = 0; p < pipes; ++p) {
    void* mem =
        rte_zmalloc_socket(m->name_.c_str(), capacity * sizeof(Cell), RTE_CACHE_LINE_SIZE, socket);
    if (mem == nullptr) return out_of_memory(capacity * sizeof(Cell));
    m->cells_[p] = static_cast<Cell*>(mem);
  }
  void* mem = rte_zmalloc_socket(m->name_.c_str(), capacity * sizeof(Published),
                                 RTE_CACHE_LINE_SIZE, socket);
  if (mem == nullptr) return out_of_memory(capacity * sizeof(Published));
  m->published_ = static_cast<Published*>(mem);
  for (size_t i = 0; i < capacity; ++i) new (&m->published_[i]) Published{};
  return m;
}

Meter::Meter(absl::string_view name, uint32_t size, MeterType type, MeterAlgorithm algorithm,
             uint16_t pipes)
    : name_(name),
      size_(size),
      mask_(std::bit_ceil(size) - 1),
      type_(type),
      algorithm_(algorithm),
      cells_(pipes, nullptr) {}

Meter::~Meter() {
  for (Cell* cells : cells_) rte_free(cells);
  rte_free(published_);
}

absl::Status Meter::Check(uint32_t index) const {
  if (index >= size_) {
    return absl::OutOfRangeError(absl::StrCat("meter '", name_, "': index ", index,
                                              " is out of range; valid indices are 0..",
                                              size_ - 1));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> Meter::Compile(const MeterProfile& p) const {
  const char* rate = RateUnit(type_);
  const char* burst = BurstUnit(type_);
  auto error = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("meter '", name_, "': ", parts...));
  };
  std::vector<uint64_t> words(6, 0);
  if (p.cir == 0) return error("CIR must be above 0 ", rate);
  if (algorithm_ == MeterAlgorithm::kTrTcm) {
    if (p.pir < p.cir) {
      return error("PIR (", p.pir, " ", rate, ") must be at least CIR (", p.cir, " ", rate, ")");
    }
    if (p.cbs == 0 || p.pbs == 0) {
      return error("CBS (", p.cbs, ") and PBS (", p.pbs, ") must both be above 0 ", burst,
                   "; a burst smaller than the largest packet makes every such packet RED");
    }
    rte_meter_trtcm_params params{p.cir, p.pir, p.cbs, p.pbs};
    rte_meter_trtcm_profile profile;
    if (const int rc = rte_meter_trtcm_profile_config(&profile, &params); rc != 0) {
      return error("DPDK refused the trTCM profile (error ", rc, ")");
    }
    std::memcpy(words.data(), &profile, sizeof(profile));
  } else {
    if (p.pir != 0) return error("srTCM has no PIR; leave pir 0 (pbs is EBS)");
    if (p.cbs == 0 && p.pbs == 0) {
      return error("CBS and EBS (pbs) are both 0 ", burst, "; at least one must be above 0");
    }
    rte_meter_srtcm_params params{p.cir, p.cbs, p.pbs};
    rte_meter_srtcm_profile profile;
    if (const int rc = rte_meter_srtcm_profile_config(&profile, &params); rc != 0) {
      return error("DPDK refused the srTCM profile (error ", rc, ")");
    }
    std::memcpy(words.data(), &profile, sizeof(profile));
  }
  return words;
}

absl::Status Meter::Publish(uint32_t index, const MeterProfile& profile, const uint64_t* words) {
  Published& pub = published_[index];
  // Sequence lock, single writer: odd while the words change, so a pipe
  // reading concurrently sees the version move and retries later.
  const uint64_t v = pub.version.load(std::memory_order_relaxed);
  pub.version.store(v + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (int w = 0; w < 6; ++w) pub.words[w].store(words[w], std::memory_order_relaxed);
  pub.version.store(v + 2, std::memory_order_release);
  pub.params = profile;
  return absl::OkStatus();
}

absl::Status Meter::Configure(uint32_t index, const MeterProfile& profile) {
  if (absl::Status s = Check(index); !s.ok()) return s;
  absl::StatusOr<std::vector<uint64_t>> words = Compile(profile);
  if (!words.ok()) return words.status();
  if (absl::Status s = Publish(index, profile, words->data()); !s.ok()) return s;
  generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Meter::ConfigureAll(const MeterProfile& profile) {
  absl::StatusOr<std::vector<uint64_t>> words = Compile(profile);
  if (!words.ok()) return words.status();
  // Spare cells past size() too, so a wrapped index meters like the rest.
  for (uint32_t i = 0; i <= mask_; ++i) {
    if (absl::Status s = Publish(i, profile, words->data()); !s.ok()) return s;
  }
  generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<MeterProfile> Meter::Profile(uint32_t index) const {
  if (absl::Status s = Check(index); !s.ok()) return s;
  const Published& pub = published_[index];
  if (pub.version.load(std::memory_order_relaxed) == 0) {
    return absl::NotFoundError(
        absl::StrCat("meter '", name_, "': index ", index, " has not been configured"));
  }
  return pub.params;
}

absl::Status Meter::Reset(uint32_t index) {
  absl::StatusOr<MeterProfile> profile = Profile(index);
  if (!profile.ok()) return profile.status();
  return Configure(index, *profile);
}

void Meter::Refresh(Cell& c, uint32_t i, uint64_t now, uint64_t generation) {
  const Published& pub = published_[i];
  const uint64_t v1 = pub.version.load(std::memory_order_acquire);
  if (v1 & 1) return;  // being written: try again on the next packet
  if (v1 != c.applied_version) {
    uint64_t words[6];
    for (int w = 0; w < 6; ++w) words[w] = pub.words[w].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (pub.version.load(std::memory_order_relaxed) != v1) return;  // torn: retry
    if (algorithm_ == MeterAlgorithm::kTrTcm) {
      std::memcpy(&c.profile.tr, words, sizeof(c.profile.tr));
      rte_meter_trtcm_config(&c.ctx.tr, &c.profile.tr);
      // rte_meter starts the clock at the TSC; start it at the caller's
      // clock instead, which may be virtual time.
      c.ctx.tr.time_tc = c.ctx.tr.time_tp = now;
    } else {
      std::memcpy(&c.profile.sr, words, sizeof(c.profile.sr));
      rte_meter_srtcm_config(&c.ctx.sr, &c.profile.sr);
      c.ctx.sr.time = now;
    }
    c.applied_version = v1;
    c.configured = true;
  }
  c.seen_generation = generation;
}

}  // namespace softfino::pipe
