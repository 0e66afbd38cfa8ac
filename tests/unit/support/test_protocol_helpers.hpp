#pragma once
// Test support for the client_protocol tests: a harmonic ForceEngine with known answers, a minimal
// i-PI server side (listening on UNIX or TCP) with a time limit on every wait, and a guard that runs
// run_driver in a thread and aborts the test binary rather than let it hang.

#include "client_protocol/driver_session.hpp"
#include "client_protocol/force_engine.hpp"
#include "client_protocol/stop_signal.hpp"
#include "client_protocol/transport.hpp"
#include "models/core/units.hpp"
#include "client_protocol/wire_messages.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace gapd::test {

using Clock = std::chrono::steady_clock;

// E = k/2 sum |r|^2, F = -k r, W_ab = sum F_a r_b (eV, Å). Records what it was given; hooks let a test
// throw or raise a signal from inside compute().
class HarmonicEngine : public ForceEngine {
public:
    explicit HarmonicEngine(std::size_t natoms, double k = 0.7) : natoms_(natoms), k_(k) {}

    std::size_t natoms() const override { return natoms_; }
    bool uses_cell() const override { return uses_cell_; }
    void on_init(int rid, const std::string& text) override {
        std::lock_guard<std::mutex> lock(mutex_);
        inits_.emplace_back(rid, text);
    }
    ForceResult compute(const Frame& frame) override {
        int call;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            frames_.push_back(frame);
            call = static_cast<int>(frames_.size());
        }
        if (on_compute) on_compute(call);
        ForceResult r;
        r.energy = 0.5 * k_ * frame.positions.squaredNorm();
        r.forces = -k_ * frame.positions;
        r.virial = r.forces.transpose() * frame.positions;
        r.verbatim_extras = "{\"call\": " + std::to_string(call) + "}";
        return r;
    }

    std::vector<Frame> frames() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return frames_;
    }
    std::vector<std::pair<int, std::string>> inits() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return inits_;
    }

    bool uses_cell_ = true;
    std::function<void(int call)> on_compute;  // runs on the driver thread

private:
    std::size_t natoms_;
    double k_;
    mutable std::mutex mutex_;
    std::vector<Frame> frames_;
    std::vector<std::pair<int, std::string>> inits_;
};

// A triclinic structure as i-PI sends it (upper-triangular h, lattice vectors as columns, Bohr).
inline wire::WireStructure make_structure(std::size_t natoms, double shift = 0) {
    wire::WireStructure s;
    s.h = {10.0, -0.96, 1.05, 0.0, 10.96, 2.18, 0.0, 0.0, 11.75};
    s.h_inv = {0.1, 0.0087, -0.0105, 0.0, 0.0912, -0.0169, 0.0, 0.0, 0.0851};
    for (std::size_t i = 0; i < 3 * natoms; ++i) s.positions.push_back(0.1 + 0.37 * static_cast<double>(i) + shift);
    return s;
}

// The harmonic engine's answer in wire units, written directly in Bohr/Hartree.
inline wire::WireResult harmonic_wire_result(const wire::WireStructure& s, double k = 0.7) {
    using namespace units;
    const double b2_over_h = kBohrInAngstrom * kBohrInAngstrom / kHartreeInEv;
    wire::WireResult r;
    double p2 = 0;
    for (double p : s.positions) p2 += p * p;
    r.energy = 0.5 * k * p2 * b2_over_h;
    for (double p : s.positions) r.forces.push_back(-k * p * b2_over_h);
    for (int a = 0; a < 3; ++a) {
        for (int b = 0; b < 3; ++b) {
            double w = 0;
            for (std::size_t i = 0; i < s.natoms(); ++i) w += s.positions[3 * i + a] * s.positions[3 * i + b];
            r.virial[3 * a + b] = -k * w * b2_over_h;
        }
    }
    return r;
}

// A unique short directory under /tmp (UNIX socket paths must fit 108 bytes), removed with its sockets.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/gapdtXXXXXX";
        if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        for (const auto& f : files_) ::unlink(f.c_str());
        ::rmdir(path_.c_str());
    }
    std::string file(const std::string& name) {
        files_.push_back(path_ + "/" + name);
        return files_.back();
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::vector<std::string> files_;
};

