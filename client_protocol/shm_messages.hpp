#pragma once
// i-PI 3.3's shared-memory layout (<ffsocket mode='shm'>, ipi/interfaces/sockets.py SHMDriver), as pure
// functions on buffers. The UNIX socket keeps the handshake (STATUS, INIT, EXIT) and changes two messages:
//   POSDATA    int32 natoms; on the first POSDATA of a connection only, 6 x (int32 length, name) naming the
//              segments pos, h, ih, pot, force, vir (bare names; the POSIX object is "/" + name).
//   FORCEREADY the header, then batch x (int32 length, extras); energies, forces and virials are in pot,
//              force and vir, written before the header is sent.
// i-PI creates (and unlinks) the segments, each sized for batch structures:
//   pos, force: batch x 3n f64 (atom-major xyz); h, ih, vir: batch x 9 f64 (row-major, as on the socket); pot:
//   batch f64. The batch size is the one of INIT (1 without batch_size).

#include "client_protocol/wire_messages.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gapd::wire {

enum class ShmSegment { Pos, H, Ih, Pot, Force, Vir };
// In the order i-PI names them in the first POSDATA.
inline constexpr std::array<ShmSegment, 6> kShmSegments = {ShmSegment::Pos, ShmSegment::H,     ShmSegment::Ih,
                                                           ShmSegment::Pot, ShmSegment::Force, ShmSegment::Vir};
inline constexpr std::size_t kMaxShmNameSize = 255;  // NAME_MAX of a /dev/shm entry

// "pos", "h", ... (i-PI's own kind names, for messages).
const char* shm_segment_kind(ShmSegment segment);
// Doubles of one segment for `batch` structures of `natoms` atoms.
std::size_t shm_segment_doubles(ShmSegment segment, std::size_t natoms, std::size_t batch);

// Reads one segment name (int32 length, bytes) and checks it: 1..kMaxShmNameSize bytes of [A-Za-z0-9_.-].
// Anything else means the message is not in the shared-memory layout: ProtocolError naming what was read.
std::string decode_shm_name(ByteReader& reader);
// The first POSDATA's body after natoms: the six names, in kShmSegments order.
std::array<std::string, 6> decode_shm_names(ByteReader& reader);
// The names part of a first POSDATA (for tests and fakes).
Bytes encode_shm_names(const std::array<std::string, 6>& names);

// Whether the start of a POSDATA body (at least 16 bytes) is i-PI's shared-memory layout: natoms, a name
// length, then a name beginning "ipi_shm_" (i-PI 3.3 names every segment so). A socket-layout client uses it to
// say that i-PI is in mode='shm' instead of misreading the names as a cell.
bool looks_like_shm_posdata(const std::uint8_t* body, std::size_t size);

// FORCEREADY for shared memory: the header and the extras of each result (the numbers go to the segments).
Bytes encode_shm_forceready(const std::vector<WireResult>& results);

}  // namespace gapd::wire
