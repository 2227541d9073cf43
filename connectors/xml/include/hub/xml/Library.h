#pragma once

namespace hub::xml {

/// Process-wide libxml2 setup, done once and thread-safely.
///
/// Calls xmlInitParser() (libxml2 requires it before concurrent use from
/// several threads) and installs libxml2's no-network external entity
/// loader, so nothing parsed through libxml2 in this process (schemas'
/// xs:include/xs:import included) can fetch http:// or ftp:// resources.
/// Every entry point of hub::xml calls this itself; calling it early from the
/// main thread is harmless and makes the first parse cheaper.
void initialize();

}  // namespace hub::xml
