#pragma once
// Energy, forces and virial of a sparse SOAP-GAP model for one structure.
//
// Data flow (one line): neighbours -> expansion c_i -> power spectrum x_i -> kernel (x_i . t_m)^zeta as GEMMs
// over chunks of same-species centres -> dE/dx_i (GEMM) -> dE/dc_i (adjoint of the power spectrum) ->
// dE/dr_ij per neighbour entry (adjoint of the expansion) -> forces and virial, summed serially so that
// results do not depend on the number of threads. Nothing per pair is stored but the 3-vector dE/dr_ij.

#include "models/gap/gap_model.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/descriptors/soap_hypers.hpp"
#include "models/descriptors/spherical_expansion.hpp"
#include "models/core/prepacked_gemm.hpp"
#include "models/core/structure.hpp"

#include <Eigen/Core>
#include <string>
#include <vector>

namespace gapd {

struct GapPrediction {
    double energy = 0.0;                                        // eV
    Matrix3N forces;                                            // eV/Å (empty without gradients)
    Eigen::Matrix3d virial = Eigen::Matrix3d::Zero();           // eV, -dE/d(strain) = -stress * V
    Eigen::VectorXd atom_energies;                              // eV, e0 + kernel term per atom
};

// Precision of the two kernel GEMMs (K = X T^T and dE/dX = K' T). Float32 runs them on features centred on
// the mean mu of the species' sparse points (x = mu + x', t = mu + t'):
//   x . t_m = x . mu + mu . t'_m + x' . t'_m,    dE/dx = (sum_m K'_m) mu + sum_m K'_m t'_m,
// with only the x' . t' and K' t' products in float. Same-species environments are close to their mean, so
// the float rounding scales with |x'| |t'| instead of |x| |t| = 1. Descriptors, their adjoint, the energy sum
// and the scatter stay double; the model stays float64 on disk. Deviations: docs/benchmarks.md.
enum class KernelPrecision { Float64, Float32 };

// "float64" or "float32"; throws std::invalid_argument naming --precision otherwise.
KernelPrecision parse_kernel_precision(const std::string& name);

// Wall-clock seconds per phase of the last call (for `gapd bench`), as seen by thread 0: the phases of a
// chunk run back to back in each thread, so they are timed inside the thread.
struct PhaseTimes {
    double neighbours = 0, expansion = 0, power_spectrum = 0;
    double kernel = 0;           // K = X T^T and the energies
    double kernel_gradient = 0;  // dE/dX = K' T
    double power_spectrum_adjoint = 0, expansion_adjoint = 0;  // dE/dX -> dE/dc -> dE/dr_ij
    double scatter = 0;
    double descriptors() const { return neighbours + expansion + power_spectrum + power_spectrum_adjoint + expansion_adjoint; }
    double total() const { return descriptors() + kernel + kernel_gradient + scatter; }
};

// A sparse set as the float32 kernel uses it (KernelPrecision::Float32).
struct CentredSparsePoints {
    Eigen::RowVectorXd mean;           // mu, the mean point
    RowMatrixF centred;                // T - mu in float
    Eigen::VectorXd mean_dot_centred;  // mu . (t_m - mu) per point
};

// Buffers of the float32 kernel (KernelPrecision::Float32), per chunk row unless said otherwise.
struct Float32KernelBuffers {
    RowMatrixF X_centred, G;                  // X - mu and dE/d(X - mu) in float
    std::vector<RowMatrixF> K;                // kernel values, one buffer per sparse set (M differs)
    Eigen::VectorXd x_dot_mean, derivative_sums;  // x . mu and sum_m K'_m
};

// Buffers reused from call to call (one per connection / caller), so that a request allocates nothing
// once the first call of a given size has run. Not thread-safe: one workspace per concurrent caller.
struct GapWorkspace {
    RowMatrix C, X, G, dC;                     // chunk buffers: coefficients, features, dE/dfeatures, dE/dc
    std::vector<RowMatrix> K;                  // kernel values, one buffer per sparse set (M differs)
    Float32KernelBuffers float32;
    Eigen::VectorXd norms;
    std::vector<double> pair_gradients;        // 3 per neighbour entry
    std::vector<ExpansionScratch> expansion;   // one per thread
    std::vector<std::vector<double>> work;     // one per thread, D doubles
    std::vector<PrepackedGemm::Scratch> gemm;  // one per thread: the packed chunk of the kernel GEMMs
    std::vector<int> centres;                  // atom index of each centre in the batch's atom numbering
    std::vector<int> centre_structure;         // the batch structure each centre belongs to
};

// One structure of a batch with its neighbour list, built with build_neighbour_list(structure, cutoff()).
struct StructureNeighbours {
    const Structure& structure;
    const NeighbourList& neighbours;
};

// Optional per-call inputs and outputs.
// What a compute call can hand out besides its predictions: the linear kernel x_i . t_m of every centre against
// its species' sparse points, and x_i . x_i, before they become energies (GapNovelty uses them). Atoms are
// numbered as in the call: the atoms of each structure of a batch one after the other.
struct GapKernelCapture {
    std::vector<int> set, row;      // per atom: its sparse set (index into model.sparse, -1: none) and row there
    std::vector<RowMatrix> kernel;  // per sparse set: one row of x_i . t_m per centre of that species
    Eigen::VectorXd self;           // per atom: x_i . x_i
};

struct GapComputeOptions {
    PhaseTimes* times = nullptr;        // filled with this call's phase times
    GapWorkspace* workspace = nullptr;  // null: a temporary one (allocates on every call)
    // Filled if set; with the float64 kernel only (the float32 kernel's values are centred and in float: a
    // call with both throws std::invalid_argument).
    GapKernelCapture* capture = nullptr;
};

class GapCalculator {
public:
    // Throws std::invalid_argument for inconsistent models, including bad model.selected_features.
    GapCalculator(GapModel model, RadialMode mode, KernelPrecision precision = KernelPrecision::Float64);

