#include "softfino/dta/append.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "softfino/dta/region.h"
#include "softfino/net/dta.h"

namespace softfino::dta {

namespace {

// Head counters of all lists, padded so the rings start on a cache line.
uint64_t HeadsBytes(uint32_t lists) { return (uint64_t{lists} * kAppendHeadBytes + 63) / 64 * 64; }

}  // namespace

AppendLayout::AppendLayout(uint32_t lists, uint64_t entries, uint32_t batch, uint32_t head_interval)
    : lists_(lists),
      entries_(entries),
      batch_(batch),
      head_interval_(head_interval),
      heads_bytes_(HeadsBytes(lists)) {}

absl::StatusOr<AppendLayout> AppendLayout::Create(uint32_t lists, uint64_t entries, uint32_t batch,
                                                  uint32_t head_interval) {
  if (lists < 1 || lists > (1u << 20)) {
    return absl::InvalidArgumentError(absl::StrCat("Append lists is ", lists, "; use 1 to 2^20"));
  }
  if (batch == 0 || batch > kMaxAppendBatch || (batch & (batch - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Append batch is ", batch, "; use 1, 2, 4, 8 or 16 reports per WRITE"));
  }
  if (head_interval < 1) {
    return absl::InvalidArgumentError(
        "Append head_interval is 0; use 1 or more batches per head publication");
  }
  if (entries == 0 || (entries & (entries - 1)) != 0 || entries > (uint64_t{1} << 30) ||
      entries <= uint64_t{batch} * head_interval) {
    return absl::InvalidArgumentError(
        absl::StrCat("Append entries per list is ", entries,
                     "; use a power of two up to 2^30 and above batch * head_interval (",
                     uint64_t{batch} * head_interval,
                     "): that many entries may be written before the head says so"));
  }
  return AppendLayout(lists, entries, batch, head_interval);
}

void AppendLayout::PutEntries(std::span<const uint32_t> values, uint8_t* out) {
  for (uint32_t v : values) {
    net::DtaStore32(out, v);
    out += kAppendEntryBytes;
  }
}

void AppendLayout::PutHead(uint64_t position, uint8_t* out) {
  const uint64_t le = rte_cpu_to_le_64(position);
  std::memcpy(out, &le, kAppendHeadBytes);
}

absl::Status AppendLayout::CheckRegion(std::span<const uint8_t> memory) const {
  return CheckRegionMemory(memory, bytes(), "Append");
}

uint64_t AppendLayout::Head(std::span<const uint8_t> memory, uint32_t list) const {
  return rte_le_to_cpu_64(LoadU64Acquire(memory.data() + HeadOffset(list)));
}

AppendRead AppendLayout::ReadSince(std::span<const uint8_t> memory, uint32_t list,
                                   uint64_t position, std::vector<uint32_t>* out) const {
  AppendRead read{position, 0, false};
  if (list >= lists_ || memory.size() < bytes()) return read;
  // Entries at positions below head + margin - entries() may be being
  // overwritten: the writer may be up to margin entries past a head.
  const uint64_t margin = uint64_t{batch_} * head_interval_;
  const auto oldest_safe = [&](uint64_t head) {
    return head + margin > entries_ ? head + margin - entries_ : 0;
  };
  const uint64_t head = Head(memory, list);
  if (head < position) {
    read.reset = true;
    position = 0;
  }
  const uint64_t start = std::max(position, oldest_safe(head));
  read.lost = start - position;
  const size_t first = out->size();
  const uint8_t* ring = memory.data() + EntryOffset(list, 0);
  for (uint64_t p = start; p < head; ++p) {
    out->push_back(net::DtaLoad32(ring + (p & (entries_ - 1)) * kAppendEntryBytes));
  }
  // The copies above must be done before the head is read again.
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  const uint64_t head_after = Head(memory, list);
  if (head_after < head) {
    // Restarted while we read: nothing copied can be trusted.
    out->resize(first);
    return {0, 0, true};
  }
  // What the writer reached meanwhile is lost; entries between the two
  // safe bounds beyond `head` are counted by the next call.
  const uint64_t overwritten = std::min(oldest_safe(head_after), head);
  if (overwritten > start) {
    out->erase(out->begin() + static_cast<ptrdiff_t>(first),
               out->begin() + static_cast<ptrdiff_t>(first + (overwritten - start)));
    read.lost += overwritten - start;
  }
  read.next = head;
  return read;
}

}  // namespace softfino::dta
