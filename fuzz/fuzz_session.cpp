// Fuzz target: the whole client session (client_protocol/driver_session.cpp) with the input as the byte
// stream i-PI sends. A peer thread writes the input into one end of a UNIX socketpair, shuts down its
// writing side (end of stream) and reads everything gapd answers until gapd closes; serve_connection runs on
// the other end with a trivial harmonic engine. Any outcome is fine except a crash, a sanitizer report or a
// hang (libFuzzer -timeout): errors must be exceptions, the connection must always end closed.
//
// The engine's atom count is taken from the first POSDATA of the input (single or batched layout), so that
// mutations can reach the compute and reply paths, not only the natoms check.
//
// The input's last byte also steers the harness (it is sent too), so that mutations reach these paths:
//   bit 0     the engine needs an invertible cell (0) or not (1): both paths of frame_from_wire
//   bits 1-2  stop requests (0-3) raised inside the first computation: signals arriving mid-request
//   bit 3     after the input, keep the stream open instead of ending it (a peer that stops sending, possibly
//             in the middle of a message) and request a stop, as a user's SIGTERM would; the message
//             timeout and the stop grace are shortened to 50 ms so that every such wait ends at once
// Besides no crash/hang: no log line longer than kMaxLogLine (input is quoted by short excerpts only).

#include "client_protocol/driver_session.hpp"
#include "client_protocol/stop_signal.hpp"
#include "client_protocol/transport.hpp"
#include "client_protocol/wire_messages.hpp"
#include "fuzz_common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

namespace {

using namespace gapd;

constexpr std::size_t kMaxLogLine = 2048;

class HarmonicEngine : public ForceEngine {
public:
    HarmonicEngine(std::size_t natoms, bool uses_cell, int stops_in_compute)
        : natoms_(natoms), uses_cell_(uses_cell), stops_in_compute_(stops_in_compute) {}
    std::size_t natoms() const override { return natoms_; }
    bool uses_cell() const override { return uses_cell_; }
    void on_init(int, const std::string& text) override { init_bytes_ += text.size(); }
    ForceResult compute(const Frame& frame) override {
        for (; stops_in_compute_ > 0; --stops_in_compute_) request_stop();
        ForceResult r;
        r.energy = 0.5 * frame.positions.squaredNorm();
        r.forces = -frame.positions;
        r.virial = r.forces.transpose() * frame.positions;
        r.verbatim_extras = "{}";
        return r;
    }

private:
    std::size_t natoms_;
    bool uses_cell_;
    int stops_in_compute_;
    std::size_t init_bytes_ = 0;
};

std::size_t natoms_hint(const std::uint8_t* data, std::size_t size) {
    static const char kPosData[] = "POSDATA     ";
    const auto* end = data + size;
    const auto* p = std::search(data, end, kPosData, kPosData + 12);
    if (p == end) return 1;
    const std::size_t at = static_cast<std::size_t>(p - data) + 12;
    for (std::size_t offset : {std::size_t{144}, std::size_t{0}}) {  // single layout, then batched
        if (at + offset + 4 > size) continue;
        std::int32_t n;
        std::memcpy(&n, data + at + offset, 4);
        if (n >= 1 && n <= 100000) return static_cast<std::size_t>(n);
    }
    return 1;
}

// Writes the input, ends the stream, reads until gapd closes. Non-blocking with poll so that neither side
// can block the other whatever the sizes.
void play_ipi(int fd, const std::uint8_t* data, std::size_t size, bool stall) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::size_t sent = 0;
    bool write_open = true;
    char scratch[65536];
    for (;;) {
        if (write_open && sent == size) {
            if (stall)
                request_stop();  // the stream stays open: only the stop (or a timeout) can end gapd's wait
            else
                ::shutdown(fd, SHUT_WR);
            write_open = false;
        }
        pollfd p{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0};
        if (::poll(&p, 1, 1000) < 0 && errno != EINTR) break;
        if (p.revents & POLLIN) {
            const ssize_t r = ::recv(fd, scratch, sizeof scratch, 0);
            if (r == 0) break;  // gapd closed: done
            if (r < 0 && errno != EAGAIN && errno != EINTR) break;
        }
        if (write_open && (p.revents & POLLOUT)) {
            const ssize_t w = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (w > 0) sent += static_cast<std::size_t>(w);
            else if (w < 0 && errno != EAGAIN && errno != EINTR) write_open = false;
        }
        if ((p.revents & (POLLERR | POLLHUP)) && !(p.revents & POLLIN)) break;
    }
    ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::signal(SIGPIPE, SIG_IGN);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) gapd::fuzz::invariant_failed("socketpair");
    clear_stop_requests();
    const std::uint8_t control = size == 0 ? 0 : data[size - 1];
    const bool stall = (control & 8) != 0;
    HarmonicEngine engine(natoms_hint(data, size), (control & 1) == 0, (control >> 1) & 3);
    std::thread peer(play_ipi, fds[1], data, size, stall);
    std::ostringstream log;
    DriverOptions options;
    options.log = &log;
    options.verbose = true;
    if (stall) options.message_timeout_s = options.stop_grace_s = 0.05;
    try {
        Transport transport(fds[0], "fuzzed i-PI");
        serve_connection(transport, engine, options);
    } catch (const std::exception&) {
        // A reported error: fine. The transport has been closed gracefully.
    }
    peer.join();
    std::istringstream lines(log.str());
    for (std::string line; std::getline(lines, line);)
        if (line.size() > kMaxLogLine) gapd::fuzz::invariant_failed("a log line of unbounded size (raw input quoted?)");
    return 0;
}
