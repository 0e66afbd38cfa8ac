// Byte layouts of the i-PI messages and the limits on sizes read from the wire.
#include "client_protocol/wire_messages.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace gapd::wire;

namespace {

std::string as_string(const std::array<char, kHeaderSize>& b) { return std::string(b.data(), b.size()); }

Bytes i32_bytes(std::int32_t v) {
    Bytes b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
}

WireStructure structure(std::size_t natoms, double offset) {
    WireStructure s;
    for (int k = 0; k < 9; ++k) {
        s.h[k] = k % 4 == 0 ? 10.0 + offset : 0.5 * k;
        s.h_inv[k] = -k - offset;
    }
    for (std::size_t i = 0; i < 3 * natoms; ++i) s.positions.push_back(offset + 0.25 * static_cast<double>(i));
    return s;
}

}  // namespace

TEST_CASE("protocol wire: headers are 12 bytes padded with spaces, matched exactly") {
    CHECK(as_string(header_bytes(Header::Status)) == "STATUS      ");
    CHECK(as_string(header_bytes(Header::NeedInit)) == "NEEDINIT    ");
    CHECK(as_string(header_bytes(Header::ForceReady)) == "FORCEREADY  ");
    CHECK(parse_header("GETFORCE    ") == Header::GetForce);
    CHECK(parse_header("EXIT        ") == Header::Exit);
    const char nul_padded[12] = {'S', 'T', 'A', 'T', 'U', 'S', 0, 0, 0, 0, 0, 0};
    CHECK(parse_header(nul_padded) == Header::Unknown);
    CHECK(parse_header("status      ") == Header::Unknown);
    CHECK(quote_header(nul_padded) == "'STATUS\\x00\\x00\\x00\\x00\\x00\\x00'");
}

TEST_CASE("protocol wire: INIT layout, text limit, batch_size announcement") {
    const Bytes init = encode_init(7, " alpha : 1.5 , ");
    REQUIRE(init.size() == 12 + 8 + 15);
    CHECK(std::string(init.begin(), init.begin() + 12) == "INIT        ");
    ByteReader reader(init.data() + 12, init.size() - 12);
    const auto prefix = decode_init_prefix(reader);
    CHECK(prefix.request_id == 7);
    CHECK(prefix.text_size == 15);
    CHECK(reader.text(prefix.text_size) == " alpha : 1.5 , ");

    auto prefix_with = [](std::int32_t len) {
        Bytes b = i32_bytes(0);
        const Bytes l = i32_bytes(len);
        b.insert(b.end(), l.begin(), l.end());
        ByteReader r(b);
        return decode_init_prefix(r);
    };
    CHECK(prefix_with(0).text_size == 0);
    CHECK(prefix_with(static_cast<std::int32_t>(kMaxInitText)).text_size == kMaxInitText);
    CHECK_THROWS_AS(prefix_with(static_cast<std::int32_t>(kMaxInitText) + 1), ProtocolError);
    CHECK_THROWS_AS(prefix_with(-1), ProtocolError);

    CHECK(batch_size_from_init(" ") == 1);
    CHECK(batch_size_from_init(" alpha : 1.5 , tag : hello , ") == 1);
    CHECK(batch_size_from_init("  batch_size:2") == 2);  // i-PI 3.3 with empty <parameters>
    CHECK(batch_size_from_init(" alpha : 1.5 , tag : x ,, batch_size:16") == 16);
    CHECK(batch_size_from_init("batch_size : 3 ") == 3);
    CHECK(batch_size_from_init("my_batch_size:9") == 1);
    CHECK_THROWS_AS(batch_size_from_init("batch_size:0"), ProtocolError);
    CHECK_THROWS_AS(batch_size_from_init("batch_size:two"), ProtocolError);
    CHECK_THROWS_AS(batch_size_from_init("batch_size:2.5"), ProtocolError);
    CHECK_THROWS_AS(batch_size_from_init("batch_size:" + std::to_string(kMaxBatch + 1)), ProtocolError);
}

TEST_CASE("protocol wire: POSDATA single and batched layouts round-trip") {
    const WireStructure a = structure(3, 0.0), b = structure(3, 1.0);

    const Bytes single = encode_posdata({a});
    REQUIRE(single.size() == 12 + 72 + 72 + 4 + 72);
    CHECK(std::string(single.begin(), single.begin() + 12) == "POSDATA     ");
    CHECK(posdata_head_size(1) == 148);
    const Bytes single_body(single.begin() + 12, single.end());
    CHECK(posdata_natoms(single_body.data(), 1) == 3);
    CHECK(posdata_rest_size(3, 1) == 72);
    const auto one = decode_posdata_body(single_body, 1);
    REQUIRE(one.size() == 1);
    CHECK(one[0].h == a.h);
    CHECK(one[0].h_inv == a.h_inv);
    CHECK(one[0].positions == a.positions);

    // Batched: natoms first, then all cell blocks, then all positions.
    const Bytes batched = encode_posdata({a, b});
    REQUIRE(batched.size() == 12 + 4 + 2 * 144 + 2 * 72);
    CHECK(posdata_head_size(2) == 4);
    const Bytes batched_body(batched.begin() + 12, batched.end());
    CHECK(posdata_natoms(batched_body.data(), 2) == 3);
    CHECK(posdata_rest_size(3, 2) == 2 * 144 + 2 * 72);
    double second_h0;
    std::memcpy(&second_h0, batched_body.data() + 4 + 144, 8);
    CHECK(second_h0 == b.h[0]);
    const auto two = decode_posdata_body(batched_body, 2);
    REQUIRE(two.size() == 2);
    CHECK(two[0].positions == a.positions);
    CHECK(two[1].positions == b.positions);
    CHECK(two[1].h == b.h);
    CHECK(two[1].h_inv == b.h_inv);

    Bytes truncated = single_body;
    truncated.pop_back();
    CHECK_THROWS_AS(decode_posdata_body(truncated, 1), ProtocolError);
}

