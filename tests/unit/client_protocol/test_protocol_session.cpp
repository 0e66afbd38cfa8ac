// run_driver against a test peer playing i-PI's server side over real UNIX and TCP sockets.
#include "test_protocol_helpers.hpp"

#include <doctest/doctest.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <csignal>
#include <iterator>
#include <cmath>
#include <limits>
#include <string>
#include <thread>

using namespace gapd;
using namespace gapd::test;
using wire::Header;

namespace {

bool close_enough(double got, double want) { return std::abs(got - want) <= 1e-12 * std::max(1.0, std::abs(want)); }

void check_result(const wire::WireResult& got, const wire::WireResult& want, int call) {
    CHECK(close_enough(got.energy, want.energy));
    REQUIRE(got.forces.size() == want.forces.size());
    for (std::size_t k = 0; k < got.forces.size(); ++k) CHECK(close_enough(got.forces[k], want.forces[k]));
    for (int k = 0; k < 9; ++k) CHECK(close_enough(got.virial[k], want.virial[k]));
    CHECK(got.extras == "{\"call\": " + std::to_string(call) + "}");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(s * 1000))); }

}  // namespace

TEST_CASE("protocol session: default mode over UNIX with a custom prefix, NEEDINIT/INIT, EXIT") {
    TempDir dir;
    FakeIpi ipi = FakeIpi::listen_unix(dir.file("ipi_alpha"));
    HarmonicEngine engine(3);
    DriverRun run(unix_options(dir, "alpha"), engine);
    REQUIRE(ipi.accept());

    REQUIRE(ipi.handshake(5, " alpha : 1.5 , tag : hello , "));
    const auto s1 = make_structure(3), s2 = make_structure(3, 0.25);
    ipi.send_fused({s1});
    auto r1 = ipi.read_forceready();
    REQUIRE(r1);
    REQUIRE(r1->size() == 1);
    check_result(r1->at(0), harmonic_wire_result(s1), 1);
    CHECK(ipi.status() == Header::Ready);

    ipi.send_fused({s2});
    auto r2 = ipi.read_forceready();
    REQUIRE(r2);
    check_result(r2->at(0), harmonic_wire_result(s2), 2);
    CHECK(ipi.status() == Header::Ready);
    CHECK(ipi.status() == Header::Ready);  // STATUS is answered whenever it comes

    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);

    const auto inits = engine.inits();
    REQUIRE(inits.size() == 1);
    CHECK(inits[0].first == 5);
    CHECK(inits[0].second == " alpha : 1.5 , tag : hello , ");
    // The engine saw the cell with lattice vectors as rows: row 1 = column 1 of h, in Å.
    const auto frames = engine.frames();
    REQUIRE(frames.size() == 2);
    const double B = units::kBohrInAngstrom;
    CHECK(frames[0].cell(1, 0) == doctest::Approx(s1.h[1] * B));
    CHECK(frames[0].cell(1, 1) == doctest::Approx(s1.h[4] * B));
    CHECK(frames[0].cell(1, 2) == doctest::Approx(s1.h[7] * B));
    CHECK(frames[1].positions(2, 1) == doctest::Approx(s2.positions[7] * B));
    CHECK(contains(run.log(), "connected to i-PI at unix:" + dir.path() + "/ipi_alpha"));
}

TEST_CASE("protocol session: legacy mode over TCP (POSDATA, STATUS -> HAVEDATA, GETFORCE)") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(2);
    auto options = tcp_options(ipi.port());
    options.address = "localhost";  // a name, resolved to IPv4
    DriverRun run(options, engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));

    for (int call = 1; call <= 3; ++call) {
        const auto s = make_structure(2, 0.1 * call);
        ipi.send(wire::encode_posdata({s}));
        CHECK(ipi.status() == Header::HaveData);
        CHECK(ipi.status() == Header::HaveData);
        ipi.send(Header::GetForce);
        auto r = ipi.read_forceready();
        REQUIRE(r);
        check_result(r->at(0), harmonic_wire_result(s), call);
        CHECK(ipi.status() == Header::Ready);
    }
    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
    CHECK(contains(run.log(), "connected to i-PI at tcp:localhost:" + std::to_string(ipi.port())));
}

