#include "client_protocol/transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <utility>

namespace gapd {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTickMs = 100;                     // how often blocked waits look at stop/abandon flags
constexpr double kProgressIntervalS = 5.0;       // "still waiting for i-PI" lines
constexpr double kMaxConnectAttemptS = 5.0;      // one TCP connect() may hang on a silent host

std::string errno_text(int err) { return std::strerror(err); }

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int ms_until(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
}

// poll() one descriptor: revents, 0 on timeout or EINTR, POLLERR if poll itself failed (the following
// recv/send then reports the error).
short poll_one(int fd, short events, int timeout_ms) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0) return errno == EINTR ? 0 : POLLERR;
    return r > 0 ? p.revents : 0;
}

struct Fd {  // closes on scope exit unless released
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

std::string unix_path(const ConnectionOptions& o) { return o.unix_prefix + o.address; }

void validate(const ConnectionOptions& o) {
    if (o.address.empty()) throw ConnectionConfigError("no i-PI address given");
    if (o.unix_socket) {
        const std::string path = unix_path(o);
        if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
            throw ConnectionConfigError("UNIX socket path '" + path + "' is " + std::to_string(path.size()) +
                                        " bytes long; the limit is " +
                                        std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                        " (use a shorter prefix or address)");
        }
    } else if (o.port < 1 || o.port > 65535) {
        throw ConnectionConfigError("TCP port " + std::to_string(o.port) + " is not in 1..65535");
    }
    if (!(o.connect_timeout_s >= 0) || !(o.retry_interval_s > 0)) {
        throw ConnectionConfigError("connect timeout must be >= 0 and retry interval > 0 seconds");
    }
}

// One attempt. Returns the connected descriptor, or -1 with `error` set (worth retrying).
int try_unix(const ConnectionOptions& o, std::string& error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = unix_path(o);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (s.fd < 0) throw std::runtime_error("socket(AF_UNIX) failed: " + errno_text(errno));
    // Not repeated on EINTR (a connect in progress cannot be restarted on the same socket): the caller's
    // retry loop makes a new attempt.
    if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        error = errno_text(errno);
        return -1;
    }
    return s.release();
}

int try_tcp(const ConnectionOptions& o, Clock::time_point deadline, const std::function<bool()>& should_stop,
            std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(o.address.c_str(), std::to_string(o.port).c_str(), &hints, &found);
    if (rc != 0) {
        error = "cannot resolve '" + o.address + "': " + ::gai_strerror(rc);
        return -1;
    }
    const std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);

    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        Fd s{::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
        if (s.fd < 0) throw std::runtime_error("socket(AF_INET) failed: " + errno_text(errno));
        // Non-blocking connect, so that a silent host costs at most kMaxConnectAttemptS and stop is noticed.
        if (::connect(s.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS && errno != EINTR) {
                error = errno_text(errno);
                continue;
            }
            const auto attempt_end =
                std::min(deadline, Clock::now() + std::chrono::milliseconds(
                                                      static_cast<int>(kMaxConnectAttemptS * 1000)));
            bool done;
            do {  // at least one poll, even with no time left: a refusal on loopback is immediate
                done = poll_one(s.fd, POLLOUT, std::min(kTickMs, ms_until(attempt_end))) != 0;
            } while (!done && Clock::now() < attempt_end && !should_stop());
            if (!done) {
                error = "connection attempt timed out";
                continue;
            }
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                error = errno_text(err);
                continue;
            }
        }
        const int flags = ::fcntl(s.fd, F_GETFL);
        ::fcntl(s.fd, F_SETFL, flags & ~O_NONBLOCK);
        // Messages are small and latency-bound: never let Nagle hold back a reply.
        const int one = 1;
        ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return s.release();
    }
    return -1;
}

}  // namespace

std::string describe(const ConnectionOptions& o) {
    return o.unix_socket ? "unix:" + unix_path(o) : "tcp:" + o.address + ":" + std::to_string(o.port);
}

// ---- Transport ----

Transport::Transport(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}

Transport::~Transport() { close_now(); }

Transport::Transport(Transport&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), peer_(std::move(other.peer_)), wait_check_(std::move(other.wait_check_)) {}

Transport& Transport::operator=(Transport&& other) noexcept {
    if (this != &other) {
        close_now();
        fd_ = std::exchange(other.fd_, -1);
        peer_ = std::move(other.peer_);
        wait_check_ = std::move(other.wait_check_);
    }
    return *this;
}

void Transport::close_now() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Transport::check_wait(TransferWait::Direction direction, std::size_t done, double idle_s) const {
    if (wait_check_) wait_check_(TransferWait{direction, done, idle_s});
}

bool Transport::wait_readable(int timeout_ms) { return poll_one(fd_, POLLIN, timeout_ms) != 0; }

