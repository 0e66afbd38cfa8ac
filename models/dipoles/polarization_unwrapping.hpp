#pragma once
// Polarization branch unwrapping of training dipoles (Gigli et al., npj Comput Mater 8, 209 (2022), Methods 4.3;
// docs/dipoles.md "Fitting dipoles").
//
// The dipole of a periodic cell (Berry phase) is defined modulo e (n1 a1 + n2 a2 + n3 a3). Before fitting, every
// training dipole M is moved to the branch M + e n L closest to a linear Born-effective-charge model
//   M_lin = sum_i Z*_i d_i,     d_i = r_i - r_i^ref  (minimum image)
// with one isotropic charge per species and a reference geometry, either given per frame (a per-atom array) or
// the ideal (centrosymmetric) perovskite positions of an ABO3 supercell found by perovskite_displacements().
// Dipoles in e Å, charges in e: the quantum is e a_k = a_k (Å) numerically, no unit conversion.

#include "models/dipoles/dipole_model.hpp"
#include "models/core/structure.hpp"

#include <Eigen/Core>
#include <map>
#include <string>

namespace gapd {

// BaTiO3: the Born effective charges of cubic BaTiO3 from Zhong, King-Smith and Vanderbilt, PRL 72, 3618
// (1994): Z*_Ba = 2.75, Z*_Ti = 7.16, Z*_O = -5.69 (parallel) and -2.11 (perpendicular, twice); the O value is
// the isotropic average -(2.75 + 7.16)/3 = -3.30333..., so that Ba + Ti + 3 O = 0 exactly (neutral cell).
inline std::map<int, double> default_batio3_born_charges() {
    return {{56, 2.75}, {22, 7.16}, {8, -(2.75 + 7.16) / 3.0}};
}

struct PolarizationUnwrapping {
    bool enabled = true;
    std::map<int, double> born_charges = default_batio3_born_charges();  // e, per atomic number
    // Per-atom array (N x 3, Å) with the reference positions of each frame; empty: the perovskite rule.
    std::string reference_key;
    CellDipoleRoles roles;  // which species are the A site, B site and oxygen for the perovskite rule
};

// Displacements d_i = r_i - r_i^ref, each the minimum image over the cell's lattice (exact for triclinic cells).
// Throws std::invalid_argument if the shapes differ or the cell is singular.
Matrix3N displacements_from_reference(const Structure& s, const Matrix3N& reference);

// Displacements from the ideal perovskite positions of an ABO3 supercell (fully periodic, n_A = n_B,
// n_O = 3 n_B, no other species). Rule: for every factorisation n1 n2 n3 = n_B, the cell is an n1 x n2 x n3
// grid of pseudo-cubic cells with basis b_k = a_k / n_k; the origin is the circular mean of the A-site grid
// coordinates; sites are A at (0,0,0), B at (1/2,1/2,1/2) and O at the three face centres of every grid
// cell; each atom goes to the nearest site of its kind (exact nearest-lattice-point search). A factorisation
// is valid if every site holds exactly one atom; the valid one with the smallest sum of squared
// displacements wins. Uniform translations do not change the result. Throws std::invalid_argument (one line)
// if the structure is not such a supercell (wrong species or counts, not periodic, no valid grid).
Matrix3N perovskite_displacements(const Structure& s, const CellDipoleRoles& roles);

// M_lin = sum_i Z*_i d_i. Throws std::invalid_argument for a species without a charge.
Eigen::Vector3d linear_dipole(const Structure& s, const Matrix3N& displacements, const std::map<int, double>& charges);

// The branch dipole + sum_k n_k cell.row(k) closest to target (e = 1; exact for triclinic cells).
Eigen::Vector3d nearest_branch(const Eigen::Matrix3d& cell, const Eigen::Vector3d& dipole, const Eigen::Vector3d& target);

}  // namespace gapd
