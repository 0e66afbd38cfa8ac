// Conformance against real i-PI 3.3.0 byte logs: the i-PI side of each capture is replayed to gapd's
// session over a socketpair, with an engine that returns the recorded results (converted to eV/Å and back
// by gapd's own conversion). gapd's bytes must match the recorded client's: headers and sizes exactly,
// numbers to 1e-12 relative (a value may not survive the Hartree -> eV -> Hartree round trip bit for bit).
#include "client_protocol/frame_conversion.hpp"
#include "test_protocol_helpers.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifndef GAPD_TEST_DATA_DIR
#error "GAPD_TEST_DATA_DIR must be defined"
#endif

using namespace gapd;
using gapd::test::FakeIpi;
using wire::Bytes;
using wire::Header;

namespace {

struct Record {
    char direction;  // 'S' i-PI -> client, 'C' client -> i-PI
    Bytes payload;
};

std::vector<Record> load_capture(const std::string& name) {
    const std::string path = std::string(GAPD_TEST_DATA_DIR) + "/captures/" + name + ".bin";
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    const Bytes raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<Record> records;
    std::size_t at = 0;
    while (at < raw.size()) {
        REQUIRE(at + 13 <= raw.size());
        std::uint32_t length;
        std::memcpy(&length, raw.data() + at + 9, 4);  // after direction byte and f64 time
        REQUIRE(at + 13 + length <= raw.size());
        records.push_back({static_cast<char>(raw[at]), Bytes(raw.begin() + at + 13, raw.begin() + at + 13 + length)});
        at += 13 + length;
    }
    return records;
}

Bytes stream(const std::vector<Record>& records, char direction) {
    Bytes out;
    for (const auto& r : records) {
        if (r.direction == direction) out.insert(out.end(), r.payload.begin(), r.payload.end());
    }
    return out;
}

Bytes header(Header h) {
    const auto b = wire::header_bytes(h);
    return Bytes(b.begin(), b.end());
}

// consolidated_harm3d's client never asked for INIT; gapd always does. Insert the exchange i-PI has with a
// client that answers NEEDINIT (STATUS -> NEEDINIT, INIT, STATUS -> READY) in place of the first READY.
void add_init_exchange(std::vector<Record>& records) {
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (records[i].direction != 'C') continue;
        if (records[i].payload == header(Header::NeedInit)) return;
        REQUIRE(records[i].payload == header(Header::Ready));
        records[i].payload = header(Header::NeedInit);
        records.insert(records.begin() + static_cast<long>(i) + 1,
                       {{'S', wire::encode_init(0, " ")}, {'S', header(Header::Status)}, {'C', header(Header::Ready)}});
        return;
    }
}

struct ServerSide {
    std::size_t batch = 1;
    std::vector<std::vector<wire::WireStructure>> requests;
};

ServerSide parse_server_stream(const Bytes& s) {
    ServerSide out;
    std::size_t at = 0;
    while (at < s.size()) {
        REQUIRE(at + wire::kHeaderSize <= s.size());
        const Header h = wire::parse_header(reinterpret_cast<const char*>(s.data() + at));
        at += wire::kHeaderSize;
        if (h == Header::Init) {
            wire::ByteReader reader(s.data() + at, s.size() - at);
            const auto prefix = wire::decode_init_prefix(reader);
            out.batch = wire::batch_size_from_init(reader.text(prefix.text_size));
            at += wire::kInitPrefixSize + prefix.text_size;
        } else if (h == Header::PosData) {
            const std::size_t head = wire::posdata_head_size(out.batch);
            const std::size_t natoms = wire::posdata_natoms(s.data() + at, out.batch);
            const std::size_t size = head + wire::posdata_rest_size(natoms, out.batch);
            out.requests.push_back(wire::decode_posdata_body(Bytes(s.begin() + at, s.begin() + at + size), out.batch));
            at += size;
        } else {
            REQUIRE((h == Header::Status || h == Header::GetForce || h == Header::Exit));
        }
    }
    return out;
}

