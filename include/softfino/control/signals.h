// SIGINT/SIGTERM ask the switch to stop; the slow path polls for it.
#pragma once

namespace softfino::control {

void InstallStopSignalHandlers();
bool StopRequested();

}  // namespace softfino::control
