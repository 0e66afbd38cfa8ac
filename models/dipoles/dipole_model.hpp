#pragma once
// The data of an SA-GPR dipole model (lambda = 1 sparse kernel regression of atomic dipoles; definitions in
// docs/dipoles.md), independent of where it was read from or how it was fitted.
//
//   mu_i = baseline(Z_i) + sum_{j in sparse set of Z_i} K(A_i, J_j) w_j      (3-vectors, e Å)
//   K_ab(A_i, J_j) = sum_q A_i[q*3 + a] J_j[q*3 + b]                           (Linear)
//                    times (x_i . t_j)^(zeta - 1)                             (LinearTimesScalar)
// A_i, J_j: normalized lambda=1 features in Lambda1Features' Cartesian layout; x_i, t_j: normalized power
// spectra (PowerSpectrum) computed with the same SoapHypers.

#include "models/core/matrix.hpp"
#include "models/descriptors/soap_hypers.hpp"

#include <Eigen/Core>
#include <map>
#include <string>
#include <vector>

namespace gapd {

enum class DipoleKernel { Linear, LinearTimesScalar };

struct DipoleSparseSet {
    int species = 0;          // central atomic number
    RowMatrix points;         // M_s x 3Q: J_j, normalized lambda=1 features of the sparse environments
    RowMatrix weights;        // M_s x 3: w_j, e Å
    RowMatrix scalar_points;  // M_s x D: t_j, their normalized power spectra (LinearTimesScalar only, else empty)
};

// Who is who in the Ti-centred unit-cell dipoles of an ABO3 perovskite (models/dipoles/cell_dipoles.hpp).
struct CellDipoleRoles {
    int b_site = 22;        // Ti: one cell per B-site atom
    int a_site = 56;        // Ba: each image within a_shell of a B-site is shared by 8 cells
    int oxygen = 8;         // O: each image within o_shell of a B-site is shared by 2 cells
    double o_shell = 2.6;   // Å, first B-O shell (strictly closer than this)
    double a_shell = 4.2;   // Å, first B-A shell
};

// The paper's dipole hypers: rc 5.5 Å, nmax 6, lmax 4, sigma 0.5 Å, RadialScaling(c 1, r0 3.5 Å, m 4),
// smooth width 0.5 Å, BaTiO3 species.
inline SoapHypers default_dipole_hypers() {
    SoapHypers h;
    h.max_radial = 6;
    h.max_angular = 4;
    h.gaussian_sigma = 0.5;
    h.cutoff.kind = CutoffKind::RadialScaling;
    h.cutoff.cutoff = 5.5;
    h.cutoff.smooth_width = 0.5;
    h.cutoff.rate = 1.0;
    h.cutoff.scale = 3.5;
    h.cutoff.exponent = 4.0;
    h.normalize = true;
    h.species = {8, 22, 56};
    return h;
}

struct DipoleModel {
    SoapHypers hypers = default_dipole_hypers();  // lambda=1 features and (LinearTimesScalar) power spectra
    bool inversion_symmetry = true;               // proper-vector features only (l1 + l2 odd)
    DipoleKernel kernel = DipoleKernel::Linear;
    int zeta = 2;                                 // LinearTimesScalar only: exponent of the scalar factor + 1
    std::vector<DipoleSparseSet> sparse;          // at most one per central species
    // Constant dipole per atom of a species (e Å), none by default. A constant vector is not rotation
    // equivariant: only for models fitted in a fixed laboratory frame.
    std::map<int, Eigen::Vector3d> baseline;
    CellDipoleRoles cell_roles;
    std::string description;                      // free text (provenance)
};

// Throws std::invalid_argument, one line "<context>: <problem>", unless the model is consistent: hypers.species
// non-empty, sorted, without repeats; zeta >= 1; sparse sets sorted by species without repeats, each of a species
// in hypers.species, points M x Lambda1Features(hypers, inversion_symmetry).size(), weights M x 3, scalar points
// M x power_spectrum_size(hypers) with the LinearTimesScalar kernel and none with Linear; baselines only for
// species in hypers.species; cell roles atomic numbers (1..118) with positive shells. Every reader, writer,
// calculator and the fit check models with this.
void validate(const DipoleModel& model, const std::string& context = "dipole model");

}  // namespace gapd
