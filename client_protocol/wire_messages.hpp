#pragma once
// Byte layout of every i-PI socket message, as pure functions on buffers (no I/O, no unit conversion).
// 12-byte space-padded ASCII headers; int32 counts and float64 reals, little-endian, no padding.
// Sizes read from the wire are validated before anything is allocated from them.

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gapd::wire {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::size_t kHeaderSize = 12;

// Limits on sizes read from the wire.
inline constexpr std::size_t kMaxAtoms = 10'000'000;   // atoms per structure, and atoms x batch in total
inline constexpr std::size_t kMaxInitText = 1u << 20;  // INIT text bytes
inline constexpr std::size_t kMaxBatch = 1024;         // structures per batched request
// Largest |value| of a position or cell element (Bohr; 1e9 Bohr = 5 cm). Anything beyond is not a structure
// but bytes read out of place, e.g. the text "EXIT" read as a double (7e96).
inline constexpr double kMaxCoordinateBohr = 1e9;

// A malformed or out-of-limits message from i-PI, or a result that cannot be encoded.
class ProtocolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Header { Status, Ready, NeedInit, HaveData, Init, PosData, GetForce, ForceReady, Exit, Unknown };

// The 12 wire bytes of a header (not NUL-terminated). Header::Unknown is not encodable.
std::array<char, kHeaderSize> header_bytes(Header header);
// Exact match against the space-padded keywords; anything else is Header::Unknown.
Header parse_header(const char* bytes);
// The 12 bytes quoted for an error message, non-printable bytes as \xNN.
std::string quote_header(const char* bytes);

// Sequential little-endian reads from a buffer; throws ProtocolError when the buffer is too short.
class ByteReader {
public:
    ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    explicit ByteReader(const Bytes& bytes) : ByteReader(bytes.data(), bytes.size()) {}

    std::int32_t i32();
    double f64();
    void f64s(double* out, std::size_t count);
    std::string text(std::size_t size);
    std::size_t remaining() const { return size_ - pos_; }

private:
    const std::uint8_t* take(std::size_t n);
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// Little-endian appends shared by every layout (socket, shared memory, MPI).
void put_i32(Bytes& out, std::int32_t v);
void put_f64s(Bytes& out, const double* v, std::size_t count);
void put_header(Bytes& out, Header h);
void put_text(Bytes& out, const std::string& text);  // int32 length, then the bytes
// natoms from the wire: positive and, times the batch size, within kMaxAtoms; ProtocolError naming `what`.
std::size_t checked_natoms(long long natoms, std::size_t batch, const char* what);

// One structure as i-PI sends it: h row-major with lattice vectors as COLUMNS, Bohr. h^-1 is redundant
// (and infinite for i-PI's zero placeholder cell); it is kept only so that messages re-encode exactly.
struct WireStructure {
    std::array<double, 9> h{};
    std::array<double, 9> h_inv{};
    std::vector<double> positions;  // 3 * natoms, atom-major xyz, Bohr

    std::size_t natoms() const { return positions.size() / 3; }
};

// One result in atomic units: Hartree, Hartree/Bohr (atom-major xyz), virial row-major in Hartree.
struct WireResult {
    double energy = 0;
    std::vector<double> forces;
    std::array<double, 9> virial{};
    std::string extras;
};

// ---- INIT: int32 rid, int32 length, text ----
inline constexpr std::size_t kInitPrefixSize = 8;
struct InitPrefix {
    std::int32_t request_id = 0;
    std::size_t text_size = 0;  // validated: <= kMaxInitText
};
InitPrefix decode_init_prefix(ByteReader& reader);
Bytes encode_init(std::int32_t request_id, std::string_view text);

// The batch size announced in INIT text (token "batch_size:N" among comma-separated "key:value" pairs),
// 1 if absent. Throws ProtocolError if the value is not an integer in [1, kMaxBatch].
std::size_t batch_size_from_init(std::string_view text);

// ---- POSDATA ----
// batch == 1: 9 f64 h, 9 f64 h^-1, int32 natoms, 3n f64 positions.
// batch  > 1: int32 natoms, batch x (9 f64 h, 9 f64 h^-1), batch x 3n f64 positions.
// The body is read in two steps: a head (which holds natoms), then the rest whose size natoms fixes.
std::size_t posdata_head_size(std::size_t batch);
// Reads and validates natoms from the head: 0 < natoms, natoms * batch <= kMaxAtoms.
std::size_t posdata_natoms(const std::uint8_t* head, std::size_t batch);
std::size_t posdata_rest_size(std::size_t natoms, std::size_t batch);
// body = head followed by rest; returns `batch` structures.
std::vector<WireStructure> decode_posdata_body(const Bytes& body, std::size_t batch);
// Whole message including the header; batched layout when structures.size() > 1.
Bytes encode_posdata(const std::vector<WireStructure>& structures);

// ---- FORCEREADY ----
// batch == 1: f64 energy, int32 n, 3n f64 forces, 9 f64 virial, int32 len, extras.
// batch  > 1: batch f64 energies, int32 n, batch x 3n forces, batch x 9 virials, batch x (int32 len, extras).
// Whole message including the header, one buffer so that it goes out in one write; batched layout when
// results.size() > 1. Throws ProtocolError if the results disagree on natoms or do not fit the format.
Bytes encode_forceready(const std::vector<WireResult>& results);
// Body after the header, `batch` results; natoms and extras sizes validated like i-PI's own reads.
std::vector<WireResult> decode_forceready_body(ByteReader& reader, std::size_t batch);

}  // namespace gapd::wire
