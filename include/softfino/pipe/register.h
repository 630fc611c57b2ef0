// TNA's Register<T, I>(size, initial) with its RegisterAction<T, I, R>: an
// array of cells that a packet reads, modifies and writes back in one step
// (the stateful-ALU contract: one cell, one read-modify-write, one returned
// value per packet and register), and that the control plane reads and
// writes between packets.
//
// Registers are per pipe, as on Tofino: each pipe (fast-path worker) owns
// its own array and is its only writer on the fast path, so an action needs
// no lock and no locked instruction. The control plane reads a cell of a
// pipe, or of every pipe (what bfrt returns after a register sync), while the
// pipes run.
//
// Index wrap: Tofino uses the low address bits of the index, so an index
// past the end wraps instead of faulting. Here each pipe's array is rounded
// up to a power of two (capacity() >= size()) and the index is masked: one
// AND per packet instead of a division (a modulo costs 20-40 cycles), and
// for the power-of-two sizes P4 programs nearly always use (indices are hash
// bits) it is exactly Tofino's wrap. With another size, indices in
// [size, capacity) land in spare cells that the control plane does not
// address; they are safe to write and Reset clears them too.
#pragma once

#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace softfino::pipe {

// T is the cell type: bit<8/16/32/64> (uint8_t ... uint64_t) or a pair of
// 32-bit halves as Tofino's paired registers (a trivially copyable struct of
// 8 bytes at most).
template <typename T>
class Register {
  static_assert(std::is_trivially_copyable_v<T>, "a register cell must be trivially copyable");
  static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8,
                "a register cell is 1, 2, 4 or 8 bytes, as a Tofino stateful ALU word");
  // Whole-cell reads and writes by the control plane while the pipe runs
  // rely on this: an aligned word of up to 8 bytes is moved by one
  // instruction, so a reader never sees half of an update.
  static_assert(std::atomic_ref<T>::is_always_lock_free);
  static_assert(std::atomic_ref<T>::required_alignment <= sizeof(T));

 public:
  // `size` cells per pipe, for `pipes` pipes, each set to `initial`. Memory
  // comes from DPDK (hugepages when the switch has them, so large registers
  // cost few TLB misses) on `socket`.
  static absl::StatusOr<std::unique_ptr<Register>> Create(absl::string_view name, uint32_t size,
                                                          uint16_t pipes, T initial = T{},
                                                          int socket = SOCKET_ID_ANY) {
    if (size == 0 || size > (1u << 31)) {
      return absl::InvalidArgumentError(absl::StrCat("register '", name, "': size ", size,
                                                     " is out of range; give 1 to 2^31 cells"));
    }
    if (pipes == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("register '", name, "': needs at least one pipe"));
    }
    std::unique_ptr<Register> reg(new Register(name, size, pipes, initial));
    const size_t bytes = size_t{reg->capacity()} * sizeof(T);
    for (uint16_t p = 0; p < pipes; ++p) {
      void* mem = rte_malloc_socket(reg->name_.c_str(), bytes, RTE_CACHE_LINE_SIZE, socket);
      if (mem == nullptr) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "register '", name, "': cannot allocate ", bytes, " bytes for pipe ", p,
            "; give DPDK more memory (EAL -m or more hugepages) or make the register smaller"));
      }
      reg->cells_[p] = static_cast<T*>(mem);
    }
    reg->Reset();
    return reg;
  }

  ~Register() {
    for (T* cells : cells_) rte_free(cells);
  }
  Register(const Register&) = delete;
  Register& operator=(const Register&) = delete;

  const std::string& name() const { return name_; }
  uint32_t size() const { return size_; }
  uint32_t capacity() const { return mask_ + 1; }
  uint16_t pipes() const { return static_cast<uint16_t>(cells_.size()); }
  T initial() const { return initial_; }

  // The cells of one pipe, capacity() of them, for code of that pipe that
  // walks them itself. Anything else goes through Execute.
  T* pipe_cells(uint16_t pipe) { return cells_[pipe]; }

  // RegisterAction.execute(index) on `pipe`: `action(T& cell)` sees the
  // cell's value, may change it, and returns the action's output (or
  // nothing). The new value is stored back whole once the action returns.
  // Fast path: inline, no checks beyond the index wrap; `pipe` must be
  // this register's and the calling thread that pipe's worker.
  template <typename F>
  inline auto Execute(uint16_t pipe, uint32_t index, F&& action) {
    T* cell = cells_[pipe] + (index & mask_);
    std::atomic_ref<T> ref(*cell);
    // The owner is the only writer, so a relaxed load and store (plain
    // moves on x86) are enough; the atomic_ref only keeps readers on other
    // threads from seeing torn values, and the compiler honest about it.
    T value = ref.load(std::memory_order_relaxed);
    if constexpr (std::is_void_v<std::invoke_result_t<F, T&>>) {
      action(value);
      ref.store(value, std::memory_order_relaxed);
    } else {
      auto out = action(value);
      ref.store(value, std::memory_order_relaxed);
      return out;
    }
  }

  // Control path. Reads see live values (no sync step is needed as on
  // Tofino: the cells are in ordinary memory), each cell whole. A write that
  // races a packet's action on the same cell may be lost to the action's
  // write-back, as a control-plane write racing the data plane is on
  // hardware; it is never torn.
  absl::StatusOr<T> Read(uint16_t pipe, uint32_t index) const {
    if (absl::Status s = Check(pipe, index); !s.ok()) return s;
    return Load(pipe, index);
  }

  // One value per pipe, pipe 0 first: what bfrt returns for a register
  // entry read from hardware with the sync flag.
  absl::StatusOr<std::vector<T>> ReadAllPipes(uint32_t index) const {
    if (absl::Status s = Check(0, index); !s.ok()) return s;
    std::vector<T> values(cells_.size());
    for (uint16_t p = 0; p < cells_.size(); ++p) values[p] = Load(p, index);
    return values;
  }

  absl::Status Write(uint16_t pipe, uint32_t index, T value) {
    if (absl::Status s = Check(pipe, index); !s.ok()) return s;
    Store(pipe, index, value);
    return absl::OkStatus();
  }

  absl::Status WriteAllPipes(uint32_t index, T value) {
    if (absl::Status s = Check(0, index); !s.ok()) return s;
    for (uint16_t p = 0; p < cells_.size(); ++p) Store(p, index, value);
    return absl::OkStatus();
  }

  // Every cell of every pipe (spare ones included) back to the initial
  // value.
  void Reset() {
    for (uint16_t p = 0; p < cells_.size(); ++p) {
      for (uint32_t i = 0; i <= mask_; ++i) Store(p, i, initial_);
    }
  }

 private:
  Register(absl::string_view name, uint32_t size, uint16_t pipes, T initial)
      : name_(name),
        size_(size),
        mask_(std::bit_ceil(size) - 1),
        initial_(initial),
        cells_(pipes, nullptr) {}

  absl::Status Check(uint16_t pipe, uint32_t index) const {
    if (pipe >= cells_.size()) {
      return absl::OutOfRangeError(absl::StrCat("register '", name_, "': pipe ", pipe,
                                                " does not exist; valid pipes are 0..",
                                                cells_.size() - 1));
    }
    if (index >= size_) {
      return absl::OutOfRangeError(absl::StrCat("register '", name_, "': index ", index,
                                                " is out of range; valid indices are 0..",
                                                size_ - 1));
    }
    return absl::OkStatus();
  }
  T Load(uint16_t pipe, uint32_t index) const {
    return std::atomic_ref<T>(cells_[pipe][index]).load(std::memory_order_relaxed);
  }
  void Store(uint16_t pipe, uint32_t index, T value) {
    std::atomic_ref<T>(cells_[pipe][index]).store(value, std::memory_order_relaxed);
  }

  std::string name_;
  uint32_t size_;
  uint32_t mask_;  // capacity - 1
  T initial_;
  std::vector<T*> cells_;  // one array per pipe
};

}  // namespace softfino::pipe