    KernelPrecision kernel_precision() const { return precision_; }
    // Not while a compute call runs in another thread.
    void set_kernel_precision(KernelPrecision precision);
    // Kernel features per centre (the selection's size, or the whole compressed power spectrum).
    int kernel_feature_count() const { return power_spectrum_.size(); }

    const GapModel& model() const { return model_; }
    RadialMode radial_mode() const { return mode_; }
    double cutoff() const { return model_.hypers.cutoff.cutoff; }

    // Energy and atom energies. Throws std::invalid_argument if the structure has species the model does not
    // know. Pass a workspace per caller in `options` to avoid allocations.
    GapPrediction compute(const Structure& s, const GapComputeOptions& options = {}) const;
    // The same plus forces and virial.
    GapPrediction compute_with_gradients(const Structure& s, const GapComputeOptions& options = {}) const;
    // The same on a neighbour list the caller built for `s` with build_neighbour_list(s, cutoff()), e.g. shared
    // with a dipole model of the same cutoff. (A list built with a larger cutoff would give the same values but
    // in another summation order, so results would no longer be bit-reproducible across callers.)
    GapPrediction compute(const Structure& s, const NeighbourList& nl, const GapComputeOptions& options = {}) const;
    GapPrediction compute_with_gradients(const Structure& s, const NeighbourList& nl,
                                         const GapComputeOptions& options = {}) const;

    // Several structures as one batch: one neighbour list each (the caller's), kernel GEMMs over the
    // same-species centres of all of them, so that small structures (i-PI's batched requests: replicas, beads)
    // fill the GEMMs. Each prediction equals compute_with_gradients(structure, neighbours) to round-off (the
    // GEMM rows of a centre are summed in the same order; only the blocking of the GEMM may differ).
    std::vector<GapPrediction> compute_batch_with_gradients(const std::vector<StructureNeighbours>& batch,
                                                            const GapComputeOptions& options = {}) const;

    // Throws std::invalid_argument naming `source` and the first atom whose species the model lacks.
    void check_species(const std::vector<int>& numbers, const std::string& source) const;

    // Normalized power spectra of every atom (N x D) in the Full layout, for tests and tools. With a feature
    // selection: the selected components normalized over the selection, zeros elsewhere.
    RowMatrix features(const Structure& s) const;
    // The features the kernel uses (N x kernel_feature_count(): compressed layout, restricted to the selection).
    RowMatrix kernel_features(const Structure& s) const;
    // The same on the caller's neighbour list of `s` (built with build_neighbour_list(s, cutoff())).
    RowMatrix kernel_features(const Structure& s, const NeighbourList& nl) const;
    // Sparse set k's points in the kernel's feature layout (M x kernel_feature_count()).
    RowMatrix kernel_sparse_points(std::size_t k) const { return compressed_points(k); }

    // Centres processed per GEMM chunk: bounds memory to a few MB whatever the system size.
    static constexpr int chunk_size = 256;

private:
    std::vector<int> species_indices(const std::vector<int>& numbers) const;
    GapPrediction evaluate(const Structure& s, const NeighbourList* nl, bool gradients,
                           const GapComputeOptions& options) const;
    std::vector<GapPrediction> evaluate_batch(const std::vector<StructureNeighbours>& batch, bool gradients,
                                              const GapComputeOptions& options) const;
    // model_.sparse[k].points in the kernel's (compressed or selected) feature layout.
    RowMatrix compressed_points(std::size_t k) const;

    GapModel model_;
    RadialMode mode_;
    SphericalExpansion expansion_;
    PowerSpectrum full_power_spectrum_;  // librascal's layout, for features()
    PowerSpectrum power_spectrum_;       // compressed layout used by the kernel (restricted to the selection)
    // The same T packed for the float64 kernel GEMMs (K = X T^T and dE/dX = K' T): ~2x the memory of T, to save
    // repacking it on every chunk.
    std::vector<PrepackedGemm> packed_kernel_, packed_gradient_;
    std::vector<CentredSparsePoints> centred_points_;  // KernelPrecision::Float32, one per sparse set
    KernelPrecision precision_;
    std::vector<int> sparse_of_species_;  // species index -> index into model_.sparse, or -1
};

}  // namespace gapd
