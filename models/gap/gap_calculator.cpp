#include "models/gap/gap_calculator.hpp"

#include "models/descriptors/gradient_scatter.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/core/integer_power.hpp"
#include "models/core/openmp.hpp"
#include "models/core/phase_clock.hpp"
#include "models/core/thread_rows.hpp"

#include <Eigen/Dense>
#include <sstream>
#include <stdexcept>

namespace gapd {

namespace {

using GapPhaseClock = PhaseClock<PhaseTimes>;

// Grows a buffer to at least `rows` rows of `cols`; callers use topRows(), so steady-state calls do not
// allocate.
template <class Matrix>
void reserve_rows(Matrix& m, Eigen::Index rows, Eigen::Index cols) {
    if (m.rows() < rows || m.cols() != cols) m.resize(std::max(rows, m.cols() == cols ? m.rows() : 0), cols);
}

// One kernel term: returns w k^zeta and writes its derivative zeta w k^(zeta-1) to `derivative`.
inline double weighted_kernel(double k, double w, int zeta, double& derivative) {
    const double k_pow = integer_power(k, zeta - 1);
    derivative = zeta * w * k_pow;
    return w * k_pow * k;
}

// Rows [b0, b1) of the chunk: K = X T^T, E_i += sum_m w_m K_im^zeta, then (with gradients) the kernel
// derivative K'_im = zeta w_m K_im^(zeta-1) overwrites K and dE/dX = K' T.
void kernel_and_gradient(const RowMatrix& X, const RowMatrix& T, RowMatrix& Kbuf, RowMatrix& G, int b0, int b1,
                         bool gradients, int zeta, const Eigen::VectorXd& weights, const int* chunk,
                         Eigen::VectorXd& atom_energies, GapPhaseClock& phase) {
    const int M = static_cast<int>(T.rows());
    auto K = Kbuf.middleRows(b0, b1 - b0);
    K.noalias() = X.middleRows(b0, b1 - b0) * T.transpose();
    for (int b = b0; b < b1; ++b) {
        double e = 0.0;
        double* krow = K.row(b - b0).data();
        for (int m = 0; m < M; ++m) {
            double derivative;
            e += weighted_kernel(krow[m], weights[m], zeta, derivative);
            krow[m] = derivative;
        }
        atom_energies[chunk[b]] += e;
    }
    phase.lap(&PhaseTimes::kernel);
    if (gradients) {
        G.middleRows(b0, b1 - b0).noalias() = K * T;
        phase.lap(&PhaseTimes::kernel_gradient);
    }
}

// The same with the two GEMMs in float on mean-centred features (see KernelPrecision): Tc = T - mu in float,
// mean_dot_centred[m] = mu . (t_m - mu). Kernel values, powers and sums are double.
void kernel_and_gradient_float32(const RowMatrix& X, const Eigen::RowVectorXd& mu, const RowMatrixF& Tc,
                                 const Eigen::VectorXd& mean_dot_centred, RowMatrixF& Xc, Eigen::VectorXd& x_dot_mean,
                                 Eigen::VectorXd& derivative_sums, RowMatrixF& Kbuf, RowMatrixF& Gf, RowMatrix& G, int b0,
                                 int b1, bool gradients, int zeta, const Eigen::VectorXd& weights, const int* chunk,
                                 Eigen::VectorXd& atom_energies, GapPhaseClock& phase) {
    const int M = static_cast<int>(Tc.rows());
    for (int b = b0; b < b1; ++b) {
        x_dot_mean[b] = X.row(b).dot(mu);
        Xc.row(b) = (X.row(b) - mu).cast<float>();
    }
    auto K = Kbuf.middleRows(b0, b1 - b0);
    K.noalias() = Xc.middleRows(b0, b1 - b0) * Tc.transpose();
    for (int b = b0; b < b1; ++b) {
        double e = 0.0, derivative_sum = 0.0;
        float* krow = K.row(b - b0).data();
        for (int m = 0; m < M; ++m) {
            double derivative;
            e += weighted_kernel(x_dot_mean[b] + mean_dot_centred[m] + static_cast<double>(krow[m]), weights[m], zeta,
                                 derivative);
            derivative_sum += derivative;
            krow[m] = static_cast<float>(derivative);
        }
        atom_energies[chunk[b]] += e;
        derivative_sums[b] = derivative_sum;
    }
    phase.lap(&PhaseTimes::kernel);
    if (gradients) {
        Gf.middleRows(b0, b1 - b0).noalias() = K * Tc;
        for (int b = b0; b < b1; ++b) G.row(b) = Gf.row(b).cast<double>() + derivative_sums[b] * mu;
        phase.lap(&PhaseTimes::kernel_gradient);
    }
}

}  // namespace

KernelPrecision parse_kernel_precision(const std::string& name) {
    if (name == "float64") return KernelPrecision::Float64;
    if (name == "float32") return KernelPrecision::Float32;
    throw std::invalid_argument("--precision must be float64 or float32 (got '" + name + "')");
}

GapCalculator::GapCalculator(GapModel model, RadialMode mode, KernelPrecision precision)
    : model_(std::move(model)),
      mode_(mode),
      expansion_(model_.hypers, mode),
      full_power_spectrum_(model_.hypers, PowerSpectrumLayout::Full),
      power_spectrum_(model_.hypers, model_.selected_features),
      precision_(KernelPrecision::Float64),
      sparse_of_species_(model_.hypers.species.size(), -1) {
    validate(model_);
    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const SparseSet& set = model_.sparse[k];
        sparse_of_species_[expansion_.species_index(set.species)] = static_cast<int>(k);
        RowMatrix compressed(set.points.rows(), power_spectrum_.size());
        for (Eigen::Index m = 0; m < set.points.rows(); ++m)
            power_spectrum_.from_full_layout(set.points.row(m).data(), compressed.row(m).data());
        compressed_points_.push_back(std::move(compressed));
    }
    set_kernel_precision(precision);
}

