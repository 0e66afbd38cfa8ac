#pragma once
// The i-PI client state machine: answers STATUS, takes INIT, computes each POSDATA with a ForceEngine and
// returns FORCEREADY, in i-PI's default (POSDATA+GETFORCE fused), legacy and batched variants, with the arrays
// in the socket messages or in shared memory (payload_channel.hpp).
// See docs/protocol.md for the behaviour on EXIT, loss of i-PI, signals and errors.

#include "client_protocol/force_engine.hpp"
#include "client_protocol/payload_channel.hpp"
#include "client_protocol/transport.hpp"

#include <iostream>
#include <ostream>
#include <string>

namespace gapd {

inline constexpr double kDefaultMessageTimeoutS = 600;
// After a stop request, how long a request in progress may wait for i-PI (the rest of its POSDATA, its
// GETFORCE) before it is given up: the data may never come, and one signal must end gapd.
inline constexpr double kDefaultStopGraceS = 2.0;

struct DriverOptions {
    bool verbose = false;            // a line per request and per protocol event, not just connection events
    bool reconnect = true;           // when i-PI vanishes without EXIT, wait for it again (connect_timeout_s)
    std::ostream* log = &std::cerr;  // destination of the "gapd: ..." lines (nullptr: std::cerr)
    std::string atoms_source = "the template";  // where the engine's atoms come from, for a count mismatch
    // Longest pause i-PI may make in the middle of a message (or before taking the next byte of a reply)
    // before the connection counts as stalled: error, exit 1. Between messages i-PI may be silent forever.
    double message_timeout_s = kDefaultMessageTimeoutS;
    double stop_grace_s = kDefaultStopGraceS;  // see kDefaultStopGraceS (tests and the fuzzer shorten it)
    PayloadRoute payload = PayloadRoute::Socket;  // where positions and forces travel (payload_channel.hpp)
};

// Exit codes returned by run_driver.
inline constexpr int kExitOk = 0;            // EXIT from i-PI, or stopped by SIGINT/SIGTERM between requests
inline constexpr int kExitError = 1;         // protocol violation, bad data, engine failure, i-PI gone for good,
                                             // stalled i-PI, a request abandoned on a stop request
inline constexpr int kExitNoConnection = 2;  // could not (re)connect in time, or unusable connection options

enum class SessionEnd {
    Exit,     // i-PI sent EXIT
    Stopped,  // stop requested (stop_signal.hpp); the request in progress was answered first
    Abandoned,  // stop requested, and a request in progress was given up (its reply never begun)
    Lost,     // i-PI closed or reset the connection without EXIT
};

// Serves i-PI on one connected transport (reads stop_requests() for signals). Every way out closes the
// transport gracefully. Fatal errors (protocol violation, natoms mismatch, non-finite data, engine failure)
// are thrown as std::exception after the close.
SessionEnd serve_connection(Transport& transport, ForceEngine& engine, const DriverOptions& options);

// Connects with retry, serves, reconnects after a loss if options.reconnect; returns a kExit* code.
// Errors are reported on options.log as one "gapd: error: ..." line.
int run_driver(const ConnectionOptions& connection, ForceEngine& engine, const DriverOptions& options);

}  // namespace gapd
