#pragma once
// gapd as a client rank of i-PI's <ffmpi> forcefield: i-PI and the gapd ranks are started together, as one
// MPI job (mpirun -n 1 i-pi input.xml : -n N gapd serve --mpi ...). mpi_messages.hpp has the protocol.
// Built only when CMake finds MPI (GAPD_MPI); otherwise run_mpi_client refuses with one line.

#include "client_protocol/force_engine.hpp"

#include <iostream>
#include <ostream>
#include <string>

namespace gapd {

// After a stop signal, how long the rank keeps answering while it waits for i-PI's EXIT. mpirun passes a
// SIGTERM to every rank: i-PI then finishes its step, writes its checkpoint and sends EXIT. A rank cannot
// leave an MPI job on its own, so when no EXIT comes the whole job is aborted.
inline constexpr double kDefaultMpiStopGraceS = 10.0;

struct MpiClientOptions {
    std::string name;                // i-PI's <ffmpi name>, as i-PI's own drivers take it (--mpi-name); "" = untagged
    bool verbose = false;            // a line per request
    std::ostream* log = &std::cerr;  // "gapd: ..." lines (nullptr: std::cerr)
    std::string atoms_source = "the template";  // for an atom-count mismatch
    double stop_grace_s = kDefaultMpiStopGraceS;
};

// Whether this build has the MPI client.
bool mpi_client_available();

// Initialises MPI, joins i-PI's job and serves until EXIT (then MPI_Finalize, kExitOk). Any error -- i-PI not
// rank 0, a protocol violation, a wrong atom count, an engine failure, a stop with no EXIT in time -- is
// logged as one "gapd: error: ..." line and aborts the MPI job (MPI_Abort): i-PI would otherwise wait for
// this rank for ever. Without MPI in the build, throws std::runtime_error at once.
int run_mpi_client(ForceEngine& engine, const MpiClientOptions& options);

}  // namespace gapd