// The i-PI side of a connection, every wait bounded.
class FakeIpi {
public:
    static constexpr double kWait = 5.0;

    static FakeIpi listen_unix(const std::string& path) {
        ::unlink(path.c_str());
        FakeIpi f;
        f.listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (::bind(f.listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(f.listener_, 4) != 0) {
            throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
        }
        f.unix_path_ = path;
        return f;
    }

    static FakeIpi listen_tcp(int port = 0) {
        FakeIpi f;
        f.listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        ::setsockopt(f.listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(f.listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(f.listener_, 4) != 0) {
            throw std::runtime_error(std::string("cannot listen on TCP: ") + std::strerror(errno));
        }
        socklen_t len = sizeof addr;
        ::getsockname(f.listener_, reinterpret_cast<sockaddr*>(&addr), &len);
        f.port_ = ntohs(addr.sin_port);
        return f;
    }

    FakeIpi(FakeIpi&& o) noexcept
        : listener_(std::exchange(o.listener_, -1)), client_(std::exchange(o.client_, -1)), port_(o.port_),
          unix_path_(std::move(o.unix_path_)) {
        o.unix_path_.clear();
    }
    ~FakeIpi() {
        close_client();
        close_listener();
    }

    int port() const { return port_; }

    bool accept(double timeout_s = kWait) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout_s * 1000)) <= 0) return false;
        client_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        return client_ >= 0;
    }

    // Plays i-PI on an already connected socket (one end of a socketpair); takes ownership.
    static FakeIpi on_socket(int fd) {
        FakeIpi f;
        f.client_ = fd;
        return f;
    }

    void send(const wire::Bytes& bytes) { send_raw(bytes.data(), bytes.size()); }
    void send(wire::Header h) {
        const auto b = wire::header_bytes(h);
        send_raw(b.data(), b.size());
    }
    void send_raw(const void* data, std::size_t n) {
        const auto* p = static_cast<const char*>(data);
        while (n > 0) {
            const ssize_t r = ::send(client_, p, n, MSG_NOSIGNAL);
            if (r <= 0) throw std::runtime_error(std::string("peer send failed: ") + std::strerror(errno));
            p += r;
            n -= static_cast<std::size_t>(r);
        }
    }

    // False on timeout, EOF or error.
    bool recv(void* out, std::size_t n, double timeout_s = kWait) {
        auto* p = static_cast<char*>(out);
        const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int>(timeout_s * 1000));
        while (n > 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            pollfd pf{client_, POLLIN, 0};
            if (left <= 0 || ::poll(&pf, 1, static_cast<int>(left)) <= 0) return false;
            const ssize_t r = ::recv(client_, p, n, 0);
            if (r <= 0) return false;
            p += r;
            n -= static_cast<std::size_t>(r);
        }
        return true;
    }

    // True once gapd has sent something (or closed its side) within timeout_s.
    bool wait_readable(double timeout_s = kWait) {
        pollfd pf{client_, POLLIN, 0};
        return ::poll(&pf, 1, static_cast<int>(timeout_s * 1000)) > 0;
    }

    // The next header from gapd; Header::Unknown on timeout or EOF.
    wire::Header recv_header(double timeout_s = kWait) {
        char h[wire::kHeaderSize];
        return recv(h, sizeof h, timeout_s) ? wire::parse_header(h) : wire::Header::Unknown;
    }

    wire::Header status() {
        send(wire::Header::Status);
        return recv_header();
    }

    // NEEDINIT handshake as i-PI does it: STATUS -> NEEDINIT, INIT, STATUS -> READY.
    bool handshake(int rid, const std::string& text) {
        if (status() != wire::Header::NeedInit) return false;
        send(wire::encode_init(rid, text));
        return status() == wire::Header::Ready;
    }

    // POSDATA + GETFORCE in one write, as i-PI's default mode does.
    void send_fused(const std::vector<wire::WireStructure>& structures) {
        auto bytes = wire::encode_posdata(structures);
        const auto g = wire::header_bytes(wire::Header::GetForce);
        bytes.insert(bytes.end(), g.begin(), g.end());
        send(bytes);
    }

    // Reads FORCEREADY and its body; nullopt if anything is missing or malformed.
    std::optional<std::vector<wire::WireResult>> read_forceready(std::size_t batch = 1) {
        if (recv_header() != wire::Header::ForceReady) return std::nullopt;
        wire::Bytes body(8 * batch + 4);
        if (!recv(body.data(), body.size())) return std::nullopt;
        std::int32_t natoms;
        std::memcpy(&natoms, body.data() + 8 * batch, 4);
        if (natoms <= 0 || natoms > 1'000'000) return std::nullopt;
        std::size_t at = body.size();
        body.resize(at + batch * (24 * static_cast<std::size_t>(natoms) + 72));
        if (!recv(body.data() + at, body.size() - at)) return std::nullopt;
        for (std::size_t i = 0; i < batch; ++i) {
            std::int32_t len;
            if (!recv(&len, 4) || len < 0 || len > (1 << 20)) return std::nullopt;
            at = body.size();
            body.resize(at + 4 + static_cast<std::size_t>(len));
            std::memcpy(body.data() + at, &len, 4);
            if (!recv(body.data() + at + 4, static_cast<std::size_t>(len))) return std::nullopt;
        }
        wire::ByteReader reader(body);
        return wire::decode_forceready_body(reader, batch);
    }

    // How gapd left: "eof" (orderly close, nothing pending), "reset", "data" (sent more), "timeout".
    std::string wait_close(double timeout_s = kWait) {
        pollfd pf{client_, POLLIN, 0};
        if (::poll(&pf, 1, static_cast<int>(timeout_s * 1000)) <= 0) return "timeout";
        char c;
        const ssize_t r = ::recv(client_, &c, 1, 0);
        if (r == 0) return "eof";
        if (r < 0) return errno == ECONNRESET ? "reset" : std::string("error: ") + std::strerror(errno);
        return "data";
    }

    void close_client() {
        if (client_ >= 0) ::close(client_);
        client_ = -1;
    }
    void close_listener() {
        if (listener_ >= 0) ::close(listener_);
        listener_ = -1;
        if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
    }

