#include "client_protocol/wire_messages.hpp"

#include "models/core/text_excerpt.hpp"

#include <cctype>
#include <charconv>
#include <climits>
#include <cstring>

// i-PI writes numpy's native byte order; every machine it runs on is little-endian, and so must we be.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the i-PI wire format is little-endian");

namespace gapd::wire {

namespace {

struct Keyword {
    Header header;
    const char* text;
};

constexpr Keyword kKeywords[] = {
    {Header::Status, "STATUS"},     {Header::Ready, "READY"},       {Header::NeedInit, "NEEDINIT"},
    {Header::HaveData, "HAVEDATA"}, {Header::Init, "INIT"},         {Header::PosData, "POSDATA"},
    {Header::GetForce, "GETFORCE"}, {Header::ForceReady, "FORCEREADY"}, {Header::Exit, "EXIT"},
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// Checked before allocating `count` doubles, so that a lying size cannot cause a huge allocation.
void require_doubles(const ByteReader& reader, std::size_t count, const char* what) {
    if (reader.remaining() / sizeof(double) < count) {
        throw ProtocolError(std::string("truncated ") + what + ": " + std::to_string(count) +
                            " values announced, " + std::to_string(reader.remaining()) + " bytes left");
    }
}

}  // namespace

void put_i32(Bytes& out, std::int32_t v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}

void put_f64s(Bytes& out, const double* v, std::size_t count) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(v);
    out.insert(out.end(), p, p + count * sizeof(double));
}

void put_header(Bytes& out, Header h) {
    const auto bytes = header_bytes(h);
    out.insert(out.end(), bytes.begin(), bytes.end());
}

void put_text(Bytes& out, const std::string& text) {
    if (text.size() > static_cast<std::size_t>(INT32_MAX)) {
        throw ProtocolError("string of " + std::to_string(text.size()) + " bytes does not fit an int32 length");
    }
    put_i32(out, static_cast<std::int32_t>(text.size()));
    out.insert(out.end(), text.begin(), text.end());
}

// natoms from the wire: positive and, times the batch size, within kMaxAtoms.
std::size_t checked_natoms(long long natoms, std::size_t batch, const char* what) {
    if (natoms <= 0 || static_cast<unsigned long long>(natoms) > kMaxAtoms / batch) {
        throw ProtocolError(std::string(what) + " announces " + std::to_string(natoms) + " atoms" +
                            (batch > 1 ? " x " + std::to_string(batch) + " structures" : std::string()) +
                            "; accepted: 1 to " + std::to_string(kMaxAtoms) + " atoms in total");
    }
    return static_cast<std::size_t>(natoms);
}

std::array<char, kHeaderSize> header_bytes(Header header) {
    for (const auto& k : kKeywords) {
        if (k.header == header) {
            std::array<char, kHeaderSize> bytes;
            bytes.fill(' ');
            std::memcpy(bytes.data(), k.text, std::strlen(k.text));
            return bytes;
        }
    }
    throw std::logic_error("header_bytes: Header::Unknown has no wire form");
}

Header parse_header(const char* bytes) {
    for (const auto& k : kKeywords) {
        const auto expected = header_bytes(k.header);
        if (std::memcmp(expected.data(), bytes, kHeaderSize) == 0) return k.header;
    }
    return Header::Unknown;
}

std::string quote_header(const char* bytes) { return quote_excerpt(std::string_view(bytes, kHeaderSize)); }

// ---- ByteReader ----

const std::uint8_t* ByteReader::take(std::size_t n) {
    if (n > remaining()) {
        throw ProtocolError("truncated message: needed " + std::to_string(n) + " more bytes, " +
                            std::to_string(remaining()) + " left");
    }
    const std::uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
}

std::int32_t ByteReader::i32() {
    std::int32_t v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
}

double ByteReader::f64() {
    double v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
}

void ByteReader::f64s(double* out, std::size_t count) {
    if (count > remaining() / sizeof(double)) {  // before multiplying: count comes from the wire
        throw ProtocolError("truncated message: needed " + std::to_string(count) + " doubles, " +
                            std::to_string(remaining()) + " bytes left");
    }
    std::memcpy(out, take(count * sizeof(double)), count * sizeof(double));
}

std::string ByteReader::text(std::size_t size) {
    const auto* p = take(size);
    return std::string(reinterpret_cast<const char*>(p), size);
}

// ---- INIT ----

InitPrefix decode_init_prefix(ByteReader& reader) {
    InitPrefix prefix;
    prefix.request_id = reader.i32();
    const std::int32_t size = reader.i32();
    if (size < 0 || static_cast<std::size_t>(size) > kMaxInitText) {
        throw ProtocolError("INIT announces a text of " + std::to_string(size) + " bytes; accepted: 0 to " +
                            std::to_string(kMaxInitText));
    }
    prefix.text_size = static_cast<std::size_t>(size);
    return prefix;
}

Bytes encode_init(std::int32_t request_id, std::string_view text) {
    Bytes out;
    put_header(out, Header::Init);
    put_i32(out, request_id);
    put_text(out, std::string(text));
    return out;
}

std::size_t batch_size_from_init(std::string_view text) {
    std::size_t batch = 1;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view token = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        const auto colon = token.find(':');
        if (colon == std::string_view::npos || trim(token.substr(0, colon)) != "batch_size") continue;
        const std::string_view value = trim(token.substr(colon + 1));
        long long n = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size() || n < 1 ||
            n > static_cast<long long>(kMaxBatch)) {
            throw ProtocolError("INIT announces batch_size " + quote_excerpt(value) +
                                "'; accepted: an integer from 1 to " + std::to_string(kMaxBatch));
        }
        batch = static_cast<std::size_t>(n);
    }
    return batch;
}

