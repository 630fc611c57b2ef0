#include "softfino/dataplane/clock.h"

#include "absl/status/status.h"

namespace softfino::dataplane {

absl::StatusOr<RxTimestamp> RxTimestamp::Find() {
  const int offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
  if (offset < 0) {
    return absl::FailedPreconditionError(
        "--clock virtual needs ports that timestamp received packets (net_pcap does); "
        "use --clock real with these ports");
  }
  return RxTimestamp(offset);
}

bool RxTimestamp::Available() {
  return rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr) >= 0;
}

}  // namespace softfino::dataplane
