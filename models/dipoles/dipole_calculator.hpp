#pragma once
// Dipoles of an SA-GPR model (models/dipoles/dipole_model.hpp) for one structure: partial dipoles mu_i, the total
// M = sum_i mu_i and, on request, Born effective charges dM_a/dr_{k,b} and dM_a/d(strain).
//
// Data flow: neighbours -> expansion c_i -> lambda=1 features A_i (and power spectra x_i for the non-linear
// kernel) -> dipoles. Linear kernel: mu_i = A_i^T u_s with u_s[q] = sum_j sum_b J_j[3q+b] w_jb precomputed per
// species (exact, no 3x3 blocks). Non-linear kernel: GEMMs over chunks of same-species centres. Born charges:
// adjoint passes, one per component a of M (the three share one sweep through the lambda=1 features), through
// features -> coefficients -> dM_a/dr_ij per neighbour entry, then a serial scatter, so results do not depend
// on the number of threads. As in the GAP calculator, each chunk is one parallel region in which every thread
// takes its own block of centres from the expansion to dM_a/dr_ij (models/core/thread_rows.hpp).

#include "models/dipoles/dipole_model.hpp"
#include "models/descriptors/lambda1_features.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/descriptors/soap_hypers.hpp"
#include "models/descriptors/spherical_expansion.hpp"
#include "models/core/structure.hpp"

#include <Eigen/Core>
#include <array>
#include <vector>

namespace gapd {

struct DipolePrediction {
    Eigen::Vector3d total = Eigen::Vector3d::Zero();  // M, e Å
    Matrix3N partial;                                 // N x 3, mu_i in e Å (baseline included)
    // 3N x 3, row 3k+b, column a: dM_a/dr_{k,b} in e (i-PI's BEC layout). Empty unless requested.
    Matrix3N born_charges;
    // strain_derivative[a](b, c) = dM_a/d(eps_bc) in e Å, for r -> (1 + eps) r. Zero unless requested.
    std::array<Eigen::Matrix3d, 3> strain_derivative{
        {Eigen::Matrix3d::Zero(), Eigen::Matrix3d::Zero(), Eigen::Matrix3d::Zero()}};
};

// Wall-clock seconds per phase of the last call, as seen by thread 0 (the phases of a chunk run back to back in
// each thread, so they are timed inside the thread).
struct DipolePhaseTimes {
    double neighbours = 0, expansion = 0, features = 0, kernel = 0, gradients = 0, scatter = 0;
    double total() const { return neighbours + expansion + features + kernel + gradients + scatter; }
};

// Buffers reused from call to call (one per connection / caller), so that a request allocates nothing once the
// first call of a given size has run. Not thread-safe: one workspace per concurrent caller.
struct DipoleWorkspace {
    RowMatrix C, A, X, U;          // chunk buffers: coefficients, lambda=1 features, power spectra, S V
    std::array<RowMatrix, 3> Gx;   // dM_a/dX per component a (non-linear kernel, with gradients)
    Eigen::VectorXd norms_A, norms_X;
    std::array<std::vector<double>, 3> pair_gradients;  // dM_a/dr_ij, 3 per neighbour entry
    std::vector<int> centres;
    // One per thread: its expansion scratch, its rows of the kernel (mu_a; non-linear: X T^T, its powers and
    // A_a V^T) and the adjoint's work arrays.
    struct Thread {
        ExpansionScratch expansion;
        Eigen::VectorXd mu;
        RowMatrix K, S, dS, P;
        std::vector<double> dM_dc, work, dc_scalar;
    };
    std::vector<Thread> threads;
};

// Optional per-call inputs and outputs.
struct DipoleComputeOptions {
    DipolePhaseTimes* times = nullptr;     // filled with this call's phase times
    DipoleWorkspace* workspace = nullptr;  // null: a temporary one (allocates on every call)
};

// Component a (0, 1, 2 = x, y, z) of every triplet of B x 3Q lambda=1 feature rows (Lambda1Features' Cartesian
// layout), as a B x Q matrix view (no copy). Shared by the calculator and the fit's kernel rows.
using TripletComponent = Eigen::Map<const RowMatrix, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
inline TripletComponent triplet_component(const RowMatrix& A, int a) {
    return TripletComponent(A.data() + a, A.rows(), A.cols() / 3, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(A.cols(), 3));
}

class DipoleCalculator {
public:
    // Throws std::invalid_argument if the sparse sets do not match the hypers and kernel (shapes, species,
    // scalar points present exactly for LinearTimesScalar, zeta >= 1, at most one set per species).
    DipoleCalculator(DipoleModel model, RadialMode mode);

    const DipoleModel& model() const { return model_; }
    RadialMode radial_mode() const { return mode_; }
    double cutoff() const { return model_.hypers.cutoff.cutoff; }
    int feature_size() const { return lambda1_.size(); }         // 3Q
    int scalar_feature_size() const { return power_spectrum_.size(); }  // D

    // Partial and total dipoles. Throws std::invalid_argument if the structure has species the hypers do not know.
    DipolePrediction compute(const Structure& s, const DipoleComputeOptions& options = {}) const;
    // The same plus the Born charges and the strain derivative.
    DipolePrediction compute_with_gradients(const Structure& s, const DipoleComputeOptions& options = {}) const;
    // The same on a neighbour list the caller built for `s` with build_neighbour_list(s, cutoff()), e.g. shared
    // with a GAP of the same cutoff. (A list built with a larger cutoff would give the same values but in another
    // summation order, so results would no longer be bit-reproducible across callers.)
    DipolePrediction compute(const Structure& s, const NeighbourList& nl, const DipoleComputeOptions& options = {}) const;
    DipolePrediction compute_with_gradients(const Structure& s, const NeighbourList& nl,
                                            const DipoleComputeOptions& options = {}) const;

    // Normalized lambda=1 features (N x 3Q) and power spectra (N x D) of every atom, e.g. to build sparse sets.
    RowMatrix features(const Structure& s) const;
    RowMatrix scalar_features(const Structure& s) const;

    // Centres processed per chunk: bounds memory to ~10 MB whatever the system size.
    static constexpr int chunk_size = 256;

private:
    std::vector<int> species_indices(const Structure& s) const;
    DipolePrediction evaluate(const Structure& s, const NeighbourList* nl, bool gradients,
                              const DipoleComputeOptions& options) const;

    DipoleModel model_;
    RadialMode mode_;
    SphericalExpansion expansion_;
    Lambda1Features lambda1_;
    PowerSpectrum power_spectrum_;
    // Per sparse set: V (M_s x Q), V[j][q] = sum_b J_j[3q+b] w_jb, and u = sum_j V[j] (Q).
    std::vector<RowMatrix> contracted_;
    std::vector<Eigen::VectorXd> summed_;
};

}  // namespace gapd
