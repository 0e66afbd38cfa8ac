#pragma once
// The rows of a chunk that the calling OpenMP thread owns: contiguous blocks [begin, end), one per thread of the
// current team, so that each thread runs its GEMMs serially on its own rows (no barrier and no inter-thread
// wait; Eigen's own parallel GEMM spins on the other threads and collapses when the cores are shared with
// other processes). Outside a parallel region: all rows.

#include "models/core/openmp.hpp"

namespace gapd {

struct ThreadRows {
    int thread, begin, end;
};

inline ThreadRows thread_rows(int rows) {
    const int t = openmp::thread_num(), nt = openmp::num_threads();
    return {t, static_cast<int>(static_cast<long>(rows) * t / nt), static_cast<int>(static_cast<long>(rows) * (t + 1) / nt)};
}

}  // namespace gapd
