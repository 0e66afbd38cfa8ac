#include "models/core/openmp.hpp"

#include <atomic>
#include <iostream>
#include <stdexcept>

namespace gapd {

void set_thread_count(int threads) {
    if (threads < 0) throw std::invalid_argument("--threads must be >= 0");
    if (!openmp::enabled && threads > 1) std::cerr << "gapd: built without OpenMP, running on 1 thread\n";
    static std::atomic<bool> warned{false};
    const int cpus = openmp::available_processors();
    if (openmp::enabled && threads > cpus && !warned.exchange(true))
        std::cerr << "gapd: --threads " << threads << " but this process may run on " << cpus
                  << " CPU(s) only (its CPU affinity, set e.g. by mpirun's default binding, taskset or a batch "
                     "scheduler), so the threads share them; start it unbound (mpirun --bind-to none) or on more CPUs\n";
    if (threads > 0) openmp::set_num_threads(threads);
}

int current_thread_count() { return openmp::max_threads(); }

}  // namespace gapd
