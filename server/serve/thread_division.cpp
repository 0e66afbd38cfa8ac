#include "server/serve/thread_division.hpp"

#include <stdexcept>
#include <string>

namespace gapd {

std::vector<int> divide_threads(int total, int connections) {
    if (connections < 1) throw std::invalid_argument("--connections must be >= 1, got " + std::to_string(connections));
    if (total < 1) throw std::invalid_argument("thread count must be >= 1, got " + std::to_string(total));
    std::vector<int> threads(static_cast<std::size_t>(connections), 1);
    if (total <= connections) return threads;
    for (int k = 0; k < connections; ++k) threads[static_cast<std::size_t>(k)] = total / connections + (k < total % connections ? 1 : 0);
    return threads;
}

}  // namespace gapd
