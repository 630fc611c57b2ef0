// The collector's vote over a key's redundant copies (Key-Write values,
// Postcarding paths): plurality, answered only with enough votes and no
// tie, as the DTA paper queries Key-Write (REFERENCE.md Decision).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

namespace softfino::dta {

struct VoteResult {
  bool decided = false;  // a unique winner with at least `threshold` votes
  int winner = -1;       // index into the candidates of one winning value (-1 when none)
  uint8_t votes = 0;     // the winner's votes, also when not decided
};

// `candidates`: one per slot that passed its check (a few: at most
// kMaxCopies), compared with ==. `threshold` 0 counts as 1.
template <typename T>
VoteResult PluralityVote(std::span<const T> candidates, uint8_t threshold) {
  VoteResult result;
  bool tie = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto votes =
        static_cast<uint8_t>(std::count(candidates.begin(), candidates.end(), candidates[i]));
    if (votes > result.votes) {
      result.votes = votes;
      result.winner = static_cast<int>(i);
      tie = false;
    } else if (votes == result.votes && !(candidates[i] == candidates[result.winner])) {
      tie = true;
    }
  }
  result.decided = result.votes > 0 && !tie && result.votes >= std::max<uint8_t>(threshold, 1);
  return result;
}

}  // namespace softfino::dta
