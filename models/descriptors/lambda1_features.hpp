#pragma once
// lambda = 1 equivariant SOAP features (nu = 2, librascal's SphericalCovariants, covariant_lambda = 1) of one
// centre, in a Cartesian layout, and their adjoint. Definitions: docs/dipoles.md and
// shared/reference/librascal/lambda1/README.md.
//
//   T^{ab}_{n1 n2 l1 l2 mu} = s_ab R( sum_{m1 m2} (l1 l2 1; m1 m2 mu) C^a_{n1 l1 m1} C^b_{n2 l2 m2} )_mu
//
// with C the complex coefficients built from the real ones, R the complex-to-real map, s_ab = sqrt2 for
// a < b, and (for l1 + l2 even, pseudo-vectors) -i in front of the sum. This is a real bilinear form in the
// real coefficients, so the constructor tabulates it once: T_a = sum g c^a_{n1 l1 m1} c^b_{n2 l2 m2} over a
// short list of (Cartesian component, m1, m2, g) per (l1, l2).
//
// Layout of one centre: features[q*3 + a], a = x, y, z, with q = ((key*nmax + n1)*nmax + n2)*npairs + pair:
// keys (a <= b species pairs, lexicographic; a carries (n1, l1), b carries (n2, l2)), the full n1 x n2
// square, then the (l1, l2) pairs in librascal's order (l1 ascending, then l2 ascending). librascal's
// column q*3 + (mu+1) maps to (x, y, z) = (T_+1, -T_-1, T_0); that sign on y makes the triplet rotate as a
// proper Cartesian vector. x = T / ||T|| over the whole centre vector (if hypers.normalize).

#include "models/descriptors/soap_hypers.hpp"

#include <Eigen/Core>

#include <array>
#include <vector>

namespace gapd {

class Lambda1Features {
public:
    // inversion_symmetry = true keeps only the proper vectors (l1 + l2 odd), what a dipole model uses;
    // false also keeps the pseudo-vectors (l1 = l2 >= 1). Throws std::invalid_argument for lmax outside [1, 30],
    // max_radial outside [1, 32] or no species.
    explicit Lambda1Features(const SoapHypers& hypers, bool inversion_symmetry = true);

    bool inversion_symmetry() const { return inversion_symmetry_; }
    // (l1, l2) pairs in layout order.
    const std::vector<std::array<int, 2>>& angular_pairs() const { return pairs_; }
    int triplets() const { return triplets_; }  // Q
    int size() const { return 3 * triplets_; }  // 3Q doubles per centre

    // features (size() doubles, overwritten) from the coefficients of one centre (SphericalExpansion
    // layout); returns ||T||, the norm before normalization. Does not allocate.
    double compute(const double* coefficients, double* features) const;

    // Adjoint: dE/dc (overwritten, SphericalExpansion layout) from dE/dfeatures, the centre's coefficients,
    // its features and norm as returned by compute(). `work` holds size() doubles of scratch.
    void backpropagate(const double* coefficients, const double* features, double norm, const double* dE_dfeatures,
                       double* dE_dcoefficients, double* work) const;

    // Adjoint of the Cartesian vector m_a = sum_q features[3q+a] u[q] (u: Q doubles), what a linear lambda=1
    // kernel predicts: writes dm_a/dc to dm_dcoefficients[a * ncoeff + k] for a = 0, 1, 2, ncoeff = number of
    // coefficients of one centre. Same result as three backpropagate() calls with dE/dfeatures = u on component
    // a, at the cost of about two (one for unnormalized features). `work` holds ncoeff doubles.
    void backpropagate_vector(const double* coefficients, const double* features, double norm, const double* u,
                              double* dm_dcoefficients, double* work) const;

    // For unnormalized features (hypers.normalize false) only, where m is a bilinear form in c: the Cartesian
    // vector m_a = sum_q T[3q+a] u[q] of one centre without forming T, per (key, pair) block U c_b once and
    // then one length-nmax dot product per term. Throws std::logic_error for normalized features.
    Eigen::Vector3d contract(const double* coefficients, const double* u) const;
    // The same and dm_a/dc, written to dm_dcoefficients[a * ncoeff + k] (as backpropagate_vector).
    Eigen::Vector3d contract_with_gradient(const double* coefficients, const double* u,
                                           double* dm_dcoefficients) const;

    // One centre's row in librascal's column order (mu = -1, 0, +1 per triplet) -> the Cartesian layout.
    static void from_librascal(const double* librascal_row, int triplets, double* features);

private:
    struct Term {
        int component;  // 0, 1, 2 = x, y, z
        int lm1, lm2;   // l*l + l + m of the two factors
        double weight;
    };

    // The unnormalized features, and the adjoints of the bilinear map T(c) (no normalization), one (key, pair)
    // block at a time; NT = nmax when it has a compile-time kernel (radial_dispatch.hpp), else 0.
    template <int NT>
    void compute_blocks(const double* coefficients, double* features) const;
    template <int NT>
    void backpropagate_blocks(const double* coefficients, const double* dE_dT, double* dE_dcoefficients) const;
    // m += sum_q T[3q+a] u[q] and, unless dm is null, dm[a * ncoeff + k] += dm_a/dc_k = B_a(u), the adjoint of
    // T applied to u on component a only.
    template <int NT>
    void contract_blocks(const double* coefficients, const double* u, Eigen::Vector3d& m, double* dm) const;

    int nspecies_, nmax_, nlm_, triplets_;
    bool inversion_symmetry_, normalize_;
    std::vector<std::array<int, 2>> pairs_;
    std::vector<Term> terms_;              // the terms of pair p are [term_offsets_[p], term_offsets_[p+1])
    std::vector<int> term_offsets_;
};

}  // namespace gapd
