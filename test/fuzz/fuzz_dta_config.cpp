// DTA's configuration inputs: the collector's --dta-layout file and the
// translator's and reporter's config sections (dta/layout.h
// ParseLayoutConfig, pipelines/dta_*/..._config.h). The first byte picks
// the parser; the rest is JSON.
//
// Invariant: an accepted layout config either builds a Layout or is refused
// with a message; the regions it asks for are named and non-empty.
#include "nlohmann/json.hpp"
#include "pipelines/dta_reporter/reporter_config.h"
#include "pipelines/dta_translator/translator_config.h"
#include "softfino/dta/layout.h"
#include "softfino/pipe/program.h"
#include "test/fuzz/fuzz_util.h"

namespace dta = softfino::dta;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::optional<nlohmann::json> j = softfino::fuzz::ParseJson(data + 1, size - 1);
  if (!j) return 0;
  switch (data[0] % 3) {
    case 0:
      if (auto c = dta::ParseLayoutConfig(*j); c.ok()) {
        if (auto layout = dta::Layout::Create(*c); layout.ok()) {
          for (const dta::RegionSize& r : layout->Regions()) {
            FUZZ_CHECK(!r.name.empty() && r.bytes > 0);
          }
        } else {
          FUZZ_CHECK(!layout.status().message().empty());
        }
      }
      break;
    case 1:
      (void)softfino::pipelines::ParseTranslatorConfig(*j);
      break;
    case 2:
      (void)softfino::pipelines::ParseReporterConfig(*j, softfino::pipe::SwitchInfo(8, 2));
      break;
  }
  return 0;
}