// ---- POSDATA ----

namespace {
constexpr std::size_t kCellBlockSize = 18 * sizeof(double);  // h and h^-1
}

std::size_t posdata_head_size(std::size_t batch) {
    return batch == 1 ? kCellBlockSize + sizeof(std::int32_t) : sizeof(std::int32_t);
}

std::size_t posdata_natoms(const std::uint8_t* head, std::size_t batch) {
    std::int32_t natoms;
    std::memcpy(&natoms, head + (batch == 1 ? kCellBlockSize : 0), sizeof natoms);
    return checked_natoms(natoms, batch, "POSDATA");
}

std::size_t posdata_rest_size(std::size_t natoms, std::size_t batch) {
    const std::size_t positions = batch * 3 * natoms * sizeof(double);
    return batch == 1 ? positions : batch * kCellBlockSize + positions;
}

std::vector<WireStructure> decode_posdata_body(const Bytes& body, std::size_t batch) {
    if (batch < 1 || batch > kMaxBatch) throw std::logic_error("decode_posdata_body: bad batch size");
    ByteReader reader(body);
    std::vector<WireStructure> structures(batch);
    if (batch == 1) {
        auto& s = structures[0];
        reader.f64s(s.h.data(), 9);
        reader.f64s(s.h_inv.data(), 9);
        const std::size_t natoms = checked_natoms(reader.i32(), 1, "POSDATA");
        if (reader.remaining() != posdata_rest_size(natoms, 1)) {
            throw ProtocolError("POSDATA body size does not match its atom count");
        }
        s.positions.resize(3 * natoms);
        reader.f64s(s.positions.data(), 3 * natoms);
        return structures;
    }
    const std::size_t natoms = checked_natoms(reader.i32(), batch, "batched POSDATA");
    if (reader.remaining() != posdata_rest_size(natoms, batch)) {
        throw ProtocolError("batched POSDATA body size does not match its atom count and batch size");
    }
    for (auto& s : structures) {
        reader.f64s(s.h.data(), 9);
        reader.f64s(s.h_inv.data(), 9);
    }
    for (auto& s : structures) {
        s.positions.resize(3 * natoms);
        reader.f64s(s.positions.data(), 3 * natoms);
    }
    return structures;
}

