// run_driver with PayloadRoute::SharedMemory against a test peer playing i-PI 3.3's <ffsocket mode='shm'>:
// segments created here (as i-PI's SHMDriver does), handshake and triggers on a UNIX socket.
#include "client_protocol/shm_messages.hpp"
#include "test_protocol_helpers.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

using namespace gapd;
using namespace gapd::test;
using wire::Header;
using wire::ShmSegment;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A POSIX segment owned by the test (created, then unlinked on scope exit), like i-PI's.
class OwnedSegment {
public:
    OwnedSegment(std::string name, std::size_t doubles) : name_(std::move(name)), bytes_(doubles * sizeof(double)) {
        const int fd = ::shm_open(("/" + name_).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::ftruncate(fd, static_cast<off_t>(bytes_)) == 0);
        data_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ::close(fd);
        REQUIRE(data_ != MAP_FAILED);
    }
    ~OwnedSegment() {
        ::munmap(data_, bytes_);
        ::shm_unlink(("/" + name_).c_str());
    }
    double* doubles() { return static_cast<double*>(data_); }
    const std::string& name() const { return name_; }

private:
    std::string name_;
    std::size_t bytes_;
    void* data_;
};

// The six segments of one connection, sized for natoms x batch (size_of overrides one segment's size).
struct Segments {
    Segments(std::size_t natoms, std::size_t batch, std::optional<std::pair<ShmSegment, std::size_t>> size_of = {}) {
        const std::string stem = "ipi_shm_gapdtest_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_";
        for (ShmSegment s : wire::kShmSegments) {
            std::size_t n = wire::shm_segment_doubles(s, natoms, batch);
            if (size_of && size_of->first == s) n = size_of->second;
            all.emplace_back(std::make_unique<OwnedSegment>(stem + wire::shm_segment_kind(s), n));
        }
    }
    std::array<std::string, 6> names() const {
        std::array<std::string, 6> out;
        for (std::size_t k = 0; k < 6; ++k) out[k] = all[k]->name();
        return out;
    }
    double* operator[](ShmSegment s) { return all[static_cast<std::size_t>(s)]->doubles(); }
    // Stages structures and returns the POSDATA + GETFORCE trigger (names on the first one only).
    wire::Bytes trigger(const std::vector<wire::WireStructure>& structures, bool first) {
        const std::size_t natoms = structures[0].natoms();
        for (std::size_t i = 0; i < structures.size(); ++i) {
            std::memcpy((*this)[ShmSegment::Pos] + 3 * natoms * i, structures[i].positions.data(), 24 * natoms);
            std::memcpy((*this)[ShmSegment::H] + 9 * i, structures[i].h.data(), 72);
            std::memcpy((*this)[ShmSegment::Ih] + 9 * i, structures[i].h_inv.data(), 72);
        }
        wire::Bytes out;
        wire::put_header(out, Header::PosData);
        wire::put_i32(out, static_cast<std::int32_t>(natoms));
        if (first) {
            const auto names_bytes = wire::encode_shm_names(names());
            out.insert(out.end(), names_bytes.begin(), names_bytes.end());
        }
        wire::put_header(out, Header::GetForce);
        return out;
    }
    std::vector<std::unique_ptr<OwnedSegment>> all;
    static inline int counter = 0;
};

// FORCEREADY of the shm layout: header, then one extras string per structure.
std::optional<std::vector<std::string>> read_shm_forceready(FakeIpi& ipi, std::size_t batch) {
    if (ipi.recv_header() != Header::ForceReady) return std::nullopt;
    std::vector<std::string> extras;
    for (std::size_t i = 0; i < batch; ++i) {
        std::int32_t len;
        if (!ipi.recv(&len, 4) || len < 0 || len > 4096) return std::nullopt;
        std::string text(static_cast<std::size_t>(len), '\0');
        if (!ipi.recv(text.data(), text.size())) return std::nullopt;
        extras.push_back(text);
    }
    return extras;
}

void check_in_segments(Segments& seg, std::size_t i, const wire::WireResult& want) {
    const std::size_t n = want.forces.size();
    CHECK(seg[ShmSegment::Pot][i] == doctest::Approx(want.energy).epsilon(1e-12));
    for (std::size_t k = 0; k < n; ++k) CHECK(seg[ShmSegment::Force][n * i + k] == doctest::Approx(want.forces[k]).epsilon(1e-12));
    for (std::size_t k = 0; k < 9; ++k) CHECK(seg[ShmSegment::Vir][9 * i + k] == doctest::Approx(want.virial[k]).epsilon(1e-12));
}

DriverOptions shm_driver() {
    DriverOptions o;
    o.payload = PayloadRoute::SharedMemory;
    o.reconnect = false;
    return o;
}

}  // namespace

