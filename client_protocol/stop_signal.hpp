#pragma once
// SIGINT/SIGTERM as a polite stop request. The handler only bumps a lock-free counter (async-signal-safe);
// the driver session polls it between messages, so a request in progress is finished before leaving.

namespace gapd {

// SIGINT and SIGTERM increment the stop counter; installed without SA_RESTART so that a blocking poll()
// returns at once. SIGPIPE is ignored: a write to a closed socket must be an error, not a death.
void install_stop_handlers();

// Number of stop requests (signals) since the last clear_stop_requests().
int stop_requests() noexcept;

// Counts one stop request, exactly as a signal does (async-signal-safe).
void request_stop() noexcept;

void clear_stop_requests() noexcept;

}  // namespace gapd
