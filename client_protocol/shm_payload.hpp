#pragma once
// The shared-memory payload route (i-PI's <ffsocket mode='shm'>): maps the six segments i-PI names in the
// first POSDATA of a connection, reads positions and cells from them and writes energies, forces and virials
// into them. i-PI owns the segments (creates and unlinks them); gapd only maps and unmaps.

#include "client_protocol/payload_channel.hpp"
#include "client_protocol/shm_messages.hpp"

#include <array>
#include <cstddef>
#include <string>

namespace gapd {

// One POSIX shared-memory segment created by another process, mapped read-write.
class MappedSegment {
public:
    MappedSegment() = default;
    // Opens "/" + name and maps its first `bytes` bytes. Throws ConnectionConfigError (one line) if it does
    // not exist, cannot be opened, or is smaller than `bytes`; `what` says what the size was computed for.
    MappedSegment(const std::string& name, std::size_t bytes, const std::string& what);
    ~MappedSegment();
    MappedSegment(MappedSegment&& other) noexcept;
    MappedSegment& operator=(MappedSegment&& other) noexcept;
    MappedSegment(const MappedSegment&) = delete;
    MappedSegment& operator=(const MappedSegment&) = delete;

    double* doubles() const { return static_cast<double*>(data_); }

private:
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
};

class ShmPayload : public PayloadChannel {
public:
    std::vector<wire::WireStructure> read_posdata(Transport& transport, std::size_t batch,
                                                  const std::function<void(std::size_t)>& check_natoms) override;
    wire::Bytes forceready(const std::vector<wire::WireResult>& results) override;

private:
    void attach(Transport& transport, std::size_t natoms, std::size_t batch);
    double* segment(wire::ShmSegment s) const { return segments_[static_cast<std::size_t>(s)].doubles(); }

    std::array<MappedSegment, 6> segments_;  // kShmSegments order; mapped on the first POSDATA
    bool attached_ = false;
    std::size_t natoms_ = 0, batch_ = 0;     // what the segments were sized for
};

}  // namespace gapd