TEST_CASE("shm session: default and legacy sequences, numbers in the segments, extras on the socket, EXIT") {
    TempDir dir;
    FakeIpi ipi = FakeIpi::listen_unix(dir.file("ipi_shm"));
    HarmonicEngine engine(3);
    DriverRun run(unix_options(dir, "shm"), engine, shm_driver());
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    Segments seg(3, 1);

    const auto s1 = make_structure(3), s2 = make_structure(3, 0.3);
    ipi.send(seg.trigger({s1}, true));
    auto extras = read_shm_forceready(ipi, 1);
    REQUIRE(extras);
    CHECK(extras->at(0) == "{\"call\": 1}");
    check_in_segments(seg, 0, harmonic_wire_result(s1));
    CHECK(ipi.status() == Header::Ready);

    // Legacy: POSDATA, STATUS -> HAVEDATA, GETFORCE (no names after the first POSDATA).
    auto trigger = seg.trigger({s2}, false);
    trigger.resize(trigger.size() - wire::kHeaderSize);
    ipi.send(trigger);
    CHECK(ipi.status() == Header::HaveData);
    ipi.send(Header::GetForce);
    extras = read_shm_forceready(ipi, 1);
    REQUIRE(extras);
    CHECK(extras->at(0) == "{\"call\": 2}");
    check_in_segments(seg, 0, harmonic_wire_result(s2));

    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
}

TEST_CASE("shm session: batched (batch_size:3) with padding") {
    TempDir dir;
    FakeIpi ipi = FakeIpi::listen_unix(dir.file("ipi_shmb"));
    HarmonicEngine engine(2);
    DriverRun run(unix_options(dir, "shmb"), engine, shm_driver());
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, "batch_size:3"));
    Segments seg(2, 3);
    const auto a = make_structure(2), b = make_structure(2, 0.5);
    ipi.send(seg.trigger({a, b, b}, true));
    auto extras = read_shm_forceready(ipi, 3);
    REQUIRE(extras);
    CHECK(extras->at(0) == "{\"call\": 1}");
    CHECK(extras->at(2) == "{\"call\": 2}");
    check_in_segments(seg, 0, harmonic_wire_result(a));
    check_in_segments(seg, 1, harmonic_wire_result(b));
    check_in_segments(seg, 2, harmonic_wire_result(b));
    CHECK(engine.frames().size() == 2);
    ipi.send(Header::Exit);
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitOk);
}

TEST_CASE("shm session: mismatched set-ups end with one clear error line and a clean close") {
    TempDir dir;
    FakeIpi ipi = FakeIpi::listen_unix(dir.file("ipi_shmbad"));
    HarmonicEngine engine(3);
    std::string expected;
    DriverOptions options = shm_driver();
    std::optional<Segments> keep;

    SUBCASE("i-PI not in mode='shm' (a socket-layout POSDATA)") {
        options.payload = PayloadRoute::SharedMemory;
        expected = "is its <ffsocket> mode='shm'? gapd serve --shm needs it";
    }
    SUBCASE("gapd without --shm, i-PI in mode='shm'") {
        options.payload = PayloadRoute::Socket;
        expected = "i-PI is in mode='shm' (its POSDATA names shared-memory segments): start gapd serve with --shm";
    }
    SUBCASE("a segment that does not exist") { expected = "does not exist: gapd --shm must run on the machine of i-PI"; }
    SUBCASE("a segment smaller than the atom count needs") {
        expected = "holds 64 bytes; force for 3 atoms x batch 1 need 72";
    }
    DriverRun run(unix_options(dir, "shmbad"), engine, options);
    REQUIRE(ipi.accept());
    REQUIRE(ipi.handshake(0, " "));
    const auto s = make_structure(3);
    if (contains(expected, "needs it")) {
        ipi.send_fused({s});
    } else if (contains(expected, "does not exist")) {
        Segments seg(3, 1);
        auto trigger = seg.trigger({s}, true);
        seg.all[3].reset();  // pot unlinked before gapd maps it
        ipi.send(trigger);
    } else if (contains(expected, "holds 64")) {
        keep.emplace(3, 1, std::make_pair(ShmSegment::Force, std::size_t{8}));
        ipi.send(keep->trigger({s}, true));
    } else {
        Segments seg(3, 1);
        ipi.send(seg.trigger({s}, true));
    }
    CHECK(ipi.wait_close() == "eof");
    ipi.close_client();
    CHECK(run.wait() == kExitError);
    const std::string log = run.log();
    CHECK_MESSAGE(contains(log, expected), log);
    std::size_t errors = 0;
    for (std::size_t at = log.find("gapd: error:"); at != std::string::npos; at = log.find("gapd: error:", at + 1)) ++errors;
    CHECK_MESSAGE(errors == 1, log);
}