struct ClientMessage {
    Header header;
    std::vector<wire::WireResult> results;  // FORCEREADY only
    Bytes bytes;                            // the whole message
};

std::vector<ClientMessage> parse_client_stream(const Bytes& c, std::size_t batch) {
    std::vector<ClientMessage> out;
    std::size_t at = 0;
    while (at < c.size()) {
        REQUIRE(at + wire::kHeaderSize <= c.size());
        ClientMessage m;
        m.header = wire::parse_header(reinterpret_cast<const char*>(c.data() + at));
        REQUIRE(m.header != Header::Unknown);
        std::size_t end = at + wire::kHeaderSize;
        if (m.header == Header::ForceReady) {
            wire::ByteReader reader(c.data() + end, c.size() - end);
            m.results = wire::decode_forceready_body(reader, batch);
            end = c.size() - reader.remaining();
        }
        m.bytes.assign(c.begin() + at, c.begin() + end);
        out.push_back(std::move(m));
        at = end;
    }
    return out;
}

bool close_enough(double got, double want) {
    return got == want || std::abs(got - want) <= 1e-12 * std::max(std::abs(got), std::abs(want));
}

// Returns, for each structure i-PI sends, the result the recorded client gave, via gapd's conversions.
class ReplayEngine : public ForceEngine {
public:
    struct Entry {
        wire::WireStructure structure;
        wire::WireResult result;
    };
    ReplayEngine(std::vector<Entry> entries, std::size_t natoms) : entries_(std::move(entries)), natoms_(natoms) {}

    std::size_t natoms() const override { return natoms_; }
    void on_init(int rid, const std::string& text) override { inits.emplace_back(rid, text); }

    ForceResult compute(const Frame& frame) override {
        const auto w = frame_to_wire(frame);
        // gapd skips the batch padding (repeats of the previous structure): search forward.
        for (std::size_t i = cursor_; i < entries_.size(); ++i) {
            if (matches(w, entries_[i].structure)) {
                cursor_ = i + 1;
                ++computed;
                return result_from_wire(entries_[i].result);
            }
        }
        throw std::runtime_error("replay: structure not in the capture (or out of order)");
    }

    std::vector<std::pair<int, std::string>> inits;
    std::size_t computed = 0;

private:
    static bool matches(const wire::WireStructure& a, const wire::WireStructure& b) {
        if (a.positions.size() != b.positions.size()) return false;
        for (int k = 0; k < 9; ++k) {
            if (!close_enough(a.h[k], b.h[k]) && std::abs(a.h[k] - b.h[k]) > 1e-13) return false;
        }
        for (std::size_t k = 0; k < a.positions.size(); ++k) {
            if (!close_enough(a.positions[k], b.positions[k]) && std::abs(a.positions[k] - b.positions[k]) > 1e-13) {
                return false;
            }
        }
        return true;
    }

    std::vector<Entry> entries_;
    std::size_t natoms_;
    std::size_t cursor_ = 0;
};

