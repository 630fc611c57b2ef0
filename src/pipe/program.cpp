#include "softfino/pipe/program.h"

#include "nlohmann/json.hpp"

namespace softfino::pipe {

nlohmann::json Program::Counters() const { return nullptr; }

}  // namespace softfino::pipe
