#pragma once
// `gapd serve --connections N`: N concurrent i-PI connections to the same address in one process, sharing one
// loaded (read-only) model. See docs/serving.md.

#include "client_protocol/driver_session.hpp"
#include "client_protocol/force_engine.hpp"
#include "client_protocol/transport.hpp"

#include <vector>

namespace gapd {

// Runs run_driver for every engine at once, each in its own thread with its own engine (and so its own
// workspace), its own socket and threads[k] OpenMP threads. Each connection keeps run_driver's semantics on
// its own: EXIT, a stop signal or an error ends it, a loss of i-PI makes it reconnect (options.reconnect).
// Log lines go to options.log tagged "[conn k/N]". Returns when the last connection has ended: kExitOk if
// every connection ended with kExitOk, otherwise the largest exit code among them.
int run_connections(const ConnectionOptions& connection, const std::vector<ForceEngine*>& engines,
                    const std::vector<int>& threads, const DriverOptions& options);

}  // namespace gapd
