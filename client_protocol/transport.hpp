#pragma once
// A connected byte stream to i-PI (UNIX or TCP socket; gapd is always the connecting side).
// Every wait is a poll() with a short tick, so that stop requests are noticed while blocked.

#include <cstddef>
#include <functional>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>

namespace gapd {

struct ConnectionOptions {
    bool unix_socket = true;                // false: TCP
    std::string address;                    // UNIX: socket name; TCP: IPv4 host name or dotted address
    std::string unix_prefix = "/tmp/ipi_";  // UNIX path = unix_prefix + address (i-PI's -S / sockets_prefix)
    int port = 0;                           // TCP only, 1..65535
    double connect_timeout_s = 120;         // total wait for i-PI, at start and at each reconnection
    double retry_interval_s = 0.5;          // pause between connection attempts
};

// "unix:/tmp/ipi_name" or "tcp:host:port", for messages.
std::string describe(const ConnectionOptions& options);

// i-PI went away: EOF, connection reset or broken pipe.
class ConnectionLost : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A wait given up because of a stop request (thrown by a wait check, see Transport::set_wait_check).
class WaitAbandoned : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The peer began a message (or a reply to it) and then moved no byte for longer than allowed.
class PeerStalled : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A transfer blocked on the peer, as shown to the wait check at every tick.
struct TransferWait {
    enum class Direction { Read, Write };
    Direction direction = Direction::Read;
    std::size_t done = 0;  // bytes of this transfer already moved (a write with done > 0 is a reply under way)
    double idle_s = 0;     // seconds since the last byte moved, or since the transfer began
};

// Options that no amount of retrying can make work (path too long for sun_path, bad port...).
class ConnectionConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Transport {
public:
    // Takes ownership of a connected stream socket; `peer` names it in messages.
    Transport(int fd, std::string peer);
    ~Transport();
    Transport(Transport&& other) noexcept;
    Transport& operator=(Transport&& other) noexcept;
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    const std::string& peer() const { return peer_; }

    // Called every tick while read_exact/write_all/peek are blocked on the peer; it ends the wait by
    // throwing (WaitAbandoned, PeerStalled...), and the exception propagates to the caller.
    void set_wait_check(std::function<void(const TransferWait&)> check) { wait_check_ = std::move(check); }

    // True when a read would not block (data or EOF); false after timeout_ms or when a signal arrived.
    bool wait_readable(int timeout_ms);
    // Copies the next n bytes to `out` without consuming them once all n have arrived: true. False if they
    // did not arrive within timeout_ms (negative: no limit). Throws ConnectionLost on EOF or error.
    bool peek(void* out, std::size_t n, int timeout_ms);
    // Handle partial transfers and EINTR; throw ConnectionLost on EOF, reset or broken pipe.
    void read_exact(void* out, std::size_t n);
    void write_all(const void* data, std::size_t n);

    // shutdown(SHUT_WR), then read and discard until i-PI closes its side (at most max_drain_s), then close:
    // closing with unread data would send i-PI a reset instead of an orderly end of stream.
    void close_gracefully(double max_drain_s);

private:
    void check_wait(TransferWait::Direction direction, std::size_t done, double idle_s) const;
    void close_now() noexcept;

    int fd_ = -1;
    std::string peer_;
    std::function<void(const TransferWait&)> wait_check_;
};

// Connects to i-PI, retrying every retry_interval_s for up to connect_timeout_s (i-PI may not be listening
// yet), with a progress line on `log` every few seconds. Returns nullopt if should_stop() turned true while
// waiting. Throws ConnectionConfigError for options that cannot work, std::runtime_error on time-out.
std::optional<Transport> connect_with_retry(const ConnectionOptions& options, std::ostream& log,
                                            const std::function<bool()>& should_stop);

}  // namespace gapd