TEST_CASE("protocol wire: atom counts are validated before anything is allocated") {
    auto head_with = [](std::int32_t natoms, std::size_t batch) {
        Bytes head(posdata_head_size(batch), 0);
        std::memcpy(head.data() + head.size() - 4, &natoms, 4);
        return posdata_natoms(head.data(), batch);
    };
    CHECK(head_with(1, 1) == 1);
    CHECK(head_with(static_cast<std::int32_t>(kMaxAtoms), 1) == kMaxAtoms);
    CHECK_THROWS_AS(head_with(0, 1), ProtocolError);
    CHECK_THROWS_AS(head_with(-3, 1), ProtocolError);
    CHECK_THROWS_AS(head_with(static_cast<std::int32_t>(kMaxAtoms) + 1, 1), ProtocolError);
    CHECK_THROWS_AS(head_with(INT32_MAX, 1), ProtocolError);
    CHECK(head_with(static_cast<std::int32_t>(kMaxAtoms / 4), 4) == kMaxAtoms / 4);
    CHECK_THROWS_AS(head_with(static_cast<std::int32_t>(kMaxAtoms / 4) + 1, 4), ProtocolError);

    // A FORCEREADY body claiming many atoms but holding few bytes fails on the size, not on memory.
    Bytes lying(8);
    const Bytes n = i32_bytes(static_cast<std::int32_t>(kMaxAtoms));
    lying.insert(lying.end(), n.begin(), n.end());
    ByteReader reader(lying);
    CHECK_THROWS_AS(decode_forceready_body(reader, 1), ProtocolError);
}

TEST_CASE("protocol wire: FORCEREADY single and batched layouts round-trip") {
    WireResult r1;
    r1.energy = 0.25;
    r1.forces = {1, 2, 3, 4, 5, 6};
    for (int k = 0; k < 9; ++k) r1.virial[k] = k;
    r1.extras = "{\"dipole\": [1, 2, 3]}";
    WireResult r2 = r1;
    r2.energy = -1.5;
    r2.forces[0] = 9;
    r2.extras = " ";

    const Bytes single = encode_forceready({r1});
    REQUIRE(single.size() == 12 + 8 + 4 + 48 + 72 + 4 + r1.extras.size());
    CHECK(std::string(single.begin(), single.begin() + 12) == "FORCEREADY  ");
    {
        ByteReader reader(single.data() + 12, single.size() - 12);
        const auto back = decode_forceready_body(reader, 1);
        CHECK(reader.remaining() == 0);
        REQUIRE(back.size() == 1);
        CHECK(back[0].energy == r1.energy);
        CHECK(back[0].forces == r1.forces);
        CHECK(back[0].virial == r1.virial);
        CHECK(back[0].extras == r1.extras);
    }

    // Batched: energies, natoms, all forces, all virials, then each (length, extras).
    const Bytes batched = encode_forceready({r1, r2});
    REQUIRE(batched.size() == 12 + 16 + 4 + 96 + 144 + 8 + r1.extras.size() + 1);
    double e2;
    std::memcpy(&e2, batched.data() + 12 + 8, 8);
    CHECK(e2 == r2.energy);
    std::int32_t natoms;
    std::memcpy(&natoms, batched.data() + 12 + 16, 4);
    CHECK(natoms == 2);
    double f2_0;
    std::memcpy(&f2_0, batched.data() + 12 + 16 + 4 + 48, 8);
    CHECK(f2_0 == 9);
    CHECK(batched.back() == ' ');
    ByteReader reader(batched.data() + 12, batched.size() - 12);
    const auto back = decode_forceready_body(reader, 2);
    CHECK(reader.remaining() == 0);
    REQUIRE(back.size() == 2);
    CHECK(back[1].energy == r2.energy);
    CHECK(back[1].forces == r2.forces);
    CHECK(back[0].extras == r1.extras);
    CHECK(back[1].extras == r2.extras);

    WireResult other = r1;
    other.forces.resize(9);
    CHECK_THROWS_AS(encode_forceready({r1, other}), ProtocolError);
    CHECK_THROWS_AS(encode_forceready({}), ProtocolError);
}