void GapCalculator::set_kernel_precision(KernelPrecision precision) {
    precision_ = precision;
    point_means_.clear();
    float_centred_points_.clear();
    mean_dot_centred_.clear();
    if (precision != KernelPrecision::Float32) return;
    for (const RowMatrix& T : compressed_points_) {
        const Eigen::RowVectorXd mu = T.colwise().mean();
        const RowMatrix centred = T.rowwise() - mu;
        point_means_.push_back(mu);
        float_centred_points_.push_back(centred.cast<float>());
        mean_dot_centred_.push_back(centred * mu.transpose());
    }
}

void GapCalculator::check_species(const std::vector<int>& numbers, const std::string& source) const {
    try {
        species_indices(numbers);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(source + ": " + e.what());
    }
}

std::vector<int> GapCalculator::species_indices(const std::vector<int>& numbers) const {
    return expansion_.species_map().indices(numbers, "model");
}

RowMatrix GapCalculator::features(const Structure& s) const {
    const std::vector<int> species_of = species_indices(s.numbers);
    const NeighbourList nl = build_neighbour_list(s, cutoff());
    if (model_.selected_features.empty()) return centre_features(expansion_, full_power_spectrum_, nl, species_of);
    // Selected features, normalized over the selection, in the Full layout (zeros elsewhere): what sparse
    // points of a selected model hold.
    const RowMatrix selected = centre_features(expansion_, power_spectrum_, nl, species_of);
    RowMatrix full(selected.rows(), full_power_spectrum_.size());
    for (Eigen::Index i = 0; i < selected.rows(); ++i)
        power_spectrum_.to_full_layout(selected.row(i).data(), full.row(i).data());
    return full;
}

RowMatrix GapCalculator::kernel_features(const Structure& s) const {
    const std::vector<int> species_of = species_indices(s.numbers);
    return centre_features(expansion_, power_spectrum_, build_neighbour_list(s, cutoff()), species_of);
}

