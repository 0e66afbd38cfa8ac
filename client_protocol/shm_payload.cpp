#include "client_protocol/shm_payload.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace gapd {

MappedSegment::MappedSegment(const std::string& name, std::size_t bytes, const std::string& what) {
    const std::string object = "/" + name;
    const int fd = ::shm_open(object.c_str(), O_RDWR, 0);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) {
            throw ConnectionConfigError("shared-memory segment " + object + " (" + what + ") does not exist: "
                                        "gapd --shm must run on the machine of i-PI, with the same /dev/shm");
        }
        throw ConnectionConfigError("cannot open shared-memory segment " + object + ": " + std::strerror(err));
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0 || static_cast<std::size_t>(info.st_size) < bytes) {
        const long long size = info.st_size;
        ::close(fd);
        throw ConnectionConfigError("shared-memory segment " + object + " holds " + std::to_string(size) +
                                    " bytes; " + what + " need " + std::to_string(bytes) +
                                    " (i-PI sized it for another atom count or batch size)");
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping outlives the descriptor
    if (p == MAP_FAILED) throw ConnectionConfigError("cannot map shared-memory segment " + object + ": " + std::strerror(err));
    data_ = p;
    bytes_ = bytes;
}

MappedSegment::~MappedSegment() {
    if (data_ != nullptr) ::munmap(data_, bytes_);
}

MappedSegment::MappedSegment(MappedSegment&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

MappedSegment& MappedSegment::operator=(MappedSegment&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) ::munmap(data_, bytes_);
        data_ = std::exchange(other.data_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

void ShmPayload::attach(Transport& transport, std::size_t natoms, std::size_t batch) {
    std::array<std::string, 6> names;
    try {
        // The names are 6 x (int32, <= 255 bytes); read them one field at a time so that a socket-layout
        // POSDATA (i-PI not in mode='shm') fails on its first nonsense length instead of waiting for bytes.
        for (auto& name : names) {
            std::uint8_t size_bytes[4];
            transport.read_exact(size_bytes, sizeof size_bytes);
            std::int32_t size;
            std::memcpy(&size, size_bytes, sizeof size);
            wire::Bytes field(size_bytes, size_bytes + 4);
            if (size >= 1 && static_cast<std::size_t>(size) <= wire::kMaxShmNameSize) {
                field.resize(4 + static_cast<std::size_t>(size));
                transport.read_exact(field.data() + 4, static_cast<std::size_t>(size));
            }
            wire::ByteReader reader(field);
            name = wire::decode_shm_name(reader);
        }
    } catch (const wire::ProtocolError& e) {
        throw wire::ProtocolError(std::string("i-PI's first POSDATA is not in the shared-memory layout (") +
                                  e.what() + "): is its <ffsocket> mode='shm'? gapd serve --shm needs it");
    }
    const std::string what = std::to_string(natoms) + " atoms x batch " + std::to_string(batch);
    for (std::size_t k = 0; k < names.size(); ++k) {
        const wire::ShmSegment s = wire::kShmSegments[k];
        segments_[k] = MappedSegment(names[k], wire::shm_segment_doubles(s, natoms, batch) * sizeof(double),
                                     std::string(wire::shm_segment_kind(s)) + " for " + what);
    }
    natoms_ = natoms;
    batch_ = batch;
    attached_ = true;
}

std::vector<wire::WireStructure> ShmPayload::read_posdata(Transport& transport, std::size_t batch,
                                                          const std::function<void(std::size_t)>& check_natoms) {
    std::uint8_t natoms_bytes[4];
    transport.read_exact(natoms_bytes, sizeof natoms_bytes);
    std::int32_t raw;
    std::memcpy(&raw, natoms_bytes, sizeof raw);
    if (!attached_) {
        if (raw <= 0) {
            throw wire::ProtocolError("i-PI's first POSDATA is not in the shared-memory layout (atom count " +
                                      std::to_string(raw) + "): is its <ffsocket> mode='shm'? gapd serve --shm "
                                      "needs it");
        }
        // The names come before the atom count is judged: a wrong count is i-PI's set-up, a missing name is
        // the wrong mode, and the second is the more useful message.
        attach(transport, static_cast<std::size_t>(raw), batch);
    }
    const std::size_t natoms = wire::checked_natoms(raw, batch, "POSDATA");
    check_natoms(natoms);
    if (natoms != natoms_ || batch != batch_) {
        throw wire::ProtocolError("i-PI announced " + std::to_string(natoms) + " atoms x batch " +
                                  std::to_string(batch) + " after sizing its shared memory for " +
                                  std::to_string(natoms_) + " x " + std::to_string(batch_));
    }
    std::vector<wire::WireStructure> structures(batch);
    const double* pos = segment(wire::ShmSegment::Pos);
    const double* h = segment(wire::ShmSegment::H);
    const double* ih = segment(wire::ShmSegment::Ih);
    for (std::size_t i = 0; i < batch; ++i) {
        auto& s = structures[i];
        std::memcpy(s.h.data(), h + 9 * i, 9 * sizeof(double));
        std::memcpy(s.h_inv.data(), ih + 9 * i, 9 * sizeof(double));
        s.positions.assign(pos + 3 * natoms * i, pos + 3 * natoms * (i + 1));
    }
    return structures;
}

wire::Bytes ShmPayload::forceready(const std::vector<wire::WireResult>& results) {
    if (!attached_ || results.size() != batch_)
        throw std::logic_error("ShmPayload::forceready: results do not match the mapped segments");
    double* pot = segment(wire::ShmSegment::Pot);
    double* force = segment(wire::ShmSegment::Force);
    double* vir = segment(wire::ShmSegment::Vir);
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (r.forces.size() != 3 * natoms_) throw std::logic_error("ShmPayload::forceready: wrong force count");
        pot[i] = r.energy;
        std::memcpy(force + 3 * natoms_ * i, r.forces.data(), 3 * natoms_ * sizeof(double));
        std::memcpy(vir + 9 * i, r.virial.data(), 9 * sizeof(double));
    }
    return wire::encode_shm_forceready(results);
}

}  // namespace gapd
