// The control plane's view of a program's registers and indexed counters,
// by the names the program declares (as bfrt names a P4 program's
// Register and Counter externs), so softfino-ctl can read, write, reset and
// clear them while the pipes run.
//
// Why no request queue to the pipes: Register and CounterArray already make
// control access safe without the worker's help. A register cell is 1..8
// bytes moved whole by std::atomic_ref (register.h), so a reader never sees
// half a value and a control write lands whole; the only race is a write
// meeting a packet's read-modify-write of the same cell, where one of the two
// wins, as on hardware. Counters are never written by the control plane:
// clearing records a baseline (counter_array.h). So nothing here adds work,
// a lock or a branch to the per-packet path.
//
// A program keeps its Register<T> and CounterArray objects and lists them
// here after Configure; the slow path calls this, one call at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "softfino/pipe/counter_array.h"
#include "softfino/pipe/register.h"

namespace softfino::pipe {

// One register seen through cells of up to 64 bits, whatever its width.
class RegisterAccess {
 public:
  virtual ~RegisterAccess() = default;
  virtual const std::string& name() const = 0;
  virtual uint32_t size() const = 0;
  virtual uint16_t pipes() const = 0;
  virtual uint32_t width_bits() const = 0;
  virtual uint64_t initial() const = 0;
  // Checked reads and writes (pipe and index in range); a value wider than
  // the register is refused by Write, never truncated.
  virtual absl::StatusOr<uint64_t> Read(uint16_t pipe, uint32_t index) const = 0;
  virtual absl::Status Write(uint16_t pipe, uint32_t index, uint64_t value) = 0;
  virtual void Reset() = 0;
};

template <typename T>
class RegisterAccessOf final : public RegisterAccess {
  static_assert(std::is_unsigned_v<T>,
                "only bit<W> registers (unsigned integer cells) are exposed to the control plane");

 public:
  explicit RegisterAccessOf(Register<T>& reg) : reg_(reg) {}
  const std::string& name() const override { return reg_.name(); }
  uint32_t size() const override { return reg_.size(); }
  uint16_t pipes() const override { return reg_.pipes(); }
  uint32_t width_bits() const override { return 8 * sizeof(T); }
  uint64_t initial() const override { return reg_.initial(); }
  absl::StatusOr<uint64_t> Read(uint16_t pipe, uint32_t index) const override {
    absl::StatusOr<T> v = reg_.Read(pipe, index);
    if (!v.ok()) return v.status();
    return uint64_t{*v};
  }
  absl::Status Write(uint16_t pipe, uint32_t index, uint64_t value) override {
    if (value > uint64_t{static_cast<T>(~T{0})}) {
      return absl::OutOfRangeError(
          absl::StrCat("register '", reg_.name(), "': value ", value, " does not fit its ",
                       width_bits(), " bits; give 0..", uint64_t{static_cast<T>(~T{0})}));
    }
    return reg_.Write(pipe, index, static_cast<T>(value));
  }
  void Reset() override { reg_.Reset(); }

 private:
  Register<T>& reg_;
};

class StatefulControl {
 public:
  // The objects must outlive this. Names must be unique among registers and
  // among counters: a duplicate is a programming error, reported.
  template <typename T>
  absl::Status AddRegister(Register<T>& reg) {
    return AddRegisterAccess(std::make_unique<RegisterAccessOf<T>>(reg));
  }
  absl::Status AddRegisterAccess(std::unique_ptr<RegisterAccess> reg);
  absl::Status AddCounter(CounterArray& counter);

  std::vector<std::string> RegisterNames() const;
  std::vector<std::string> CounterNames() const;
  // NotFound naming the known ones when `name` is not a register/counter.
  absl::StatusOr<RegisterAccess*> FindRegister(absl::string_view name) const;
  absl::StatusOr<CounterArray*> FindCounter(absl::string_view name) const;

 private:
  std::map<std::string, std::unique_ptr<RegisterAccess>, std::less<>> registers_;
  std::map<std::string, CounterArray*, std::less<>> counters_;
};

}  // namespace softfino::pipe
