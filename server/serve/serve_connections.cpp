#include "server/serve/serve_connections.hpp"

#include "models/core/openmp.hpp"
#include "server/serve/connection_log.hpp"
#include "client_protocol/stop_signal.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

namespace gapd {

int run_connections(const ConnectionOptions& connection, const std::vector<ForceEngine*>& engines,
                    const std::vector<int>& threads, const DriverOptions& options) {
    if (engines.empty() || engines.size() != threads.size())
        throw std::invalid_argument("run_connections: need one thread count per engine, and at least one engine");
    std::ostream& out = options.log != nullptr ? *options.log : std::cerr;
    const std::size_t n = engines.size();
    Eigen::initParallel();  // Eigen's one-time set-up, before several threads call into it
    std::vector<int> codes(n, kExitOk);
    std::vector<std::thread> workers;
    workers.reserve(n);
    const auto serve = [&](std::size_t k) {
        ConnectionLog log(out, "[conn " + std::to_string(k + 1) + "/" + std::to_string(n) + "]");
        try {
            // OpenMP's thread count is per calling thread: this connection's parallel regions use threads[k].
            set_thread_count(threads[k]);
            DriverOptions mine = options;
            mine.log = &log.stream();
            codes[k] = run_driver(connection, *engines[k], mine);
        } catch (const std::exception& e) {
            log.stream() << "gapd: error: " << e.what() << "\n" << std::flush;
            codes[k] = kExitError;
        }
        log.stream() << "gapd: connection ended (exit code " << codes[k] << ")\n" << std::flush;
    };
    try {
        for (std::size_t k = 0; k < n; ++k) workers.emplace_back(serve, k);
    } catch (...) {  // could not start a thread: end the ones running, as a stop signal would
        request_stop();
        for (std::thread& w : workers) w.join();
        throw;
    }
    for (std::thread& w : workers) w.join();
    return *std::max_element(codes.begin(), codes.end());
}

}  // namespace gapd
