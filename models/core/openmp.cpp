#include "models/core/openmp.hpp"

#include <iostream>
#include <stdexcept>

namespace gapd {

void set_thread_count(int threads) {
    if (threads < 0) throw std::invalid_argument("--threads must be >= 0");
    if (!openmp::enabled && threads > 1) std::cerr << "gapd: built without OpenMP, running on 1 thread\n";
    if (threads > 0) openmp::set_num_threads(threads);
}

int current_thread_count() { return openmp::max_threads(); }

}  // namespace gapd