Bytes encode_posdata(const std::vector<WireStructure>& structures) {
    if (structures.empty()) throw ProtocolError("POSDATA needs at least one structure");
    const std::size_t natoms = structures[0].natoms();
    for (const auto& s : structures) {
        if (s.positions.size() != 3 * natoms || natoms == 0) {
            throw ProtocolError("POSDATA structures must share one positive atom count");
        }
    }
    checked_natoms(static_cast<long long>(natoms), structures.size(), "POSDATA");
    Bytes out;
    put_header(out, Header::PosData);
    if (structures.size() == 1) {
        const auto& s = structures[0];
        put_f64s(out, s.h.data(), 9);
        put_f64s(out, s.h_inv.data(), 9);
        put_i32(out, static_cast<std::int32_t>(natoms));
        put_f64s(out, s.positions.data(), s.positions.size());
        return out;
    }
    put_i32(out, static_cast<std::int32_t>(natoms));
    for (const auto& s : structures) {
        put_f64s(out, s.h.data(), 9);
        put_f64s(out, s.h_inv.data(), 9);
    }
    for (const auto& s : structures) put_f64s(out, s.positions.data(), s.positions.size());
    return out;
}

// ---- FORCEREADY ----

Bytes encode_forceready(const std::vector<WireResult>& results) {
    if (results.empty()) throw ProtocolError("FORCEREADY needs at least one result");
    const std::size_t ncoords = results[0].forces.size();
    if (ncoords == 0 || ncoords % 3 != 0 || ncoords / 3 > static_cast<std::size_t>(INT32_MAX)) {
        throw ProtocolError("FORCEREADY forces must hold 3 x natoms values, natoms > 0");
    }
    for (const auto& r : results) {
        if (r.forces.size() != ncoords) throw ProtocolError("FORCEREADY results disagree on natoms");
    }
    const auto natoms = static_cast<std::int32_t>(ncoords / 3);

    std::size_t size = kHeaderSize + sizeof(std::int32_t);
    for (const auto& r : results) {
        size += sizeof(double) * (1 + ncoords + 9) + sizeof(std::int32_t) + r.extras.size();
    }
    Bytes out;
    out.reserve(size);
    put_header(out, Header::ForceReady);
    if (results.size() == 1) {
        const auto& r = results[0];
        put_f64s(out, &r.energy, 1);
        put_i32(out, natoms);
        put_f64s(out, r.forces.data(), ncoords);
        put_f64s(out, r.virial.data(), 9);
        put_text(out, r.extras);
        return out;
    }
    for (const auto& r : results) put_f64s(out, &r.energy, 1);
    put_i32(out, natoms);
    for (const auto& r : results) put_f64s(out, r.forces.data(), ncoords);
    for (const auto& r : results) put_f64s(out, r.virial.data(), 9);
    for (const auto& r : results) put_text(out, r.extras);
    return out;
}

std::vector<WireResult> decode_forceready_body(ByteReader& reader, std::size_t batch) {
    if (batch < 1 || batch > kMaxBatch) throw std::logic_error("decode_forceready_body: bad batch size");
    std::vector<WireResult> results(batch);
    for (auto& r : results) r.energy = reader.f64();
    const std::size_t natoms = checked_natoms(reader.i32(), batch, "FORCEREADY");
    auto read_extras = [&reader](WireResult& r) {
        const std::int32_t size = reader.i32();
        if (size < 0 || static_cast<std::size_t>(size) > reader.remaining()) {
            throw ProtocolError("FORCEREADY extras length " + std::to_string(size) + " exceeds the message");
        }
        r.extras = reader.text(static_cast<std::size_t>(size));
    };
    require_doubles(reader, batch * (3 * natoms + 9), "FORCEREADY");
    if (batch == 1) {
        auto& r = results[0];
        r.forces.resize(3 * natoms);
        reader.f64s(r.forces.data(), 3 * natoms);
        reader.f64s(r.virial.data(), 9);
        read_extras(r);
        return results;
    }
    for (auto& r : results) {
        r.forces.resize(3 * natoms);
        reader.f64s(r.forces.data(), 3 * natoms);
    }
    for (auto& r : results) reader.f64s(r.virial.data(), 9);
    for (auto& r : results) read_extras(r);
    return results;
}

}  // namespace gapd::wire
