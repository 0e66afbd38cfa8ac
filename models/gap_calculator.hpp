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

// Wall-clock seconds per phase of the last call (for `gapd bench`).
struct PhaseTimes {
    double neighbours = 0, expansion = 0, power_spectrum = 0, kernel = 0, gradients = 0, scatter = 0;
    double total() const { return neighbours + expansion + power_spectrum + kernel + gradients + scatter; }
};

class GapCalculator {
public:
    GapCalculator(GapModel model, RadialMode mode);

    const GapModel& model() const { return model_; }
    RadialMode radial_mode() const { return mode_; }
    double cutoff() const { return model_.hypers.cutoff.cutoff; }

    // Throws std::invalid_argument if the structure has species the model does not know.
    GapPrediction compute(const Structure& s, bool gradients, PhaseTimes* times = nullptr) const;

    // Normalized power spectra of every atom (N x D), for tests and tools.
    RowMatrix features(const Structure& s) const;

    // Centres processed per GEMM chunk: bounds memory to a few MB whatever the system size.
    static constexpr int chunk_size = 256;

private:
    std::vector<int> species_indices(const Structure& s) const;

    GapModel model_;
    RadialMode mode_;
    SphericalExpansion expansion_;
    PowerSpectrum power_spectrum_;
    std::vector<int> sparse_of_species_;  // species index -> index into model_.sparse, or -1
};

}  // namespace gapd