TEST_CASE("protocol session: ASE-style server (INIT text NUL, POSDATA in pieces, legacy sequence)") {
    TempDir dir;
    FakeIpi server = FakeIpi::listen_unix(dir.file("ipi_ase"));
    HarmonicEngine engine(2);
    DriverRun run(unix_options(dir, "ase"), engine);
    REQUIRE(server.accept());
    REQUIRE(server.handshake(0, std::string(1, '\0')));
    const auto s = make_structure(2);
    const auto bytes = wire::encode_posdata({s});
    // header, h, h^-1, natoms, positions: one send each, with pauses that split gapd's reads
    const std::size_t cuts[] = {0, 12, 84, 156, 160, bytes.size()};
    for (std::size_t k = 0; k + 1 < std::size(cuts); ++k) {
        server.send_raw(bytes.data() + cuts[k], cuts[k + 1] - cuts[k]);
        sleep_s(0.02);
    }
    CHECK(server.status() == Header::HaveData);
    server.send(Header::GetForce);
    auto r = server.read_forceready();
    REQUIRE(r);
    check_result(r->at(0), harmonic_wire_result(s), 1);
    CHECK(server.status() == Header::Ready);
    server.send(Header::Exit);
    CHECK(server.wait_close() == "eof");
    server.close_client();
    CHECK(run.wait() == kExitOk);
    REQUIRE(engine.inits().size() == 1);
    CHECK(engine.inits()[0].second == std::string(1, '\0'));
}

TEST_CASE("protocol session: a request whose GETFORCE comes late is still answered") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(2);
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    const auto s = make_structure(2);
    ipi.send(wire::encode_posdata({s}));
    sleep_s(0.4);  // longer than the mode detection wait
    ipi.send(Header::GetForce);
    auto r = ipi.read_forceready();
    REQUIRE(r);
    check_result(r->at(0), harmonic_wire_result(s), 1);
    ipi.send_fused({s});  // then the default mode, detected on this request
    r = ipi.read_forceready();
    REQUIRE(r);
    check_result(r->at(0), harmonic_wire_result(s), 2);
    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
}

TEST_CASE("protocol session: batched requests (batch_size:2) with padding") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(3);
    DriverOptions verbose;
    verbose.verbose = true;
    DriverRun run(tcp_options(ipi.port()), engine, verbose);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, "  batch_size:2"));

    const auto a = make_structure(3, 0.0), b = make_structure(3, 0.5), c = make_structure(3, 1.0);
    ipi.send_fused({a, b});
    auto r = ipi.read_forceready(2);
    REQUIRE(r);
    REQUIRE(r->size() == 2);
    check_result(r->at(0), harmonic_wire_result(a), 1);
    check_result(r->at(1), harmonic_wire_result(b), 2);
    CHECK(ipi.status() == Header::Ready);

    // A short batch padded by repeating the last structure: same answer twice, computed once.
    ipi.send_fused({c, c});
    r = ipi.read_forceready(2);
    REQUIRE(r);
    check_result(r->at(0), harmonic_wire_result(c), 3);
    check_result(r->at(1), harmonic_wire_result(c), 3);
    CHECK(engine.frames().size() == 3);

    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
    CHECK(contains(run.log(), "batch size 2"));
}

TEST_CASE("protocol session: fatal errors close cleanly and exit non-zero") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(3);
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    std::string expected;

    SUBCASE("natoms differs from the template") {
        REQUIRE(ipi.handshake(0, " "));
        ipi.send_fused({make_structure(4)});
        expected = "i-PI sent 4 atoms but the template has 3";
    }
    SUBCASE("NaN position") {
        REQUIRE(ipi.handshake(0, " "));
        auto s = make_structure(3);
        s.positions[5] = std::numeric_limits<double>::quiet_NaN();
        ipi.send_fused({s});
        expected = "non-finite position (atom 1, z)";
    }
    SUBCASE("engine throws") {
        engine.on_compute = [](int) { throw std::runtime_error("model exploded"); };
        REQUIRE(ipi.handshake(0, " "));
        ipi.send_fused({make_structure(3)});
        expected = "force engine failed: model exploded";
    }
    SUBCASE("unknown message") {
        REQUIRE(ipi.handshake(0, " "));
        ipi.send_raw("HELLO       ", 12);
        expected = "unexpected message from i-PI: 'HELLO       '";
    }
    SUBCASE("GETFORCE with nothing computed") {
        REQUIRE(ipi.handshake(0, " "));
        ipi.send(Header::GetForce);
        expected = "GETFORCE with no POSDATA";
    }
    SUBCASE("POSDATA before INIT") {
        ipi.send_fused({make_structure(3)});
        expected = "POSDATA before INIT";
    }
    SUBCASE("absurd INIT length") {
        ipi.send(Header::Init);
        const std::int32_t rid_len[2] = {0, 1 << 30};
        ipi.send_raw(rid_len, sizeof rid_len);
        expected = "INIT announces a text of 1073741824 bytes";
    }

    // Everything i-PI sent was read before closing: an orderly end of stream, not a reset.
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK_MESSAGE(contains(run.log(), "gapd: error: "), run.log());
    CHECK_MESSAGE(contains(run.log(), expected), run.log());
}

