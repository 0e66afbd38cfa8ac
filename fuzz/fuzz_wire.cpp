// Fuzz target: the individual message decoders of client_protocol/wire_messages.hpp, the wire -> model
// conversion (frame_conversion.hpp) and the extras check (extras_check.hpp).
//
// Input: byte 0 selects the decoder, byte 1 the batch size where one is needed, the rest is the message body
// (what follows the 12-byte header on the wire). Besides "no crash", decoded messages must re-encode to the
// exact bytes they were decoded from (the encoders are the inverse of the decoders).

#include "client_protocol/extras_check.hpp"
#include "client_protocol/frame_conversion.hpp"
#include "client_protocol/wire_messages.hpp"
#include "fuzz_common.hpp"

#include <algorithm>
#include <cstring>

namespace {

using namespace gapd;
using wire::Bytes;

std::size_t pick_batch(std::uint8_t b) {
    static const std::size_t kBatches[] = {1, 2, 3, 4, 7, 16, wire::kMaxBatch, 1};
    return kBatches[b & 7];
}

void fuzz_header(const std::uint8_t* d, std::size_t n) {
    if (n < wire::kHeaderSize) return;
    const auto* h = reinterpret_cast<const char*>(d);
    const wire::Header header = wire::parse_header(h);
    const std::string quoted = wire::quote_header(h);
    if (quoted.size() < 14) gapd::fuzz::invariant_failed("quote_header too short");
    if (header != wire::Header::Unknown) {
        const auto bytes = wire::header_bytes(header);
        if (std::memcmp(bytes.data(), h, wire::kHeaderSize) != 0) gapd::fuzz::invariant_failed("header round trip");
    }
}

void fuzz_init(const std::uint8_t* d, std::size_t n) {
    wire::ByteReader reader(d, n);
    try {
        const auto prefix = wire::decode_init_prefix(reader);
        if (prefix.text_size > wire::kMaxInitText) gapd::fuzz::invariant_failed("INIT text size not bounded");
        const std::string text = reader.text(prefix.text_size);
        const std::size_t batch = wire::batch_size_from_init(text);
        if (batch < 1 || batch > wire::kMaxBatch) gapd::fuzz::invariant_failed("batch size not bounded");
        const Bytes encoded = wire::encode_init(prefix.request_id, text);
        if (encoded.size() != 12 + 8 + text.size() || !std::equal(encoded.begin() + 12, encoded.end(), d))
            gapd::fuzz::invariant_failed("INIT round trip");
    } catch (const wire::ProtocolError&) {
    }
}

void fuzz_batch_text(const std::uint8_t* d, std::size_t n) {
    try {
        const std::size_t batch = wire::batch_size_from_init(std::string_view(reinterpret_cast<const char*>(d), n));
        if (batch < 1 || batch > wire::kMaxBatch) gapd::fuzz::invariant_failed("batch size not bounded");
    } catch (const wire::ProtocolError&) {
    }
}

void fuzz_posdata(const std::uint8_t* d, std::size_t n, std::size_t batch) {
    // As the session reads it: the head, natoms from it, then exactly the rest it announces.
    const std::size_t head = wire::posdata_head_size(batch);
    if (n < head) return;
    std::size_t natoms;
    try {
        natoms = wire::posdata_natoms(d, batch);
    } catch (const wire::ProtocolError&) {
        return;
    }
    if (natoms < 1 || natoms * batch > wire::kMaxAtoms) gapd::fuzz::invariant_failed("natoms not bounded");
    const std::size_t rest = wire::posdata_rest_size(natoms, batch);
    const Bytes body(d, d + std::min(n, head + rest));  // may be short: the decoder must refuse it
    std::vector<wire::WireStructure> structures;
    try {
        structures = wire::decode_posdata_body(body, batch);
    } catch (const wire::ProtocolError&) {
        if (body.size() == head + rest) gapd::fuzz::invariant_failed("complete POSDATA refused");
        return;
    }
    if (structures.size() != batch) gapd::fuzz::invariant_failed("POSDATA structure count");
    const Bytes encoded = wire::encode_posdata(structures);
    if (encoded.size() != 12 + body.size() || !std::equal(encoded.begin() + 12, encoded.end(), body.begin()))
        gapd::fuzz::invariant_failed("POSDATA round trip");
    for (const auto& s : structures) {
        for (bool require_cell : {true, false}) {
            try {
                const Frame frame = frame_from_wire(s, require_cell);
                if (static_cast<std::size_t>(frame.positions.rows()) != natoms || !frame.positions.allFinite() ||
                    !frame.cell.allFinite())
                    gapd::fuzz::invariant_failed("frame_from_wire let a bad frame through");
            } catch (const wire::ProtocolError&) {
            }
        }
    }
}

void fuzz_forceready(const std::uint8_t* d, std::size_t n, std::size_t batch) {
    wire::ByteReader reader(d, n);
    std::vector<wire::WireResult> results;
    try {
        results = wire::decode_forceready_body(reader, batch);
    } catch (const wire::ProtocolError&) {
        return;
    }
    if (results.size() != batch) gapd::fuzz::invariant_failed("FORCEREADY result count");
    const std::size_t consumed = n - reader.remaining();
    const Bytes encoded = wire::encode_forceready(results);
    if (encoded.size() != 12 + consumed || !std::equal(encoded.begin() + 12, encoded.end(), d))
        gapd::fuzz::invariant_failed("FORCEREADY round trip");
}

void fuzz_extras(const std::uint8_t* d, std::size_t n) {
    try {
        check_extras_for_ipi(std::string(reinterpret_cast<const char*>(d), n));
    } catch (const std::runtime_error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t selector = data[0];
    const std::size_t batch = pick_batch(data[1]);
    const std::uint8_t* body = data + 2;
    const std::size_t n = size - 2;
    switch (selector % 6) {
        case 0: fuzz_header(body, n); break;
        case 1: fuzz_init(body, n); break;
        case 2: fuzz_batch_text(body, n); break;
        case 3: fuzz_posdata(body, n, batch); break;
        case 4: fuzz_forceready(body, n, batch); break;
        case 5: fuzz_extras(body, n); break;
    }
    return 0;
}
