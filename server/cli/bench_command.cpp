// gapd bench: milliseconds per call and per phase on reproducible BaTiO3 supercells (docs/benchmarks.md).

#include "models/core/openmp.hpp"
#include "models/dipoles/dipole_calculator.hpp"
#include "models/formats/extxyz.hpp"
#include "models/formats/model_file.hpp"
#include "server/cli/bench_structures.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/yaml_config.hpp"
#include "server/cli/option_checks.hpp"
#include "server/cli/model_loading.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <CLI/CLI.hpp>
#include <Eigen/Dense>
#include <sys/resource.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace gapd {

namespace {

struct BenchOptions {
    // The shipped default model has the paper's hyperparameters (nmax 8, lmax 6, rc 5.5 Å, zeta 4), so timing it
    // needs nothing outside the repository; the paper-size model (1000 sparse points) is passed with -m.
    std::string model = std::string(GAPD_SOURCE_DIR) + "/data/models/batio3_default.gapd";
    std::string dipole_model = std::string(GAPD_SOURCE_DIR) + "/tests/data/dipole/synthetic_dipole.gapd";
    std::string radial = "spline";
    std::string precision = "float64";
    std::vector<int> sizes{2, 4, 6};
    std::vector<int> threads{1};
    int repeats = 5;
    bool energy_only = false;
    bool dipoles = false;
    bool no_dgemm = false;
    std::string write_structures;  // extxyz path: write the bench structures and exit
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
// The 96 MB of matrices are freed before the timed calls (and the memory column resets the high-water mark).
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

// Resident-set figures of this process in MB from /proc/self/status ("VmRSS", "VmHWM"); -1 if unavailable.
double proc_status_mb(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(in, line))
        if (line.compare(0, key.size(), key) == 0) return std::stod(line.substr(key.size())) / 1024.0;
    return -1.0;
}

// Resets the kernel's resident high-water mark (VmHWM) to the current RSS (Linux >= 4.0); false if not possible.
bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

// Returns freed heap to the kernel. gapd keeps freed heap for reuse (main.cpp), so buffers freed after loading the
// model, the DGEMM reference's 96 MB and earlier cases' buffers would otherwise stay resident and count.
void release_freed_heap() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

// Peak memory a case adds to the process: VmHWM since the last reset minus the RSS with the model loaded.
struct PeakMeter {
    double baseline = 0;  // MB, RSS after loading the model(s)
    bool resettable = false;
    void set_baseline() {
        release_freed_heap();
        baseline = proc_status_mb("VmRSS");
    }
    void start() {
        release_freed_heap();
        resettable = reset_peak_rss() && proc_status_mb("VmHWM") > 0;
    }
    double growth_mb() const { return resettable ? proc_status_mb("VmHWM") - baseline : -1.0; }
};

int run_gap_bench(const BenchOptions& o) {
    const double rss_before_model = proc_status_mb("VmRSS");
    const KernelPrecision precision = parse_kernel_precision(o.precision);
    std::unique_ptr<GapCalculator> calc = load_calculator(o.model, parse_radial_mode(o.radial));
    PeakMeter meter;
    meter.set_baseline();
    const GapModel& m = calc->model();
    const int D = calc->kernel_feature_count();
    const int D_all = power_spectrum_size(m.hypers, PowerSpectrumLayout::Compressed);
    std::printf("model: %s\n  nmax %d lmax %d rc %.2f zeta %d, %d kernel features", o.model.c_str(),
                m.hypers.max_radial, m.hypers.max_angular, m.hypers.cutoff.cutoff, m.zeta, D);
    if (m.selected_features.empty())
        std::printf(" (kernel uses the same-species n1<->n2 symmetry: %d of %d)", D, power_spectrum_size(m.hypers));
    else
        std::printf(" (feature selection: %d of the %d compressed features)", D, D_all);
    std::printf("\n  sparse points:");
    for (const auto& s : m.sparse) std::printf(" %ld (Z=%d)", static_cast<long>(s.points.rows()), s.species);
    std::printf("\n  radial: %s; kernel precision: %s; RSS with the model loaded: %.0f MB (%.0f MB before)\n",
                o.radial.c_str(), o.precision.c_str(), meter.baseline, rss_before_model);
    if (!o.no_dgemm) {
        const double dgemm = measure_dgemm_rate();
        std::printf("reference DGEMM (Eigen, 1 thread, 2000^3): %.1f GFLOP/s\n", dgemm);
    }
    if (precision == KernelPrecision::Float32) {
        // Deviation of the float32 kernel from float64 on each size (not timed, before the memory meter).
        set_thread_count(1);
        for (int rep : o.sizes) {
            const Structure s = batio3_supercell(rep);
            const KernelPrecisionDeviation d = float32_deviation(*calc, s, !o.energy_only);
            std::printf("float32 vs float64, %zu atoms: |dE| %.3g meV/atom, max |dF| %.3g meV/Å, rms dF %.3g meV/Å\n",
                        s.size(), 1e3 * d.energy_per_atom, 1e3 * d.max_force, 1e3 * d.rms_force);
        }
    }
    calc->set_kernel_precision(precision);
    std::printf("\nphases (median ms): neigh, expand, powspec = forward descriptors; kernel = X T^T and energies; kgrad = "
                "dE/dX GEMM;\nps_adj, exp_adj = descriptor adjoint; desc%% = share of neigh+expand+powspec+ps_adj+exp_adj "
                "in the phase sum;\nmemMB = peak RSS growth over the loaded model during the case (-1: not measurable)\n");
    std::printf("%6s %7s %9s %9s | %7s %7s %7s %7s %7s %7s %7s %7s | %5s | %7s %7s\n", "atoms", "threads", "median_ms",
                "min_ms", "neigh", "expand", "powspec", "kernel", "kgrad", "ps_adj", "exp_adj", "scatter", "desc%",
                "kern_GF", "memMB");
    for (int threads : o.threads) {
        set_thread_count(threads);
        for (int rep : o.sizes) {
            meter.start();
            const Structure s = batio3_supercell(rep);
            double flops = 0.0;  // kernel GEMMs: K = X T^T and, with gradients, dE/dX = K' T
            for (const auto& set : m.sparse) {
                const auto count = std::count(s.numbers.begin(), s.numbers.end(), set.species);
                flops += (o.energy_only ? 2.0 : 4.0) * count * D * set.points.rows();
            }
            GapWorkspace workspace;
            auto run = [&](PhaseTimes* times) {
                const GapComputeOptions options{times, &workspace};
                return o.energy_only ? calc->compute(s, options) : calc->compute_with_gradients(s, options);
            };
            run(nullptr);  // warm-up
            std::vector<double> total;
            std::vector<PhaseTimes> phases;
            for (int r = 0; r < o.repeats; ++r) {
                PhaseTimes t;
                const auto t0 = std::chrono::steady_clock::now();
                run(&t);
                total.push_back(seconds_since(t0));
                phases.push_back(t);
            }
            auto med = [&](double PhaseTimes::*slot) {
                std::vector<double> v;
                for (const PhaseTimes& p : phases) v.push_back(p.*slot);
                return median(v);
            };
            std::vector<double> share;
            for (const PhaseTimes& p : phases) share.push_back(p.total() > 0 ? p.descriptors() / p.total() : 0.0);
            const double kernel_s = med(&PhaseTimes::kernel) + med(&PhaseTimes::kernel_gradient);
            std::printf("%6zu %7d %9.2f %9.2f | %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f | %5.1f | %7.1f %7.1f\n",
                        s.size(), threads, 1e3 * median(total), 1e3 * *std::min_element(total.begin(), total.end()),
                        1e3 * med(&PhaseTimes::neighbours), 1e3 * med(&PhaseTimes::expansion),
                        1e3 * med(&PhaseTimes::power_spectrum), 1e3 * med(&PhaseTimes::kernel),
                        1e3 * med(&PhaseTimes::kernel_gradient), 1e3 * med(&PhaseTimes::power_spectrum_adjoint),
                        1e3 * med(&PhaseTimes::expansion_adjoint), 1e3 * med(&PhaseTimes::scatter),
                        100.0 * median(share), kernel_s > 0 ? flops / kernel_s * 1e-9 : 0.0, meter.growth_mb());
            std::fflush(stdout);
        }
    }
    return 0;
}

int run_dipole_bench(const BenchOptions& o) {
    ModelFileContents contents = read_model_file_contents(o.dipole_model);
    if (!contents.dipole) throw std::invalid_argument("--dipole-model " + o.dipole_model + " holds no dipole model");
    contents.gap.reset();
    const DipoleCalculator calc(std::move(*contents.dipole), parse_radial_mode(o.radial));
    PeakMeter meter;
    meter.set_baseline();
    const DipoleModel& m = calc.model();
    std::printf("\ndipole model: %s\n  nmax %d lmax %d rc %.2f, %s kernel, %d lambda=1 features, sparse points:",
                o.dipole_model.c_str(), m.hypers.max_radial, m.hypers.max_angular, m.hypers.cutoff.cutoff,
                m.kernel == DipoleKernel::LinearTimesScalar ? "linear x scalar^(zeta-1)" : "linear",
                calc.feature_size());
    for (const auto& s : m.sparse) std::printf(" %ld (Z=%d)", static_cast<long>(s.points.rows()), s.species);
    std::printf("\n  dipoles %s, median ms per phase:\n", o.energy_only ? "only" : "+ Born charges + strain derivative");
    std::printf("%6s %7s %9s %9s | %7s %7s %7s %7s %7s %7s | %7s\n", "atoms", "threads", "median_ms", "min_ms", "neigh",
                "expand", "feats", "kernel", "grads", "scatter", "memMB");
    for (int threads : o.threads) {
        set_thread_count(threads);
        for (int rep : o.sizes) {
            meter.start();
            const Structure s = batio3_supercell(rep);
            DipoleWorkspace workspace;
            auto run = [&](DipolePhaseTimes* times) {
                const DipoleComputeOptions options{times, &workspace};
                return o.energy_only ? calc.compute(s, options) : calc.compute_with_gradients(s, options);
            };
            run(nullptr);  // warm-up
            std::vector<double> total;
            std::vector<DipolePhaseTimes> phases;
            for (int r = 0; r < o.repeats; ++r) {
                DipolePhaseTimes t;
                const auto t0 = std::chrono::steady_clock::now();
                run(&t);
                total.push_back(seconds_since(t0));
                phases.push_back(t);
            }
            auto med = [&](double DipolePhaseTimes::*slot) {
                std::vector<double> v;
                for (const DipolePhaseTimes& p : phases) v.push_back(p.*slot);
                return 1e3 * median(v);
            };
            std::printf("%6zu %7d %9.2f %9.2f | %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f | %7.1f\n", s.size(), threads,
                        1e3 * median(total), 1e3 * *std::min_element(total.begin(), total.end()),
                        med(&DipolePhaseTimes::neighbours), med(&DipolePhaseTimes::expansion),
                        med(&DipolePhaseTimes::features), med(&DipolePhaseTimes::kernel),
                        med(&DipolePhaseTimes::gradients), med(&DipolePhaseTimes::scatter), meter.growth_mb());
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
        "seed): median and best ms per call, median ms per phase, the descriptor share, kernel GFLOP/s next to a "
        "measured DGEMM rate, peak memory beyond the loaded model. Default model: the shipped default model "
        "(the paper's hyperparameters and its dipole section; bench prints its sparse points); docs/benchmarks.md times the "
        "paper-size model (1000 sparse points) with -m.");
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("-m,--model", o->model, "Model file (native or librascal JSON)")->capture_default_str();
    cmd->add_option("--sizes", o->sizes,
                    "Supercell repeats n (n x n x n x 5 atoms: 4 -> 320, 6 -> 1080, 10 -> 5000); default 2 4 6")
        ->capture_default_str()
        ->delimiter(',')
        ->check(CLI::Range(1, 20));
    cmd->add_option("--threads", o->threads, "Thread counts to run, e.g. 1,2; default 1")->capture_default_str()
        ->delimiter(',')
        ->check(positive_integer());
    cmd->add_option("--repeats", o->repeats, "Timed calls per case (after one warm-up); default 5")->capture_default_str()
        ->check(positive_integer());
    cmd->add_option("--radial", o->radial, radial_mode_help());
    cmd->add_option("--precision", o->precision,
                    std::string(kernel_precision_help()) + "; with float32, bench also prints the energy/force "
                    "deviation from float64 for every size")
        ->check(CLI::IsMember({"float64", "float32"}));
    cmd->add_flag("--energy-only", o->energy_only, "Energies only (no forces/virial; dipoles without Born charges)");
    cmd->add_flag("--dipoles", o->dipoles, "Also time the dipole model (--dipole-model) on the same structures");
    cmd->add_option("--dipole-model", o->dipole_model, "Dipole model for --dipoles (default: tests/data's synthetic one)")
        ->capture_default_str();
    cmd->add_flag("--no-dgemm", o->no_dgemm, "Skip the reference DGEMM measurement");
    cmd->add_option("--write-structures", o->write_structures,
                    "Write the structures of --sizes to this extxyz file and exit (for timing other codes on the "
                    "same structures, e.g. scripts/bench_librascal_side_by_side.py)");
    add_config_option(cmd);
    cmd->callback([o, &exit_code]() {
        if (!o->write_structures.empty()) {
            std::vector<ExtxyzFrame> frames;
            for (int rep : o->sizes) {
                ExtxyzFrame f;
                f.structure = batio3_supercell(rep);
                frames.push_back(std::move(f));
            }
            write_extxyz(o->write_structures, frames);
            exit_code = 0;
            return;
        }
        exit_code = run_gap_bench(*o);
        if (exit_code == 0 && o->dipoles) exit_code = run_dipole_bench(*o);
    });
}

}  // namespace gapd