GapPrediction GapCalculator::compute(const Structure& s, bool gradients, PhaseTimes* times,
                                     GapWorkspace* workspace) const {
    if (times) *times = PhaseTimes{};
    GapPhaseClock clock(times);
    GapWorkspace local;
    GapWorkspace& w = workspace ? *workspace : local;
    const std::vector<int> species_of = species_indices(s.numbers);
    const NeighbourList nl = build_neighbour_list(s, cutoff());
    clock.lap(&PhaseTimes::neighbours);

    const int n_atoms = static_cast<int>(s.size());
    const int S = expansion_.size();
    const int D = power_spectrum_.size();
    const int zeta = model_.zeta;
    const int threads = openmp::max_threads();
    if (static_cast<int>(w.expansion.size()) < threads) {
        w.expansion.resize(threads, expansion_.make_scratch());
        w.work.resize(threads);
    }
    for (auto& v : w.work) v.resize(D);

    GapPrediction out;
    out.atom_energies.resize(n_atoms);
    for (int i = 0; i < n_atoms; ++i) {
        const auto e0 = model_.self_contributions.find(s.numbers[i]);
        out.atom_energies[i] = (e0 != model_.self_contributions.end()) ? e0->second : 0.0;
    }
    // dE/dr_ij of every neighbour entry; entries of centres without a sparse set stay zero.
    w.pair_gradients.assign(gradients ? 3 * nl.size() : 0, 0.0);

    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const SparseSet& set = model_.sparse[k];
        const RowMatrix& T = compressed_points_[k];
        w.centres.clear();
        for (int i = 0; i < n_atoms; ++i)
            if (s.numbers[i] == set.species) w.centres.push_back(i);
        const int M = static_cast<int>(T.rows());
        if (w.K.size() < model_.sparse.size()) w.K.resize(model_.sparse.size());

        for (std::size_t start = 0; start < w.centres.size(); start += chunk_size) {
            const int B = static_cast<int>(std::min<std::size_t>(chunk_size, w.centres.size() - start));
            const int* chunk = w.centres.data() + start;
            reserve_rows(w.C, B, S);
            reserve_rows(w.X, B, D);
            reserve_rows(w.K[k], B, M);
            if (gradients) {
                reserve_rows(w.G, B, D);
                reserve_rows(w.dC, B, S);
            }
            if (precision_ == KernelPrecision::Float32) {
                if (w.Kf.size() < model_.sparse.size()) w.Kf.resize(model_.sparse.size());
                reserve_rows(w.Xf, B, D);
                reserve_rows(w.Kf[k], B, M);
                if (gradients) reserve_rows(w.Gf, B, D);
            }
            if (w.norms.size() < B) w.norms.resize(B);
            if (precision_ == KernelPrecision::Float32 && w.x_dot_mean.size() < B) {
                w.x_dot_mean.resize(B);
                w.kernel_derivative_sums.resize(B);
            }

            // One parallel region per chunk, each thread owning a contiguous block of centres from the
            // expansion to dE/dr_ij (models/core/thread_rows.hpp: its GEMMs run serially on its own rows, no
            // barrier inside; several gapd instances in REMD share the cores). Phase times are thread 0's.
#pragma omp parallel
            {
                const auto [t, b0, b1] = thread_rows(B);
                GapPhaseClock phase(t == 0 ? times : nullptr);
                if (b1 > b0) {
                    for (int b = b0; b < b1; ++b)
                        expansion_.compute(nl, species_of, chunk[b], w.C.row(b).data(), w.expansion[t]);
                    phase.lap(&PhaseTimes::expansion);
                    for (int b = b0; b < b1; ++b)
                        w.norms[b] = power_spectrum_.compute(w.C.row(b).data(), w.X.row(b).data());
                    phase.lap(&PhaseTimes::power_spectrum);

                    if (precision_ == KernelPrecision::Float64)
                        kernel_and_gradient(w.X, T, w.K[k], w.G, b0, b1, gradients, zeta, set.weights, chunk,
                                            out.atom_energies, phase);
                    else
                        kernel_and_gradient_float32(w.X, point_means_[k], float_centred_points_[k],
                                                    mean_dot_centred_[k], w.Xf, w.x_dot_mean, w.kernel_derivative_sums,
                                                    w.Kf[k], w.Gf, w.G, b0, b1, gradients, zeta, set.weights, chunk,
                                                    out.atom_energies, phase);

                    if (gradients) {
                        for (int b = b0; b < b1; ++b)
                            power_spectrum_.backpropagate(w.C.row(b).data(), w.X.row(b).data(), w.norms[b],
                                                          w.G.row(b).data(), w.dC.row(b).data(), w.work[t].data());
                        phase.lap(&PhaseTimes::power_spectrum_adjoint);
                        for (int b = b0; b < b1; ++b)
                            expansion_.backpropagate(nl, species_of, chunk[b], w.dC.row(b).data(),
                                                     w.pair_gradients.data(), w.expansion[t]);
                        phase.lap(&PhaseTimes::expansion_adjoint);
                    }
                }
            }
            clock.restart();
        }
    }

    // Serial sums: the same result whatever the thread count.
    out.energy = 0.0;
    for (int i = 0; i < n_atoms; ++i) out.energy += out.atom_energies[i];
    if (gradients) {
        // forces = -dE/dr, virial = -dE/d(strain); the negation is exact, so this is the same sum as accumulating
        // the negated terms directly.
        Matrix3N dE_dr = Matrix3N::Zero(n_atoms, 3);
        Eigen::Matrix3d dE_dstrain = Eigen::Matrix3d::Zero();
        scatter_pair_gradients(nl, w.pair_gradients.data(), [&](int k, int b) -> double& { return dE_dr(k, b); },
                               dE_dstrain);
        out.forces = -dE_dr;
        out.virial = -dE_dstrain;
    }
    clock.lap(&PhaseTimes::scatter);
    return out;
}

}  // namespace gapd
