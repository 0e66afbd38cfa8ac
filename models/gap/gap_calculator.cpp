#include "models/gap/gap_calculator.hpp"

#include "models/descriptors/gradient_scatter.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/core/integer_power.hpp"
#include "models/core/openmp.hpp"
#include "models/core/phase_clock.hpp"
#include "models/core/row_buffers.hpp"
#include "models/core/thread_rows.hpp"

#include <Eigen/Dense>
#include <sstream>
#include <stdexcept>

namespace gapd {

namespace {

using GapPhaseClock = PhaseClock<PhaseTimes>;

// One kernel term: returns w k^zeta and writes its derivative zeta w k^(zeta-1) to `derivative`.
inline double weighted_kernel(double k, double w, int zeta, double& derivative) {
    const double k_pow = integer_power(k, zeta - 1);
    derivative = zeta * w * k_pow;
    return w * k_pow * k;
}

// The rows [begin, end) of a chunk of same-species centres that one thread owns, as the kernel routines see them.
struct KernelChunk {
    const RowMatrix& X;              // features, one row per chunk centre
    RowMatrix& G;                    // dE/dX, written for [begin, end) when `gradients`
    const int* centres;              // atom index of each chunk row
    int begin, end;
    bool gradients;
    Eigen::VectorXd& atom_energies;  // += the kernel term of each centre
    GapPhaseClock& phase;            // this thread's clock
    double* capture = nullptr;       // GapKernelCapture: row b's x . t_m at capture[b * M], if set
    double* capture_self = nullptr;  // and x . x at capture_self[centres[b]]
};

// The sparse set's side of the kernel: E_i += sum_m weights_m (x_i . t_m)^zeta.
struct KernelTerms {
    const Eigen::VectorXd& weights;
    int zeta;
};

// The sparse set's T, packed once for each of the two GEMMs (models/core/prepacked_gemm.hpp).
struct PackedSparsePoints {
    const PrepackedGemm& kernel;    // T (M x D): K^T = T X^T
    const PrepackedGemm& gradient;  // T^T (D x M): (dE/dX)^T = T^T K'^T
};

// K = X T^T, E_i += sum_m w_m K_im^zeta, then (with gradients) the kernel derivative K'_im = zeta w_m K_im^(zeta-1)
// overwrites K (`Kbuf`, rows as in the chunk) and dE/dX = K' T. Row-major rows are the columns of the transposed
// products that PrepackedGemm computes.
void kernel_and_gradient(const KernelChunk& c, const PackedSparsePoints& T, const KernelTerms& terms, RowMatrix& Kbuf,
                         PrepackedGemm::Scratch& scratch) {
    const int M = static_cast<int>(T.kernel.rows());
    const int n = c.end - c.begin;
    T.kernel.multiply(c.X.row(c.begin).data(), c.X.outerStride(), n, Kbuf.row(c.begin).data(), Kbuf.outerStride(),
                      scratch);
    auto K = Kbuf.middleRows(c.begin, n);
    for (int b = c.begin; b < c.end; ++b) {
        double e = 0.0;
        double* krow = K.row(b - c.begin).data();
        if (c.capture) {
            std::copy(krow, krow + M, c.capture + static_cast<std::size_t>(b) * M);
            c.capture_self[c.centres[b]] = c.X.row(b).squaredNorm();
        }
        for (int m = 0; m < M; ++m) {
            double derivative;
            e += weighted_kernel(krow[m], terms.weights[m], terms.zeta, derivative);
            krow[m] = derivative;
        }
        c.atom_energies[c.centres[b]] += e;
    }
    c.phase.lap(&PhaseTimes::kernel);
    if (c.gradients) {
        T.gradient.multiply(Kbuf.row(c.begin).data(), Kbuf.outerStride(), n, c.G.row(c.begin).data(),
                            c.G.outerStride(), scratch);
        c.phase.lap(&PhaseTimes::kernel_gradient);
    }
}

// The same with the two GEMMs in float on mean-centred features (see KernelPrecision): mu, Tc = T - mu in float
// and mean_dot_centred[m] = mu . (t_m - mu) from `points`, the float buffers and K (`Kbuf`) from `buffers`.
// Kernel values, powers and sums are double.
void kernel_and_gradient_float32(const KernelChunk& c, const CentredSparsePoints& points, const KernelTerms& terms,
                                 Float32KernelBuffers& buffers, RowMatrixF& Kbuf) {
    const Eigen::RowVectorXd& mu = points.mean;
    const RowMatrixF& Tc = points.centred;
    const int M = static_cast<int>(Tc.rows());
    for (int b = c.begin; b < c.end; ++b) {
        buffers.x_dot_mean[b] = c.X.row(b).dot(mu);
        buffers.X_centred.row(b) = (c.X.row(b) - mu).cast<float>();
    }
    auto K = Kbuf.middleRows(c.begin, c.end - c.begin);
    K.noalias() = buffers.X_centred.middleRows(c.begin, c.end - c.begin) * Tc.transpose();
    for (int b = c.begin; b < c.end; ++b) {
        double e = 0.0, derivative_sum = 0.0;
        float* krow = K.row(b - c.begin).data();
        for (int m = 0; m < M; ++m) {
            double derivative;
            e += weighted_kernel(buffers.x_dot_mean[b] + points.mean_dot_centred[m] + static_cast<double>(krow[m]),
                                 terms.weights[m], terms.zeta, derivative);
            derivative_sum += derivative;
            krow[m] = static_cast<float>(derivative);
        }
        c.atom_energies[c.centres[b]] += e;
        buffers.derivative_sums[b] = derivative_sum;
    }
    c.phase.lap(&PhaseTimes::kernel);
    if (c.gradients) {
        buffers.G.middleRows(c.begin, c.end - c.begin).noalias() = K * Tc;
        for (int b = c.begin; b < c.end; ++b)
            c.G.row(b) = buffers.G.row(b).cast<double>() + buffers.derivative_sums[b] * mu;
        c.phase.lap(&PhaseTimes::kernel_gradient);
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
      power_spectrum_(model_.hypers, model_.selected_features, model_.selected_feature_scales),
      precision_(KernelPrecision::Float64),
      sparse_of_species_(model_.hypers.species.size(), -1) {
    validate(model_);
    packed_kernel_.reserve(model_.sparse.size());
    packed_gradient_.reserve(model_.sparse.size());
    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const SparseSet& set = model_.sparse[k];
        sparse_of_species_[expansion_.species_index(set.species)] = static_cast<int>(k);
        // Only the packed copies are kept: the compressed matrix is rebuilt from the model when needed.
        const RowMatrix compressed = compressed_points(k);
        const Eigen::Index M = compressed.rows(), D = compressed.cols();
        packed_kernel_.emplace_back(compressed.data(), M, D, D, PrepackedGemm::Storage::RowMajor, chunk_size);
        packed_gradient_.emplace_back(compressed.data(), D, M, D, PrepackedGemm::Storage::ColMajor, chunk_size);
    }
    set_kernel_precision(precision);
}

RowMatrix GapCalculator::compressed_points(std::size_t k) const {
    const SparseSet& set = model_.sparse[k];
    RowMatrix compressed(set.points.rows(), power_spectrum_.size());
    for (Eigen::Index m = 0; m < set.points.rows(); ++m)
        power_spectrum_.from_full_layout(set.points.row(m).data(), compressed.row(m).data());
    return compressed;
}

void GapCalculator::set_kernel_precision(KernelPrecision precision) {
    precision_ = precision;
    centred_points_.clear();
    if (precision != KernelPrecision::Float32) return;
    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const RowMatrix T = compressed_points(k);
        const Eigen::RowVectorXd mu = T.colwise().mean();
        const RowMatrix centred = T.rowwise() - mu;
        centred_points_.push_back({mu, centred.cast<float>(), centred * mu.transpose()});
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

RowMatrix GapCalculator::kernel_features(const Structure& s, const NeighbourList& nl) const {
    if (nl.offsets.size() != s.size() + 1)
        throw std::invalid_argument("GAP model: the neighbour list is not the structure's");
    return centre_features(expansion_, power_spectrum_, nl, species_indices(s.numbers));
}

GapPrediction GapCalculator::compute(const Structure& s, const GapComputeOptions& options) const {
    return evaluate(s, nullptr, false, options);
}

GapPrediction GapCalculator::compute_with_gradients(const Structure& s, const GapComputeOptions& options) const {
    return evaluate(s, nullptr, true, options);
}

GapPrediction GapCalculator::compute(const Structure& s, const NeighbourList& nl,
                                     const GapComputeOptions& options) const {
    return evaluate(s, &nl, false, options);
}

GapPrediction GapCalculator::compute_with_gradients(const Structure& s, const NeighbourList& nl,
                                                    const GapComputeOptions& options) const {
    return evaluate(s, &nl, true, options);
}

std::vector<GapPrediction> GapCalculator::compute_batch_with_gradients(const std::vector<StructureNeighbours>& batch,
                                                                       const GapComputeOptions& options) const {
    return evaluate_batch(batch, true, options);
}

GapPrediction GapCalculator::evaluate(const Structure& s, const NeighbourList* shared_list, bool gradients,
                                      const GapComputeOptions& options) const {
    if (shared_list) return std::move(evaluate_batch({{s, *shared_list}}, gradients, options).front());
    species_indices(s.numbers);  // unknown species are refused before the list is built
    PhaseTimes list_time;
    GapPhaseClock clock(options.times ? &list_time : nullptr);
    const NeighbourList nl = build_neighbour_list(s, cutoff());
    clock.lap(&PhaseTimes::neighbours);
    GapPrediction p = std::move(evaluate_batch({{s, nl}}, gradients, options).front());
    if (options.times) options.times->neighbours += list_time.neighbours;
    return p;
}

std::vector<GapPrediction> GapCalculator::evaluate_batch(const std::vector<StructureNeighbours>& batch,
                                                         bool gradients, const GapComputeOptions& options) const {
    PhaseTimes* times = options.times;
    if (times) *times = PhaseTimes{};
    GapPhaseClock clock(times);
    GapWorkspace local;
    GapWorkspace& w = options.workspace ? *options.workspace : local;
    // The batch's atoms and neighbour entries numbered one structure after the other.
    const std::size_t n_structures = batch.size();
    std::vector<std::vector<int>> species_of(n_structures);
    std::vector<int> atom_offset(n_structures + 1, 0);
    std::vector<std::size_t> entry_offset(n_structures + 1, 0);
    for (std::size_t b = 0; b < n_structures; ++b) {
        const Structure& s = batch[b].structure;
        const NeighbourList& nl = batch[b].neighbours;
        species_of[b] = species_indices(s.numbers);
        if (nl.offsets.size() != s.size() + 1)
            throw std::invalid_argument("GAP model: the neighbour list is not the structure's");
        atom_offset[b + 1] = atom_offset[b] + static_cast<int>(s.size());
        entry_offset[b + 1] = entry_offset[b] + nl.size();
    }
    clock.lap(&PhaseTimes::neighbours);

    const int n_atoms = atom_offset.back();
    const int S = expansion_.size();
    const int D = power_spectrum_.size();
    const int zeta = model_.zeta;
    const int threads = openmp::max_threads();
    if (static_cast<int>(w.expansion.size()) < threads) {
        w.expansion.resize(threads, expansion_.make_scratch());
        w.work.resize(threads);
        w.gemm.resize(threads);
    }
    for (auto& v : w.work) v.resize(D);

    Eigen::VectorXd atom_energies(n_atoms);
    for (std::size_t b = 0; b < n_structures; ++b) {
        const Structure& s = batch[b].structure;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const auto e0 = model_.self_contributions.find(s.numbers[i]);
            atom_energies[atom_offset[b] + static_cast<int>(i)] =
                (e0 != model_.self_contributions.end()) ? e0->second : 0.0;
        }
    }
    GapKernelCapture* capture = options.capture;
    if (capture) {
        if (precision_ != KernelPrecision::Float64)
            throw std::invalid_argument("GAP model: kernel values are captured with the float64 kernel only");
        capture->set.assign(n_atoms, -1);
        capture->row.assign(n_atoms, -1);
        capture->kernel.assign(model_.sparse.size(), RowMatrix());
        capture->self = Eigen::VectorXd::Zero(n_atoms);
    }
    // dE/dr_ij of every neighbour entry; entries of centres without a sparse set stay zero.
    w.pair_gradients.assign(gradients ? 3 * entry_offset.back() : 0, 0.0);

    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const SparseSet& set = model_.sparse[k];
        const PackedSparsePoints T{packed_kernel_[k], packed_gradient_[k]};
        w.centres.clear();
        w.centre_structure.clear();
        for (std::size_t b = 0; b < n_structures; ++b) {
            const Structure& s = batch[b].structure;
            for (std::size_t i = 0; i < s.size(); ++i)
                if (s.numbers[i] == set.species) {
                    w.centres.push_back(atom_offset[b] + static_cast<int>(i));
                    w.centre_structure.push_back(static_cast<int>(b));
                }
        }
        const int M = static_cast<int>(set.points.rows());
        if (w.K.size() < model_.sparse.size()) w.K.resize(model_.sparse.size());
        if (capture) {
            capture->kernel[k].resize(static_cast<Eigen::Index>(w.centres.size()), M);
            for (std::size_t r = 0; r < w.centres.size(); ++r) {
                capture->set[w.centres[r]] = static_cast<int>(k);
                capture->row[w.centres[r]] = static_cast<int>(r);
            }
        }

        for (std::size_t start = 0; start < w.centres.size(); start += chunk_size) {
            const int B = static_cast<int>(std::min<std::size_t>(chunk_size, w.centres.size() - start));
            const int* chunk = w.centres.data() + start;
            const int* chunk_structure = w.centre_structure.data() + start;
            reserve_rows(w.C, B, S);
            reserve_rows(w.X, B, D);
            reserve_rows(w.K[k], B, M);
            if (gradients) {
                reserve_rows(w.G, B, D);
                reserve_rows(w.dC, B, S);
            }
            Float32KernelBuffers& f = w.float32;
            if (precision_ == KernelPrecision::Float32) {
                if (f.K.size() < model_.sparse.size()) f.K.resize(model_.sparse.size());
                reserve_rows(f.X_centred, B, D);
                reserve_rows(f.K[k], B, M);
                if (gradients) reserve_rows(f.G, B, D);
                if (f.x_dot_mean.size() < B) {
                    f.x_dot_mean.resize(B);
                    f.derivative_sums.resize(B);
                }
            }
            if (w.norms.size() < B) w.norms.resize(B);

            // One parallel region per chunk, each thread owning a contiguous block of centres from the
            // expansion to dE/dr_ij (models/core/thread_rows.hpp: its GEMMs run serially on its own rows, no
            // barrier inside; several gapd instances in REMD share the cores). Phase times are thread 0's.
#pragma omp parallel
            {
                const auto [t, b0, b1] = thread_rows(B);
                GapPhaseClock phase(t == 0 ? times : nullptr);
                if (b1 > b0) {
                    // Centre b of the chunk: atom chunk[b] - atom_offset[sb] of batch structure sb.
                    const auto centre = [&](int b) {
                        const int sb = chunk_structure[b];
                        return std::pair<int, int>{sb, chunk[b] - atom_offset[sb]};
                    };
                    for (int b = b0; b < b1; ++b) {
                        const auto [sb, i] = centre(b);
                        expansion_.compute(batch[sb].neighbours, species_of[sb], i, w.C.row(b).data(),
                                           w.expansion[t]);
                    }
                    phase.lap(&PhaseTimes::expansion);
                    for (int b = b0; b < b1; ++b)
                        w.norms[b] = power_spectrum_.compute(w.C.row(b).data(), w.X.row(b).data());
                    phase.lap(&PhaseTimes::power_spectrum);

                    KernelChunk rows{w.X, w.G, chunk, b0, b1, gradients, atom_energies, phase};
                    if (capture) {
                        rows.capture = capture->kernel[k].data() + start * static_cast<std::size_t>(M);
                        rows.capture_self = capture->self.data();
                    }
                    const KernelTerms terms{set.weights, zeta};
                    if (precision_ == KernelPrecision::Float64)
                        kernel_and_gradient(rows, T, terms, w.K[k], w.gemm[t]);
                    else
                        kernel_and_gradient_float32(rows, centred_points_[k], terms, f, f.K[k]);

                    if (gradients) {
                        for (int b = b0; b < b1; ++b)
                            power_spectrum_.backpropagate(w.C.row(b).data(), w.X.row(b).data(), w.norms[b],
                                                          w.G.row(b).data(), w.dC.row(b).data(), w.work[t].data());
                        phase.lap(&PhaseTimes::power_spectrum_adjoint);
                        for (int b = b0; b < b1; ++b) {
                            const auto [sb, i] = centre(b);
                            expansion_.backpropagate(batch[sb].neighbours, species_of[sb], i, w.dC.row(b).data(),
                                                     w.pair_gradients.data() + 3 * entry_offset[sb], w.expansion[t]);
                        }
                        phase.lap(&PhaseTimes::expansion_adjoint);
                    }
                }
            }
            clock.restart();
        }
    }

    // Serial sums: the same result whatever the thread count.
    std::vector<GapPrediction> out(n_structures);
    for (std::size_t b = 0; b < n_structures; ++b) {
        const int n = static_cast<int>(batch[b].structure.size());
        GapPrediction& p = out[b];
        p.atom_energies = atom_energies.segment(atom_offset[b], n);
        p.energy = 0.0;
        for (int i = 0; i < n; ++i) p.energy += p.atom_energies[i];
        if (gradients) {
            // forces = -dE/dr, virial = -dE/d(strain); the negation is exact, so this is the same sum as
            // accumulating the negated terms directly.
            Matrix3N dE_dr = Matrix3N::Zero(n, 3);
            Eigen::Matrix3d dE_dstrain = Eigen::Matrix3d::Zero();
            scatter_pair_gradients(batch[b].neighbours, w.pair_gradients.data() + 3 * entry_offset[b],
                                   [&](int a, int c) -> double& { return dE_dr(a, c); }, dE_dstrain);
            p.forces = -dE_dr;
            p.virial = -dE_dstrain;
        }
    }
    clock.lap(&PhaseTimes::scatter);
    return out;
}

}  // namespace gapd