private:
    FakeIpi() = default;
    int listener_ = -1;
    int client_ = -1;
    int port_ = 0;
    std::string unix_path_;
};

// run_driver on its own thread. A run that outlives its time limit aborts the test binary: a hang is a
// failure that must be seen, not waited for. Destruction asks the driver to stop and waits (bounded).
class DriverRun {
public:
    DriverRun(ConnectionOptions connection, ForceEngine& engine, DriverOptions options = {})
        : connection_(std::move(connection)), options_(options) {
        options_.log = &log_;
        clear_stop_requests();  // left over from an earlier run's cleanup
        result_ = std::async(std::launch::async, [this, &engine] { return run_driver(connection_, engine, options_); });
    }
    ~DriverRun() {
        if (result_.valid()) {
            request_stop();
            wait(15);
        }
    }

    int wait(double timeout_s = 10) {
        if (result_.wait_for(std::chrono::milliseconds(static_cast<int>(timeout_s * 1000))) !=
            std::future_status::ready) {
            std::fprintf(stderr, "run_driver did not return within %.0f s; log so far:\n%s\n", timeout_s,
                         log_.str().c_str());
            std::abort();
        }
        return result_.get();
    }

    bool finished_within(double timeout_s) {
        return result_.wait_for(std::chrono::milliseconds(static_cast<int>(timeout_s * 1000))) ==
               std::future_status::ready;
    }

    // Only read after wait(): the driver thread writes it.
    std::string log() const { return log_.str(); }

private:
    ConnectionOptions connection_;
    DriverOptions options_;
    std::ostringstream log_;
    std::future<int> result_;
};

inline ConnectionOptions unix_options(const TempDir& dir, const std::string& name) {
    ConnectionOptions c;
    c.unix_socket = true;
    c.unix_prefix = dir.path() + "/ipi_";
    c.address = name;
    c.connect_timeout_s = 5;
    c.retry_interval_s = 0.05;
    return c;
}

inline ConnectionOptions tcp_options(int port) {
    ConnectionOptions c;
    c.unix_socket = false;
    c.address = "127.0.0.1";
    c.port = port;
    c.connect_timeout_s = 5;
    c.retry_interval_s = 0.05;
    return c;
}

}  // namespace gapd::test
