// Hostile and broken peers (issue #18): out-of-sync streams, stalled messages, signals during a reply.
#include "test_protocol_helpers.hpp"

#include "client_protocol/frame_conversion.hpp"

#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>

using namespace gapd;
using namespace gapd::test;
using wire::Header;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// POSDATA's header and the first `keep` bytes of its body: a message i-PI began and never finished.
wire::Bytes truncated_posdata(std::size_t natoms, std::size_t keep) {
    wire::Bytes bytes = wire::encode_posdata({make_structure(natoms)});
    bytes.resize(wire::kHeaderSize + keep);
    return bytes;
}

}  // namespace

TEST_CASE("hostile peer: a second INIT is an out-of-sync stream, not a new batch size") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(2);
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    ipi.send(wire::encode_init(7, "batch_size:2"));
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK_MESSAGE(contains(run.log(), "i-PI sent INIT on a connection already initialised"), run.log());
    CHECK_MESSAGE(contains(run.log(), "out of sync"), run.log());
    CHECK(engine.inits().size() == 1);
}

TEST_CASE("hostile peer: the bytes of EXIT read as a coordinate are reported as an out-of-sync stream") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(3);
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    std::string expected;
    SUBCASE("in a position") {
        auto s = make_structure(3);
        std::memcpy(&s.positions[4], "    EXIT", 8);  // the end of an EXIT header: 1e98 as a double
        ipi.send_fused({s});
        expected = "absurd position (atom 1, y)";
    }
    SUBCASE("in the cell") {
        auto s = make_structure(3);
        std::memcpy(&s.h[8], "    EXIT", 8);
        ipi.send_fused({s});
        expected = "absurd cell matrix element h[2][2]";
    }
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK_MESSAGE(contains(run.log(), expected), run.log());
    CHECK_MESSAGE(contains(run.log(), "out of sync"), run.log());
    CHECK_MESSAGE(!contains(run.log(), "overlap"), run.log());
    CHECK(engine.frames().empty());
}

TEST_CASE("hostile peer: coordinates up to the bound are still accepted") {
    wire::WireStructure s = make_structure(2);
    s.positions[0] = 0.99 * wire::kMaxCoordinateBohr;
    CHECK_NOTHROW(frame_from_wire(s, true));
    s.positions[0] = 1.01 * wire::kMaxCoordinateBohr;
    CHECK_THROWS_WITH_AS(frame_from_wire(s, true), doctest::Contains("absurd position (atom 0, x)"), wire::ProtocolError);
}

TEST_CASE("hostile peer: a POSDATA that stops half-way ends after --message-timeout") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(4);
    DriverOptions options;
    options.message_timeout_s = 0.4;
    DriverRun run(tcp_options(ipi.port()), engine, options);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    ipi.send(truncated_posdata(4, 100));
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK_MESSAGE(contains(run.log(), "i-PI sent nothing more of the POSDATA message for 0.4 s (--message-timeout)"),
                  run.log());
    CHECK(engine.frames().empty());
}

TEST_CASE("hostile peer: one stop request ends a wait for the rest of a message that never comes") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(4);
    DriverOptions options;  // default message timeout: far longer than the test
    options.stop_grace_s = 0.3;
    DriverRun run(tcp_options(ipi.port()), engine, options);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    SUBCASE("the rest of POSDATA") { ipi.send(truncated_posdata(4, 100)); }
    SUBCASE("the rest of a header") { ipi.send_raw("POSD", 4); }
    SUBCASE("GETFORCE after POSDATA in default mode") {
        ipi.send_fused({make_structure(4)});  // fixes the mode: default (fused)
        REQUIRE(ipi.read_forceready());
        ipi.send(wire::encode_posdata({make_structure(4, 1)}));  // and then no GETFORCE
    }
    // Let gapd begin reading (it polls every 100 ms; a stop seen while still idle is a plain stop, exit 0).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    request_stop();
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK_MESSAGE(contains(run.log(), "stop requested while waiting for"), run.log());
    CHECK_MESSAGE(contains(run.log(), "(nothing arrived for 0.3 s)"), run.log());
    CHECK_MESSAGE(contains(run.log(), "the request was abandoned"), run.log());
}

TEST_CASE("hostile peer: a second stop never cuts a reply larger than the socket buffer") {
    // 100,000 atoms: a 2.4 MB reply, many socket buffers. i-PI does not read it until both signals are in.
    const std::size_t natoms = 100000;
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(natoms);
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    const auto s = make_structure(natoms);
    ipi.send_fused({s});
    // Wait until the reply has begun (its first bytes are readable), then signal twice.
    CHECK(ipi.wait_readable(10));
    request_stop();
    request_stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // gapd's write loop sees both signals
    auto r = ipi.read_forceready();
    REQUIRE(r);  // whole and well-formed
    REQUIRE(r->at(0).forces.size() == 3 * natoms);
    const auto want = harmonic_wire_result(s).forces;
    double worst = 0;
    for (std::size_t k = 0; k < want.size(); ++k)
        worst = std::max(worst, std::abs(r->at(0).forces[k] - want[k]) / std::max(1.0, std::abs(want[k])));
    CHECK(worst < 1e-12);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);  // nothing was abandoned: the request was answered
}

TEST_CASE("hostile peer: a second stop during the computation drops the whole reply and exits non-zero") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(3);
    engine.on_compute = [](int) {
        request_stop();
        request_stop();
    };
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    ipi.send_fused({make_structure(3)});
    CHECK(ipi.wait_close() == "eof");  // not "data": not a byte of the reply
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK_MESSAGE(contains(run.log(), "the reply to request 1 was not sent"), run.log());
}

TEST_CASE("hostile peer: one stop with a legacy result i-PI never fetches ends after the grace period") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(2);
    engine.on_compute = [](int) { request_stop(); };
    DriverOptions options;
    options.stop_grace_s = 0.3;
    DriverRun run(tcp_options(ipi.port()), engine, options);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    ipi.send(wire::encode_posdata({make_structure(2)}));  // legacy: no GETFORCE, and i-PI never asks
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK_MESSAGE(contains(run.log(), "was not sent (i-PI did not ask for it within the grace period)"), run.log());
}