bool Transport::peek(void* out, std::size_t n, int timeout_ms) {
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(std::max(timeout_ms, 0));
    for (;;) {
        const ssize_t r = ::recv(fd_, out, n, MSG_PEEK | MSG_DONTWAIT);
        if (r == static_cast<ssize_t>(n)) return true;
        if (r == 0) throw ConnectionLost(peer_ + " closed the connection");
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            throw ConnectionLost("reading from " + peer_ + " failed: " + errno_text(errno));
        }
        if (timeout_ms >= 0 && Clock::now() >= deadline) return false;
        check_wait(TransferWait::Direction::Read, r > 0 ? static_cast<std::size_t>(r) : 0, seconds_since(start));
        const int wait = timeout_ms < 0 ? kTickMs : std::min(kTickMs, ms_until(deadline));
        if (r > 0) {
            // Part of it is there. If i-PI has also ended the stream, the rest can never come (without this
            // check a truncated header followed by EOF made an unbounded peek spin forever).
            if (poll_one(fd_, POLLRDHUP, 0) & (POLLRDHUP | POLLHUP | POLLERR))
                throw ConnectionLost(peer_ + " closed the connection in the middle of a message");
            // poll() for POLLIN would return at once: sleep a little instead.
            ::poll(nullptr, 0, std::min(wait, 1));
        } else {
            poll_one(fd_, POLLIN, wait);
        }
    }
}

void Transport::read_exact(void* out, std::size_t n) {
    auto* p = static_cast<char*>(out);
    std::size_t done = 0;
    auto last_progress = Clock::now();
    while (n > 0) {
        const ssize_t r = ::recv(fd_, p, n, MSG_DONTWAIT);
        if (r > 0) {
            p += r;
            n -= static_cast<std::size_t>(r);
            done += static_cast<std::size_t>(r);
            last_progress = Clock::now();
        } else if (r == 0) {
            throw ConnectionLost(peer_ + " closed the connection");
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            check_wait(TransferWait::Direction::Read, done, seconds_since(last_progress));
            poll_one(fd_, POLLIN, kTickMs);
        } else {
            throw ConnectionLost("reading from " + peer_ + " failed: " + errno_text(errno));
        }
    }
}

void Transport::write_all(const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    std::size_t done = 0;
    auto last_progress = Clock::now();
    while (n > 0) {
        // MSG_NOSIGNAL: a peer that closed gives EPIPE here, not a SIGPIPE that kills the process.
        const ssize_t r = ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r >= 0) {
            p += r;
            n -= static_cast<std::size_t>(r);
            done += static_cast<std::size_t>(r);
            if (r > 0) last_progress = Clock::now();
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            check_wait(TransferWait::Direction::Write, done, seconds_since(last_progress));
            poll_one(fd_, POLLOUT, kTickMs);
        } else {
            throw ConnectionLost("writing to " + peer_ + " failed: " + errno_text(errno));
        }
    }
}

void Transport::close_gracefully(double max_drain_s) {
    if (fd_ < 0) return;
    ::shutdown(fd_, SHUT_WR);
    const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(max_drain_s * 1000));
    char scratch[65536];
    while (Clock::now() < deadline) {
        if (poll_one(fd_, POLLIN, ms_until(deadline)) == 0) continue;
        const ssize_t r = ::recv(fd_, scratch, sizeof scratch, MSG_DONTWAIT);
        if (r == 0) break;  // i-PI closed its side: nothing left unread
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
    }
    close_now();
}

// ---- connecting ----

std::optional<Transport> connect_with_retry(const ConnectionOptions& options, std::ostream& log,
                                            const std::function<bool()>& should_stop) {
    validate(options);
    const std::string where = describe(options);
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(static_cast<long long>(options.connect_timeout_s * 1000));
    auto next_progress = start + std::chrono::milliseconds(static_cast<long long>(kProgressIntervalS * 1000));
    std::string error;
    for (;;) {
        if (should_stop()) return std::nullopt;
        const int fd = options.unix_socket ? try_unix(options, error) : try_tcp(options, deadline, should_stop, error);
        if (fd >= 0) return Transport(fd, "i-PI at " + where);
        if (Clock::now() >= deadline) {
            std::ostringstream msg;
            msg << "could not connect to i-PI at " << where << " within " << options.connect_timeout_s
                << " s (last error: " << error << ")";
            throw std::runtime_error(msg.str());
        }
        if (Clock::now() >= next_progress) {
            log << "gapd: waiting for i-PI at " << where << " (" << error << "), "
                << std::lround(seconds_since(start)) << " s of " << std::lround(options.connect_timeout_s)
                << " s\n" << std::flush;
            next_progress += std::chrono::milliseconds(static_cast<long long>(kProgressIntervalS * 1000));
        }
        const auto retry_at = std::min(
            deadline, Clock::now() + std::chrono::milliseconds(static_cast<long long>(options.retry_interval_s * 1000)));
        while (Clock::now() < retry_at && !should_stop()) ::poll(nullptr, 0, std::min(kTickMs, ms_until(retry_at)));
    }
}

}  // namespace gapd
