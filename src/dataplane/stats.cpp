#include "softfino/dataplane/stats.h"

namespace softfino::dataplane {

uint64_t StatsSnapshot::received() const {
  uint64_t n = 0;
  for (const auto& p : ports) n += p.rx_packets;
  return n;
}

uint64_t StatsSnapshot::copies() const {
  uint64_t n = 0;
  for (const auto& p : pipes) n += p.copies;
  return n;
}

uint64_t StatsSnapshot::generated() const {
  uint64_t n = 0;
  for (const auto& p : pipes) n += p.generated;
  return n;
}

uint64_t StatsSnapshot::forwarded() const {
  uint64_t n = 0;
  for (const auto& p : ports) n += p.tx_packets;
  return n;
}

uint64_t StatsSnapshot::dropped() const {
  uint64_t n = 0;
  for (uint64_t d : drops) n += d;
  return n;
}

}  // namespace softfino::dataplane
