#include "client_protocol/shm_messages.hpp"

#include "models/core/text_excerpt.hpp"

#include <cstring>
#include <stdexcept>

namespace gapd::wire {

namespace {

constexpr char kIpiShmPrefix[] = "ipi_shm_";  // i-PI 3.3's SHMDriver: ipi_shm_<pid>_<fileno>_<kind>

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

}  // namespace

const char* shm_segment_kind(ShmSegment segment) {
    switch (segment) {
        case ShmSegment::Pos: return "pos";
        case ShmSegment::H: return "h";
        case ShmSegment::Ih: return "ih";
        case ShmSegment::Pot: return "pot";
        case ShmSegment::Force: return "force";
        case ShmSegment::Vir: return "vir";
    }
    throw std::logic_error("shm_segment_kind: unknown segment");
}

std::size_t shm_segment_doubles(ShmSegment segment, std::size_t natoms, std::size_t batch) {
    switch (segment) {
        case ShmSegment::Pos:
        case ShmSegment::Force: return batch * 3 * natoms;
        case ShmSegment::H:
        case ShmSegment::Ih:
        case ShmSegment::Vir: return batch * 9;
        case ShmSegment::Pot: return batch;
    }
    throw std::logic_error("shm_segment_doubles: unknown segment");
}

std::string decode_shm_name(ByteReader& reader) {
    const std::int32_t size = reader.i32();
    if (size < 1 || static_cast<std::size_t>(size) > kMaxShmNameSize) {
        throw ProtocolError("expected a shared-memory segment name, read a name length of " + std::to_string(size) +
                            " (accepted: 1 to " + std::to_string(kMaxShmNameSize) + ")");
    }
    std::string name = reader.text(static_cast<std::size_t>(size));
    for (char c : name) {
        if (!name_char(c))
            throw ProtocolError("expected a shared-memory segment name, read " + quote_excerpt(name));
    }
    return name;
}

std::array<std::string, 6> decode_shm_names(ByteReader& reader) {
    std::array<std::string, 6> names;
    for (auto& name : names) name = decode_shm_name(reader);
    return names;
}

Bytes encode_shm_names(const std::array<std::string, 6>& names) {
    Bytes out;
    for (const auto& name : names) put_text(out, name);
    return out;
}

bool looks_like_shm_posdata(const std::uint8_t* body, std::size_t size) {
    constexpr std::size_t prefix = sizeof kIpiShmPrefix - 1;
    return size >= 8 + prefix && std::memcmp(body + 8, kIpiShmPrefix, prefix) == 0;
}

Bytes encode_shm_forceready(const std::vector<WireResult>& results) {
    if (results.empty()) throw ProtocolError("FORCEREADY needs at least one result");
    Bytes out;
    put_header(out, Header::ForceReady);
    for (const auto& r : results) put_text(out, r.extras);
    return out;
}

}  // namespace gapd::wire
