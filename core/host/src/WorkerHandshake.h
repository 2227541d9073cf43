#pragma once
// Private to core/host.

#include "WorkerProcess.h"

#include <string_view>

namespace hub::host {

/// The start-up of a worker (see WorkerProtocol.h): sends the plugin's config
/// over the control socket, closes the hub's writing side, and reads the
/// worker's line: "ready" returns; "error <message>" throws std::runtime_error
/// with the message, as does a worker that exits, closes the socket without a
/// word, talks nonsense, or is not ready by until (startTimeout after its start, as the message says). Never blocks
/// past until.
void handshake(WorkerProcess& worker, std::string_view config, Clock::time_point until,
               std::chrono::milliseconds startTimeout);

}  // namespace hub::host
