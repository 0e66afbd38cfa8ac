// Fuzz target: the whole client session (client_protocol/driver_session.cpp) with the input as the byte
// stream i-PI sends. A peer thread writes the input into one end of a UNIX socketpair, shuts down its
// writing side (end of stream) and reads everything gapd answers until gapd closes; serve_connection runs on
// the other end with a trivial harmonic engine. Any outcome is fine except a crash, a sanitizer report or a
// hang (libFuzzer -timeout): errors must be exceptions, the connection must always end closed.
//
// The engine's atom count is taken from the first POSDATA of the input (single or batched layout), so that
// mutations can reach the compute and reply paths, not only the natoms check.

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
#include <thread>

namespace {

using namespace gapd;

class HarmonicEngine : public ForceEngine {
public:
    HarmonicEngine(std::size_t natoms, bool uses_cell) : natoms_(natoms), uses_cell_(uses_cell) {}
    std::size_t natoms() const override { return natoms_; }
    bool uses_cell() const override { return uses_cell_; }
    void on_init(int, const std::string& text) override { init_bytes_ += text.size(); }
    ForceResult compute(const Frame& frame) override {
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
void play_ipi(int fd, const std::uint8_t* data, std::size_t size) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::size_t sent = 0;
    bool write_open = true;
    char scratch[65536];
    for (;;) {
        if (write_open && sent == size) {
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
    // The last byte chooses whether the engine needs an invertible cell (both paths of frame_from_wire).
    HarmonicEngine engine(natoms_hint(data, size), size == 0 || (data[size - 1] & 1) == 0);
    std::thread peer(play_ipi, fds[1], data, size);
    std::ostringstream log;
    DriverOptions options;
    options.log = &log;
    options.verbose = true;
    try {
        Transport transport(fds[0], "fuzzed i-PI");
        serve_connection(transport, engine, options);
    } catch (const std::exception&) {
        // A reported error: fine. The transport has been closed gracefully.
    }
    peer.join();
    return 0;
}
