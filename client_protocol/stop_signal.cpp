#include "client_protocol/stop_signal.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gapd {

namespace {

// Only a lock-free atomic may be touched from a signal handler.
static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop counter must be lock-free");
std::atomic<int> g_stop_requests{0};

extern "C" void on_stop_signal(int) {
    const int saved_errno = errno;
    request_stop();
    errno = saved_errno;
}

void set_action(int signum, void (*handler)(int)) {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: interrupted waits return EINTR and look at the counter
    if (sigaction(signum, &action, nullptr) != 0) {
        throw std::runtime_error("sigaction(" + std::to_string(signum) + ") failed: " + std::strerror(errno));
    }
}

}  // namespace

void install_stop_handlers() {
    set_action(SIGINT, on_stop_signal);
    set_action(SIGTERM, on_stop_signal);
    set_action(SIGPIPE, SIG_IGN);
}

int stop_requests() noexcept { return g_stop_requests.load(std::memory_order_relaxed); }

void request_stop() noexcept { g_stop_requests.fetch_add(1, std::memory_order_relaxed); }

void clear_stop_requests() noexcept { g_stop_requests.store(0, std::memory_order_relaxed); }

}  // namespace gapd