TEST_CASE("protocol session: i-PI restarts, idle and mid-request; gapd reconnects") {
    TempDir dir;
    const std::string path = dir.file("ipi_restart");
    HarmonicEngine engine(2);
    std::optional<DriverRun> run;
    {
        FakeIpi first = FakeIpi::listen_unix(path);
        run.emplace(unix_options(dir, "restart"), engine);
        REQUIRE(first.accept());
        REQUIRE(first.handshake(0, " "));
        first.send_fused({make_structure(2)});
        REQUIRE(first.read_forceready());
        CHECK(first.status() == Header::Ready);
    }  // i-PI dies while idle: no EXIT, socket removed
    sleep_s(0.3);
    {
        FakeIpi second = FakeIpi::listen_unix(path);
        REQUIRE(second.accept());
        REQUIRE(second.handshake(1, " "));  // a new connection starts from NEEDINIT
        second.send_fused({make_structure(2, 0.5)});
    }  // dies with the request in flight, reply unread
    sleep_s(0.3);
    FakeIpi third = FakeIpi::listen_unix(path);
    REQUIRE(third.accept());
    REQUIRE(third.handshake(2, " "));
    const auto s = make_structure(2, 1.0);
    third.send_fused({s});
    auto r = third.read_forceready();
    REQUIRE(r);
    check_result(r->at(0), harmonic_wire_result(s), 3);
    third.send(Header::Exit);
    CHECK(third.wait_close() == "eof");
    third.close_client();
    CHECK(run->wait() == kExitOk);
    CHECK(engine.inits().size() == 3);
    CHECK(contains(run->log(), "reconnected to i-PI"));
}

TEST_CASE("protocol session: without reconnect, losing i-PI is an error") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(2);
    DriverOptions options;
    options.reconnect = false;
    DriverRun run(tcp_options(ipi.port()), engine, options);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    CHECK(contains(run.log(), "without EXIT"));
}

TEST_CASE("protocol session: gapd started before i-PI keeps trying") {
    TempDir dir;
    const std::string path = dir.file("ipi_late");
    HarmonicEngine engine(2);
    DriverRun run(unix_options(dir, "late"), engine);
    sleep_s(0.5);
    CHECK_FALSE(run.finished_within(0));
    FakeIpi ipi = FakeIpi::listen_unix(path);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
}

TEST_CASE("protocol session: connection failures") {
    HarmonicEngine engine(2);
    TempDir dir;
    SUBCASE("nobody listening: give up after the connect timeout") {
        auto options = unix_options(dir, "nobody");
        options.connect_timeout_s = 0.4;
        const auto t0 = Clock::now();
        DriverRun run(options, engine);
        CHECK(run.wait() == kExitNoConnection);
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        CHECK(elapsed >= 0.35);
        CHECK(elapsed < 10.0);  // far below the default 120 s; generous for a loaded CI machine
        CHECK(contains(run.log(), "could not connect to i-PI at unix:" + dir.path() + "/ipi_nobody"));
    }
    SUBCASE("TCP port closed") {
        int port;
        {
            FakeIpi gone = FakeIpi::listen_tcp();
            port = gone.port();
        }
        auto options = tcp_options(port);
        options.connect_timeout_s = 0.3;
        DriverRun run(options, engine);
        CHECK(run.wait() == kExitNoConnection);
        CHECK_MESSAGE(contains(run.log(), "Connection refused"), run.log());
    }
    SUBCASE("UNIX path longer than sun_path: immediate, clear error") {
        auto options = unix_options(dir, std::string(120, 'x'));
        const auto t0 = Clock::now();
        DriverRun run(options, engine);
        CHECK(run.wait() == kExitNoConnection);
        // "Immediate" = no retrying until the 120 s connect timeout; 10 s leaves room for a loaded machine.
        CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 10.0);
        CHECK(contains(run.log(), "the limit is 107"));
    }
    SUBCASE("TCP without a port") {
        auto options = tcp_options(0);
        DriverRun run(options, engine);
        CHECK(run.wait() == kExitNoConnection);
        CHECK(contains(run.log(), "port 0"));
    }
    SUBCASE("stop while waiting for i-PI") {
        DriverRun run(unix_options(dir, "never"), engine);
        sleep_s(0.2);
        request_stop();
        CHECK(run.wait(3) == kExitOk);
    }
}

