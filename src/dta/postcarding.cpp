#include "softfino/dta/postcarding.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "softfino/dta/region.h"
#include "softfino/dta/vote.h"
#include "softfino/net/dta.h"

namespace softfino::dta {

net::CrcSpec PostcardingLayout::HopCrcSpec(int hop) {
  net::CrcSpec spec;
  spec.width = 32;
  spec.poly = kHopPolyCoefficients[hop] | 1;
  spec.init = 0xffffffff;
  spec.reflect_in = spec.reflect_out = true;
  spec.xor_out = 0xffffffff;
  return spec;
}

absl::StatusOr<PostcardingLayout> PostcardingLayout::Create(uint64_t slots, uint8_t copies) {
  if (absl::Status s = CheckSlotCount(slots, "Postcarding slots"); !s.ok()) return s;
  if (copies < 1 || copies > kMaxCopies) {
    return absl::InvalidArgumentError(
        absl::StrCat("Postcarding copies is ", int{copies}, "; use 1 to ", kMaxCopies));
  }
  absl::StatusOr<KeyHash> hash = KeyHash::Create();
  if (!hash.ok()) return hash.status();
  std::vector<net::Crc> hop_crcs;
  for (int hop = 0; hop < kPostcardHops; ++hop) {
    absl::StatusOr<net::Crc> crc = net::Crc::Create(HopCrcSpec(hop));
    if (!crc.ok()) return crc.status();
    hop_crcs.push_back(*std::move(crc));
  }
  return PostcardingLayout(*std::move(hash), std::move(hop_crcs), slots - 1, copies);
}

void PostcardingLayout::PutEncodedPath(const PostcardHops& encoded, uint8_t* out) {
  for (int hop = 0; hop < kPostcardHops; ++hop) net::DtaStore32(out + 4 * hop, encoded[hop]);
}

std::array<uint8_t, kPostcardPathBytes> PostcardingLayout::PathBytes(
    uint32_t key, const PostcardHops& hops) const {
  PostcardHops encoded;
  for (int hop = 0; hop < kPostcardHops; ++hop) encoded[hop] = EncodeHop(key, hop, hops[hop]);
  std::array<uint8_t, kPostcardPathBytes> out;
  PutEncodedPath(encoded, out.data());
  return out;
}

absl::Status PostcardingLayout::CheckRegion(std::span<const uint8_t> memory) const {
  return CheckRegionMemory(memory, bytes(), "Postcarding");
}

PostcardCopy PostcardingLayout::Decode(const uint8_t* slot, uint32_t key,
                                       absl::FunctionRef<bool(uint32_t)> known) const {
  PostcardCopy copy;
  bool all_known = true;
  for (int hop = 0; hop < kPostcardHops; ++hop) {
    const uint32_t value = net::DtaLoad32(slot + 4 * hop) ^ HopMask(key, hop);
    copy.hops[hop] = value;
    if (value != kBlankHop) {
      copy.length = hop + 1;
      all_known &= known(value);
    }
  }
  copy.valid = all_known && copy.length > 0;
  return copy;
}

PostcardAnswer PostcardingLayout::Query(std::span<const uint8_t> memory, uint32_t key,
                                        uint8_t copies, absl::FunctionRef<bool(uint32_t)> known,
                                        uint8_t threshold) const {
  PostcardAnswer answer;
  answer.hops.fill(kBlankHop);
  if (copies == 0 || copies > copies_ || memory.size() < bytes()) return answer;
  std::array<uint64_t, kMaxCopies> slots;
  const int distinct = hash_.DistinctSlots(key, copies, mask_, slots);
  // The valid copies' paths, voted on whole.
  PostcardHops paths[kMaxCopies];
  int lengths[kMaxCopies];
  int count = 0;
  for (int i = 0; i < distinct; ++i) {
    const PostcardCopy copy = Decode(memory.data() + slots[i] * kPostcardSlotBytes, key, known);
    if (!copy.valid) continue;
    paths[count] = copy.hops;
    lengths[count++] = copy.length;
  }
  answer.valid_copies = static_cast<uint8_t>(count);
  const VoteResult vote = PluralityVote(std::span<const PostcardHops>(paths, count), threshold);
  answer.votes = vote.votes;
  answer.found = vote.decided;
  if (vote.decided) {
    answer.hops = paths[vote.winner];
    answer.length = lengths[vote.winner];
  }
  return answer;
}

}  // namespace softfino::dta
