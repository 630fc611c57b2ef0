// The queue-pair handshake (rdma/qp_params.h, rdma/handshake.h): the JSON
// hello a collector receives from any TCP client, and the reply a switch
// receives from a collector. Both are parsed by QpParamsFromJson.
//
// Invariant: accepted parameters are valid for their role
// (ValidateQpParams) and round-trip: QpParamsToJson then QpParamsFromJson
// gives them back unchanged.
#include "nlohmann/json.hpp"
#include "softfino/rdma/qp_params.h"
#include "test/fuzz/fuzz_util.h"

namespace rdma = softfino::rdma;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<nlohmann::json> j = softfino::fuzz::ParseJson(data, size);
  if (!j) return 0;
  for (rdma::QpRole role : {rdma::QpRole::kRequester, rdma::QpRole::kResponder}) {
    absl::StatusOr<rdma::QpParams> p = rdma::QpParamsFromJson(*j, role);
    if (!p.ok()) continue;
    FUZZ_CHECK(rdma::ValidateQpParams(*p, role).ok());
    absl::StatusOr<rdma::QpParams> again =
        rdma::QpParamsFromJson(rdma::QpParamsToJson(*p, role), role);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *p);
  }
  return 0;
}
