#pragma once
// The one OpenMP shim: every other file asks here instead of writing #ifdef _OPENMP, so a build without OpenMP
// (GAPD_OPENMP=OFF) sees one thread everywhere and nothing else changes.

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gapd::openmp {

#ifdef _OPENMP
inline constexpr bool enabled = true;
inline int max_threads() { return omp_get_max_threads(); }
inline int thread_num() { return omp_get_thread_num(); }
inline int num_threads() { return omp_get_num_threads(); }
inline bool in_parallel() { return omp_in_parallel() != 0; }
inline void set_num_threads(int n) { omp_set_num_threads(n); }
// CPUs this process may run on (its affinity mask, as libgomp reads it at start-up).
inline int available_processors() { return omp_get_num_procs(); }
#else
inline constexpr bool enabled = false;
inline int max_threads() { return 1; }
inline int thread_num() { return 0; }
inline int num_threads() { return 1; }
inline bool in_parallel() { return false; }
inline void set_num_threads(int) {}
inline int available_processors() { return 1; }
#endif

}  // namespace gapd::openmp

namespace gapd {

// Threads for the calculations that follow (0 = keep OpenMP's default, e.g. OMP_NUM_THREADS). Throws
// std::invalid_argument naming --threads for a negative count; without OpenMP a count > 1 is noted on stderr, and
// so is (once per process) a count above the CPUs the process may run on: mpirun binds a rank to one core by
// default, and its threads would then share that core without any other sign.
void set_thread_count(int threads);
int current_thread_count();

}  // namespace gapd
