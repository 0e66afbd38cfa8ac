#pragma once
// Energy, forces and virial of a sparse SOAP-GAP model for one structure.
//
// Data flow (one line): neighbours -> expansion c_i -> power spectrum x_i -> kernel (x_i . t_m)^zeta as GEMMs
// over chunks of same-species centres -> dE/dx_i (GEMM) -> dE/dc_i (adjoint of the power spectrum) ->
// dE/dr_ij per neighbour entry (adjoint of the expansion) -> forces and virial, summed serially so that
// results do not depend on the number of threads. Nothing per pair is stored but the 3-vector dE/dr_ij.

#include "models/gap_model.hpp"
#include "models/power_spectrum.hpp"
#include "models/soap_hypers.hpp"
#include "models/spherical_expansion.hpp"
#include "models/structure.hpp"

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

// Wall-clock seconds per phase of the last call (for `gapd bench`), as seen by thread 0: the phases of a
// chunk run back to back in each thread, so they are timed inside the thread.
struct PhaseTimes {
    double neighbours = 0, expansion = 0, power_spectrum = 0, kernel = 0, gradients = 0, scatter = 0;
    double total() const { return neighbours + expansion + power_spectrum + kernel + gradients + scatter; }
};

// Buffers reused from call to call (one per connection / caller), so that a request allocates nothing
// once the first call of a given size has run. Not thread-safe: one workspace per concurrent caller.
struct GapWorkspace {
    RowMatrix C, X, G, dC;                     // chunk buffers: coefficients, features, dE/dfeatures, dE/dc
    std::vector<RowMatrix> K;                  // kernel values, one buffer per sparse set (M differs)
    Eigen::VectorXd norms;
    std::vector<double> pair_gradients;        // 3 per neighbour entry
    std::vector<ExpansionScratch> expansion;   // one per thread
    std::vector<std::vector<double>> work;     // one per thread, D doubles
    std::vector<int> centres;
};

class GapCalculator {
public:
    GapCalculator(GapModel model, RadialMode mode);

    const GapModel& model() const { return model_; }
    RadialMode radial_mode() const { return mode_; }
    double cutoff() const { return model_.hypers.cutoff.cutoff; }

    // Throws std::invalid_argument if the structure has species the model does not know.
    // `workspace` may be null (a temporary one is used); pass one per caller to avoid allocations.
    GapPrediction compute(const Structure& s, bool gradients, PhaseTimes* times = nullptr,
                          GapWorkspace* workspace = nullptr) const;

    // Throws std::invalid_argument naming `source` and the first atom whose species the model lacks.
    void check_species(const std::vector<int>& numbers, const std::string& source) const;

    // Normalized power spectra of every atom (N x D), for tests and tools.
    RowMatrix features(const Structure& s) const;

    // Centres processed per GEMM chunk: bounds memory to a few MB whatever the system size.
    static constexpr int chunk_size = 256;

private:
    std::vector<int> species_indices(const std::vector<int>& numbers) const;

    GapModel model_;
    RadialMode mode_;
    SphericalExpansion expansion_;
    PowerSpectrum full_power_spectrum_;  // librascal's layout, for features()
    PowerSpectrum power_spectrum_;       // compressed layout used by the kernel
    std::vector<RowMatrix> compressed_points_;  // model_.sparse[k].points in the compressed layout
    std::vector<int> sparse_of_species_;  // species index -> index into model_.sparse, or -1
};

}  // namespace gapd
