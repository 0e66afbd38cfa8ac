#pragma once
// One i-PI request (one structure, or a batch) through a ForceEngine, whatever carried it: socket, shared
// memory or MPI all hand the same structures here and send back what it returns.

#include "client_protocol/force_engine.hpp"
#include "client_protocol/wire_messages.hpp"

#include <cstddef>
#include <vector>

namespace gapd {

// The results of `structures` (natoms atoms each), in atomic units, ready for any reply layout. A structure
// equal to the one before it reuses its result: i-PI pads short batches by repeating the last structure; the
// distinct structures of a batch go to ForceEngine::compute_batch together.
// Errors of the engine are thrown as std::runtime_error("force engine failed: ...").
std::vector<wire::WireResult> compute_requests(ForceEngine& engine, const std::vector<wire::WireStructure>& structures,
                                               std::size_t natoms);

}  // namespace gapd
