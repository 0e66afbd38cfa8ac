#pragma once
// Where the bulk of a request travels: in the socket messages themselves (i-PI's unix and inet modes), or in
// shared-memory segments named over the socket (mode='shm', shm_messages.hpp). The driver session
// (driver_session.cpp) runs the same state machine over either; only these two steps differ.

#include "client_protocol/transport.hpp"
#include "client_protocol/wire_messages.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace gapd {

enum class PayloadRoute {
    Socket,        // <ffsocket mode='unix'> or mode='inet'
    SharedMemory,  // <ffsocket mode='shm'> (a UNIX socket plus POSIX shared memory, same machine only)
};

class PayloadChannel {
public:
    virtual ~PayloadChannel() = default;
    // Reads the rest of a POSDATA (its header already read) and returns `batch` structures. check_natoms
    // throws when the atom count is not the engine's; it is called before anything sized by it is read.
    virtual std::vector<wire::WireStructure> read_posdata(Transport& transport, std::size_t batch,
                                                          const std::function<void(std::size_t)>& check_natoms) = 0;
    // The FORCEREADY message for `results`, to be written as one buffer. Shared memory: the numbers are
    // stored in the segments first, so i-PI never sees the header before them.
    virtual wire::Bytes forceready(const std::vector<wire::WireResult>& results) = 0;
};

// One per connection: shared-memory segments belong to the connection that named them.
std::unique_ptr<PayloadChannel> make_payload_channel(PayloadRoute route);

}  // namespace gapd
