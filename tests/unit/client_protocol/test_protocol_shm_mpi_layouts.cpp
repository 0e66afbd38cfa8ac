// The shared-memory (<ffsocket mode='shm'>) and MPI (<ffmpi>) layouts of i-PI 3.3: framing as pure functions.
#include "client_protocol/mpi_messages.hpp"
#include "client_protocol/shm_messages.hpp"
#include "test_protocol_helpers.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace gapd;
using namespace gapd::test;

namespace {

wire::Bytes i32_bytes(std::int32_t v) {
    wire::Bytes out;
    wire::put_i32(out, v);
    return out;
}

std::array<std::string, 6> ipi_names() {
    return {"ipi_shm_77_5_pos", "ipi_shm_77_5_h", "ipi_shm_77_5_ih", "ipi_shm_77_5_pot", "ipi_shm_77_5_force",
            "ipi_shm_77_5_vir"};
}

}  // namespace

TEST_CASE("shm layout: segment sizes follow i-PI's SHMDriver shapes") {
    using wire::ShmSegment;
    CHECK(wire::shm_segment_doubles(ShmSegment::Pos, 40, 1) == 120);
    CHECK(wire::shm_segment_doubles(ShmSegment::Force, 40, 3) == 360);
    CHECK(wire::shm_segment_doubles(ShmSegment::H, 40, 3) == 27);
    CHECK(wire::shm_segment_doubles(ShmSegment::Ih, 5, 2) == 18);
    CHECK(wire::shm_segment_doubles(ShmSegment::Vir, 5, 2) == 18);
    CHECK(wire::shm_segment_doubles(ShmSegment::Pot, 5, 4) == 4);
    CHECK(std::string(wire::shm_segment_kind(wire::kShmSegments[4])) == "force");
}

TEST_CASE("shm layout: segment names round-trip; anything else is refused") {
    const auto names = ipi_names();
    const wire::Bytes bytes = wire::encode_shm_names(names);
    wire::ByteReader reader(bytes);
    CHECK(wire::decode_shm_names(reader) == names);
    CHECK(reader.remaining() == 0);

    SUBCASE("a zero length (a cell element read as a name length)") {
        const auto b = i32_bytes(0);
        wire::ByteReader r(b);
        CHECK_THROWS_WITH_AS(wire::decode_shm_name(r), doctest::Contains("name length of 0"), wire::ProtocolError);
    }
    SUBCASE("a huge length") {
        const auto b = i32_bytes(1075052544);
        wire::ByteReader r(b);
        CHECK_THROWS_AS(wire::decode_shm_name(r), wire::ProtocolError);
    }
    SUBCASE("binary bytes") {
        wire::Bytes b = i32_bytes(4);
        for (std::uint8_t c : {0x00, 0x40, 0x1e, 0xff}) b.push_back(c);
        wire::ByteReader r(b);
        CHECK_THROWS_WITH_AS(wire::decode_shm_name(r), doctest::Contains("expected a shared-memory segment name"),
                             wire::ProtocolError);
    }
    SUBCASE("a slash (a path, not a name)") {
        wire::Bytes b;
        wire::put_text(b, "../etc");
        wire::ByteReader r(b);
        CHECK_THROWS_AS(wire::decode_shm_name(r), wire::ProtocolError);
    }
}

TEST_CASE("shm layout: a socket-layout client recognises an i-PI in mode='shm'") {
    wire::Bytes shm_body = i32_bytes(40);
    const auto names = wire::encode_shm_names(ipi_names());
    shm_body.insert(shm_body.end(), names.begin(), names.end());
    CHECK(wire::looks_like_shm_posdata(shm_body.data(), shm_body.size()));
    CHECK_FALSE(wire::looks_like_shm_posdata(shm_body.data(), 15));  // too short to tell

    // A socket-layout POSDATA (batch 1 and batched) never does.
    for (const auto& structures : {std::vector<wire::WireStructure>{make_structure(4)},
                                   std::vector<wire::WireStructure>{make_structure(4), make_structure(4, 0.5)}}) {
        const wire::Bytes message = wire::encode_posdata(structures);
        CHECK_FALSE(wire::looks_like_shm_posdata(message.data() + wire::kHeaderSize, message.size() - wire::kHeaderSize));
    }
}

TEST_CASE("shm layout: FORCEREADY carries only the header and the extras") {
    wire::WireResult a = harmonic_wire_result(make_structure(2)), b = a;
    a.extras = " ";
    b.extras = "{\"dipole\": [1, 2, 3]}";
    const wire::Bytes bytes = wire::encode_shm_forceready({a, b});
    REQUIRE(bytes.size() == wire::kHeaderSize + 4 + 1 + 4 + b.extras.size());
    CHECK(wire::parse_header(reinterpret_cast<const char*>(bytes.data())) == wire::Header::ForceReady);
    wire::ByteReader reader(bytes.data() + wire::kHeaderSize, bytes.size() - wire::kHeaderSize);
    CHECK(reader.text(static_cast<std::size_t>(reader.i32())) == " ");
    CHECK(reader.text(static_cast<std::size_t>(reader.i32())) == b.extras);
}

TEST_CASE("mpi layout: HELLO, WORK and RESULT as i-PI's ffmpi packs them") {
    CHECK(mpi::encode_hello(3) == std::vector<std::int32_t>{3, 1, 3});

    const auto s1 = make_structure(3), s2 = make_structure(3, 0.25);
    const auto body = mpi::encode_work({s1, s2});
    const auto header = mpi::decode_work_header({3, 2});
    CHECK(mpi::work_doubles(header) == 2 * (18 + 9));
    REQUIRE(body.size() == mpi::work_doubles(header));
    CHECK(body[0] == s1.h[0]);
    CHECK(body[18] == s1.positions[0]);           // h, h^-1, then positions
    CHECK(body[27 + 9] == s2.h_inv[0]);
    const auto back = mpi::decode_work(header, body);
    REQUIRE(back.size() == 2);
    CHECK(back[1].positions == s2.positions);
    CHECK(back[0].h == s1.h);

    auto short_body = body;
    short_body.pop_back();
    CHECK_THROWS_WITH_AS(mpi::decode_work(header, short_body), doctest::Contains("need 54"), wire::ProtocolError);
    CHECK_THROWS_AS(mpi::decode_work_header({0, 1}), wire::ProtocolError);
    CHECK_THROWS_AS(mpi::decode_work_header({3, 0}), wire::ProtocolError);
    CHECK_THROWS_AS(mpi::decode_work_header({3, static_cast<std::int32_t>(wire::kMaxBatch) + 1}), wire::ProtocolError);

    wire::WireResult r1 = harmonic_wire_result(s1), r2 = harmonic_wire_result(s2);
    r1.extras = " ";
    r2.extras = "{}";
    const auto out = mpi::encode_results({r1, r2});
    REQUIRE(out.numbers.size() == 2 * (1 + 9 + 9));
    CHECK(out.numbers[0] == r1.energy);
    CHECK(out.numbers[1] == r1.forces[0]);
    CHECK(out.numbers[10] == r1.virial[0]);
    CHECK(out.numbers[19] == r2.energy);
    wire::ByteReader extras(out.extras);
    CHECK(extras.text(static_cast<std::size_t>(extras.i32())) == " ");
    CHECK(extras.text(static_cast<std::size_t>(extras.i32())) == "{}");
    CHECK(extras.remaining() == 0);
}
