#pragma once
// Rows of the sparse-GPR design matrix K_nm for one structure, with one column per sparse point m (all central
// species, sets in model order):
//   energy row   k_m   = sum_{i: Z_i = Z_m} (x_i . t_m)^zeta
//   force rows   -dk_m/dr_j                 (3N rows, atom-major: 3j + {x,y,z})
//   virial rows  -dk_m/d(strain)            (6 rows: xx yy zz yz xz xy; same sign as GapCalculator's virial)
// so that K_rows * w reproduces GapCalculator's energy (minus the baseline), forces and virial for weights w.
//
// Derivatives are exact, by the adjoint route of docs/maths.md run for many right-hand sides: per centre i and
// block of sparse points, dE_m/dx_i = zeta (x_i . t_m)^(zeta-1) t_m goes through the power-spectrum adjoint to
// dE_m/dc_i (one row per m), and the expansion adjoint becomes one GEMM per neighbour species,
// (block x S_a) * (S_a x 3 n_a), with the expansion's pair Jacobian dc/dr_ij (SphericalExpansion::pair_jacobian)
// computed once per centre. The pair gradients go to forces and strain through scatter_pair_gradients, the one
// scatter the calculators use; the virial rows are the symmetrised strain derivatives.

#include "models/gap/gap_model.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/descriptors/spherical_expansion.hpp"
#include "models/core/structure.hpp"

#include <Eigen/Core>
#include <vector>

namespace gapd {

struct KernelRows {
    Eigen::VectorXd energy;  // M
    RowMatrix forces;        // 3N x M (empty without gradients)
    RowMatrix virial;        // 6 x M (empty without gradients)
};

class KernelRowsBuilder {
public:
    // Uses model.hypers, model.zeta and the sparse points (weights are ignored); the model must pass validate().
    KernelRowsBuilder(const GapModel& model, RadialMode mode);

    int columns() const { return columns_; }
    // First column of sparse set k (model.sparse order).
    int column_offset(std::size_t k) const { return offsets_[k]; }

    // Energy rows only / energy, force and virial rows. Single-threaded (callers parallelise over structures).
    // Throw std::invalid_argument for unknown species.
    KernelRows compute(const Structure& s) const { return rows(s, false); }
    KernelRows compute_with_gradients(const Structure& s) const { return rows(s, true); }

    // Sparse points m of one set processed together: dE/dc rows of a block feed one GEMM per species.
    static constexpr int block_size = 64;

private:
    KernelRows rows(const Structure& s, bool gradients) const;

    SoapHypers hypers_;
    int zeta_;
    SphericalExpansion expansion_;
    PowerSpectrum power_spectrum_;           // compressed layout, restricted to model.selected_features
    std::vector<RowMatrix> points_;          // compressed-layout sparse points per set
    std::vector<int> set_of_species_;        // species index -> sparse set or -1
    std::vector<int> offsets_;
    int columns_ = 0;
};

}  // namespace gapd
