#pragma once
// The rows of a chunk that the calling OpenMP thread owns: contiguous blocks [begin, end), one per thread of the
// current team, so that each thread runs its GEMMs serially on its own rows (no barrier and no inter-thread
// wait; Eigen's own parallel GEMM spins on the other threads and collapses when the cores are shared with
// other processes). Outside a parallel region: all rows.

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gapd {

struct ThreadRows {
    int thread, begin, end;
};

inline ThreadRows thread_rows(int rows) {
#ifdef _OPENMP
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int t = 0, nt = 1;
#endif
    return {t, static_cast<int>(static_cast<long>(rows) * t / nt), static_cast<int>(static_cast<long>(rows) * (t + 1) / nt)};
}

}  // namespace gapd