void replay(const std::string& name, bool expect_recorded_init) {
    auto records = load_capture(name);
    if (!expect_recorded_init) add_init_exchange(records);

    const ServerSide server = parse_server_stream(stream(records, 'S'));
    const Bytes expected = stream(records, 'C');
    const auto expected_messages = parse_client_stream(expected, server.batch);

    // The recorded results, paired with the structures they answer.
    std::vector<ReplayEngine::Entry> entries;
    std::size_t request = 0;
    for (const auto& m : expected_messages) {
        if (m.header != Header::ForceReady) continue;
        REQUIRE(request < server.requests.size());
        // gapd's encoder reproduces the recorded client's bytes from the decoded numbers.
        CHECK(wire::encode_forceready(m.results) == m.bytes);
        for (std::size_t i = 0; i < m.results.size(); ++i) {
            entries.push_back({server.requests[request][i], m.results[i]});
        }
        ++request;
    }
    REQUIRE(request == server.requests.size());
    REQUIRE(!entries.empty());
    ReplayEngine engine(entries, entries[0].structure.natoms());

    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    Transport transport(fds[0], "replayed i-PI");
    FakeIpi peer = FakeIpi::on_socket(fds[1]);
    clear_stop_requests();
    std::ostringstream log;
    DriverOptions options;
    options.log = &log;
    auto session = std::async(std::launch::async, [&] { return serve_connection(transport, engine, options); });

    Bytes got;
    bool complete = true;
    for (const auto& r : records) {
        if (r.direction == 'S') {
            peer.send(r.payload);
            continue;
        }
        Bytes part(r.payload.size());
        if (!peer.recv(part.data(), part.size())) {
            complete = false;
            break;
        }
        got.insert(got.end(), part.begin(), part.end());
    }
    CHECK_MESSAGE(complete, "gapd did not send the expected number of bytes; log:\n" << log.str());
    if (complete) CHECK(peer.wait_close() == "eof");  // after EXIT: orderly close, nothing more
    peer.close_client();
    if (session.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        std::fprintf(stderr, "replay of %s hung\n", name.c_str());
        std::abort();
    }
    const SessionEnd end = session.get();
    if (!complete) return;
    CHECK(end == SessionEnd::Exit);

    // Same headers, same sizes, same numbers.
    REQUIRE(got.size() == expected.size());
    const auto got_messages = parse_client_stream(got, server.batch);
    REQUIRE(got_messages.size() == expected_messages.size());
    std::size_t numbers = 0, identical = 0;
    for (std::size_t m = 0; m < got_messages.size(); ++m) {
        const auto& g = got_messages[m];
        const auto& e = expected_messages[m];
        CHECK(g.header == e.header);
        CHECK(g.bytes.size() == e.bytes.size());
        CHECK(std::equal(g.bytes.begin(), g.bytes.begin() + 12, e.bytes.begin()));
        REQUIRE(g.results.size() == e.results.size());
        for (std::size_t i = 0; i < g.results.size(); ++i) {
            const auto& gr = g.results[i];
            const auto& er = e.results[i];
            CHECK(gr.extras == er.extras);
            REQUIRE(gr.forces.size() == er.forces.size());
            std::vector<std::pair<double, double>> pairs{{gr.energy, er.energy}};
            for (std::size_t k = 0; k < gr.forces.size(); ++k) pairs.emplace_back(gr.forces[k], er.forces[k]);
            for (int k = 0; k < 9; ++k) pairs.emplace_back(gr.virial[k], er.virial[k]);
            for (const auto& pair : pairs) {
                const double x = pair.first, y = pair.second;  // not a structured binding: clang cannot capture those
                ++numbers;
                identical += std::memcmp(&x, &y, sizeof x) == 0;
                CHECK_MESSAGE(close_enough(x, y), x << " vs recorded " << y);
            }
        }
    }
    MESSAGE(name << ": " << got.size() << " client bytes, " << identical << " of " << numbers
                 << " numbers bit-identical after the unit round trip, " << engine.computed << " computations");
    // Every structure i-PI sent was answered from the capture; INIT reached the engine.
    CHECK(engine.computed > 0);
    REQUIRE(engine.inits.size() == 1);
    CHECK(engine.inits[0].first == 0);
}

}  // namespace

TEST_CASE("protocol replay: consolidated_pswater (default mode, INIT text, JSON dipole extras)") {
    replay("consolidated_pswater", true);
}

TEST_CASE("protocol replay: legacy_pswater (POSDATA, STATUS -> HAVEDATA, GETFORCE)") {
    replay("legacy_pswater", true);
}

TEST_CASE("protocol replay: consolidated_harm3d (non-zero virial; INIT exchange added)") {
    replay("consolidated_harm3d", false);
}

TEST_CASE("protocol replay: batched_pydriver (batch_size:2, padded batches)") {
    replay("batched_pydriver", true);
}
