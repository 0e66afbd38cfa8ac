// gapd bench: milliseconds per call and per phase on reproducible BaTiO3 supercells (docs/benchmarks.md).

#include "server/bench_structures.hpp"
#include "server/commands.hpp"
#include "server/model_loading.hpp"

#include <CLI/CLI.hpp>
#include <Eigen/Dense>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

namespace gapd {

namespace {

struct BenchOptions {
    std::string model = std::string(GAPD_SOURCE_DIR) + "/../shared/reference/librascal/paper_hypers_M1000_zeta4.json.gz";
    std::string radial = "spline";
    std::vector<int> sizes{2, 4, 6};
    std::vector<int> threads{1};
    int repeats = 5;
    bool energy_only = false;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// GFLOP/s of the GEMM gapd uses (Eigen) on a 2000 x 2000 product, single thread: the kernel's upper bound.
double measure_dgemm_rate() {
    set_thread_count(1);
    const int n = 2000;
    Eigen::MatrixXd a = Eigen::MatrixXd::Random(n, n), b = Eigen::MatrixXd::Random(n, n), c(n, n);
    c.noalias() = a * b;  // warm-up
    std::vector<double> times;
    for (int k = 0; k < 3; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        c.noalias() = a * b;
        times.push_back(seconds_since(t0));
    }
    return 2.0 * n * n * n / median(times) * 1e-9;
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

int run_bench(const BenchOptions& o) {
    const double rss_before_model = peak_rss_mb();
    std::unique_ptr<GapCalculator> calc = load_calculator(o.model, parse_radial_mode(o.radial));
    const double rss_model = peak_rss_mb();
    const GapModel& m = calc->model();
    const int D = power_spectrum_size(m.hypers, PowerSpectrumLayout::Compressed);
    std::printf("model: %s\n  nmax %d lmax %d rc %.2f zeta %d, %d kernel features", o.model.c_str(),
                m.hypers.max_radial, m.hypers.max_angular, m.hypers.cutoff.cutoff, m.zeta, D);
    std::printf(" (kernel uses the same-species n1<->n2 symmetry: %d of %d)", D, power_spectrum_size(m.hypers));
    std::printf("\n  sparse points:");
    for (const auto& s : m.sparse) std::printf(" %ld (Z=%d)", static_cast<long>(s.points.rows()), s.species);
    std::printf("\n  radial: %s; peak RSS after loading: %.0f MB (%.0f MB before)\n", o.radial.c_str(), rss_model,
                rss_before_model);
    const double dgemm = measure_dgemm_rate();
    std::printf("reference DGEMM (Eigen, 1 thread, 2000^3): %.1f GFLOP/s\n\n", dgemm);
    std::printf("%6s %7s %9s %9s | %8s %8s %8s %8s %8s %8s | %7s %8s\n", "atoms", "threads", "median_ms", "min_ms",
                "neigh", "expand", "powspec", "kernel", "grads", "scatter", "kern_GF", "peakMB");
    for (int threads : o.threads) {
        set_thread_count(threads);
        for (int rep : o.sizes) {
            const Structure s = batio3_supercell(rep);
            double flops = 0.0;  // kernel GEMMs: K = X T^T and, with gradients, dE/dX = K' T
            for (const auto& set : m.sparse) {
                const auto count = std::count(s.numbers.begin(), s.numbers.end(), set.species);
                flops += (o.energy_only ? 2.0 : 4.0) * count * D * set.points.rows();
            }
            GapWorkspace workspace;
            calc->compute(s, !o.energy_only, nullptr, &workspace);  // warm-up
            std::vector<double> total, phase[6];
            for (int r = 0; r < o.repeats; ++r) {
                PhaseTimes t;
                const auto t0 = std::chrono::steady_clock::now();
                calc->compute(s, !o.energy_only, &t, &workspace);
                total.push_back(seconds_since(t0));
                const double parts[6] = {t.neighbours, t.expansion, t.power_spectrum, t.kernel, t.gradients, t.scatter};
                for (int k = 0; k < 6; ++k) phase[k].push_back(parts[k]);
            }
            const double kernel_s = median(phase[3]);
            std::printf("%6zu %7d %9.2f %9.2f | %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f | %7.1f %8.0f\n", s.size(), threads,
                        1e3 * median(total), 1e3 * *std::min_element(total.begin(), total.end()),
                        1e3 * median(phase[0]), 1e3 * median(phase[1]), 1e3 * median(phase[2]), 1e3 * kernel_s,
                        1e3 * median(phase[4]), 1e3 * median(phase[5]), kernel_s > 0 ? flops / kernel_s * 1e-9 : 0.0,
                        peak_rss_mb());
            std::fflush(stdout);
        }
    }
    return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand(
        "bench",
        "Time energy+forces+virial calls on BaTiO3 supercells (a = 4.0 Å, Gaussian displacements 0.08 Å, fixed "
        "seed): median and best ms per call, median ms per phase, kernel GFLOP/s next to a measured DGEMM rate, "
        "peak memory. Default model: the paper-size librascal model in ../shared.");
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("-m,--model", o->model, "Model file (native or librascal JSON)")->capture_default_str();
    cmd->add_option("--sizes", o->sizes, "Supercell repeats n (n x n x n x 5 atoms); default 2 4 6")->capture_default_str()
        ->delimiter(',')
        ->check(CLI::Range(1, 20));
    cmd->add_option("--threads", o->threads, "Thread counts to run, e.g. 1,2; default 1")->capture_default_str()
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    cmd->add_option("--repeats", o->repeats, "Timed calls per case (after one warm-up); default 5")->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--radial", o->radial, radial_mode_help());
    cmd->add_flag("--energy-only", o->energy_only, "Energies only (no forces/virial)");
    cmd->callback([o, &exit_code]() { exit_code = run_bench(*o); });
}

}  // namespace gapd