TEST_CASE("protocol session: SIGTERM during a request: reply sent, then a clean close") {
    install_stop_handlers();
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(3);
    engine.on_compute = [](int call) {
        if (call == 2) std::raise(SIGTERM);
    };
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    const auto s = make_structure(3);

    SUBCASE("default mode") {
        ipi.send_fused({s});
        REQUIRE(ipi.read_forceready());
        CHECK(ipi.status() == Header::Ready);
        ipi.send_fused({s});
        auto r = ipi.read_forceready();
        REQUIRE(r);
        check_result(r->at(0), harmonic_wire_result(s), 2);
    }
    SUBCASE("legacy mode: the result is still fetched with STATUS and GETFORCE") {
        ipi.send(wire::encode_posdata({s}));
        CHECK(ipi.status() == Header::HaveData);
        ipi.send(Header::GetForce);
        REQUIRE(ipi.read_forceready());
        ipi.send(wire::encode_posdata({s}));
        sleep_s(0.3);  // the signal arrives during compute, before i-PI's STATUS
        CHECK(ipi.status() == Header::HaveData);
        ipi.send(Header::GetForce);
        auto r = ipi.read_forceready();
        REQUIRE(r);
        check_result(r->at(0), harmonic_wire_result(s), 2);
    }
    CHECK(ipi.wait_close() == "eof");  // no EXIT needed
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
    CHECK(stop_requests() == 1);
    CHECK(contains(run.log(), "stop requested"));
}

TEST_CASE("protocol session: stop while idle closes at once") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(2);
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    const auto t0 = Clock::now();
    request_stop();
    CHECK(ipi.wait_close(5) == "eof");  // idle gapd would otherwise wait for i-PI's next message forever
    CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 5.0);
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
}

TEST_CASE("protocol session: a second stop abandons a legacy result i-PI does not fetch, exit non-zero") {
    FakeIpi ipi = FakeIpi::listen_tcp();
    HarmonicEngine engine(2);
    engine.on_compute = [](int) {
        request_stop();
        request_stop();
    };
    DriverRun run(tcp_options(ipi.port()), engine);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    // POSDATA followed by STATUS, as legacy i-PI sends them; gapd leaves without answering, but reads
    // the STATUS first, so that i-PI sees an orderly close.
    auto bytes = wire::encode_posdata({make_structure(2)});
    const auto status = wire::header_bytes(Header::Status);
    bytes.insert(bytes.end(), status.begin(), status.end());
    ipi.send(bytes);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);  // a computed reply was dropped: i-PI must re-queue the request
}

TEST_CASE("protocol session: default mode reads GETFORCE before computing") {
    // If gapd is killed during a computation, its socket must hold nothing unread, so that the kernel
    // ends the stream in order and i-PI re-queues the request (a reset with GETFORCE unread hangs i-PI).
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    const int gapd_fd = fds[0];
    Transport transport(gapd_fd, "test i-PI");
    FakeIpi ipi = FakeIpi::on_socket(fds[1]);
    HarmonicEngine engine(3);
    std::vector<int> unread;  // read by this thread only after the session has ended
    engine.on_compute = [&](int) {
        int n = -1;
        ::ioctl(gapd_fd, FIONREAD, &n);
        unread.push_back(n);
    };
    clear_stop_requests();
    std::ostringstream log;
    DriverOptions options;
    options.log = &log;
    auto session = std::async(std::launch::async, [&] { return serve_connection(transport, engine, options); });

    REQUIRE(ipi.handshake(0, " "));
    for (int call = 1; call <= 2; ++call) {
        ipi.send_fused({make_structure(3, call)});
        REQUIRE(ipi.read_forceready());
    }
    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    REQUIRE(session.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(session.get() == SessionEnd::Exit);
    CHECK(unread == std::vector<int>{0, 0});
}
