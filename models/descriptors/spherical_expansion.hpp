#pragma once
// Density expansion coefficients c^a_{nlm} of one atomic environment (librascal's SphericalExpansion with the
// GTO basis) and the adjoint (reverse-mode) pass that turns dE/dc into dE/dr_ij for each neighbour entry.
//
// The pair Jacobian dc/dr_ij of one centre, for many right-hand sides at once (the fit's kernel rows), follows
// the same formula as backpropagate:
//   dc^a_{nlm}/dr_ij = (fc'(r) M_nl(r) + fc(r) M'_nl(r)) Y_lm(r) r_ij/r + fc(r) M_nl(r) grad Y_lm(r_ij).
//
// Coefficient layout of one centre: c[(a * (lmax+1)^2 + lm) * nmax + n], a = index of the neighbour species
// in hypers.species, lm = l*l + l + m. For fixed (a, l) the (2l+1) x nmax block is contiguous, which is what
// the power spectrum contracts over.

#include "models/descriptors/cutoff_function.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/radial_basis.hpp"
#include "models/descriptors/species_map.hpp"
#include "models/descriptors/soap_hypers.hpp"
#include "models/descriptors/spherical_harmonics.hpp"
#include "models/core/matrix.hpp"
#include "models/core/structure.hpp"

#include <vector>

namespace gapd {

// dc/dr_ij of one centre, grouped by neighbour species a: entries[a] lists the neighbour-list entries of the
// centre whose neighbour has species a (list order), blocks[a] is (lmax+1)^2 nmax x 3 entries[a].size(): row
// lm * nmax + n (the coefficient's offset inside species block a of c), columns 3q + {x, y, z} for entry
// entries[a][q]. Entries beyond the cutoff have zero columns. Reused from centre to centre without reallocating.
struct PairJacobian {
    std::vector<std::vector<std::size_t>> entries;
    std::vector<RowMatrix> blocks;
};

// Per-thread work arrays, allocated once per thread and reused for every centre.
struct ExpansionScratch {
    std::vector<double> radial, radial_derivative;  // (lmax+1) * nmax
    std::vector<double> harmonics, harmonics_gradient;  // (lmax+1)^2, 3 (lmax+1)^2
    std::vector<double> lowered;  // the adjoint's per-centre D (see spherical_expansion.cpp), grown as needed
};

class SphericalExpansion {
public:
    SphericalExpansion(const SoapHypers& hypers, RadialMode mode);

    const SoapHypers& hypers() const { return hypers_; }
    int species_count() const { return species_.size(); }
    // Index of atomic number z in hypers.species, or -1.
    int species_index(int z) const { return species_.index(z); }
    const SpeciesMap& species_map() const { return species_; }
    // Number of coefficients of one centre: nspecies * (lmax+1)^2 * nmax.
    int size() const { return size_; }

    ExpansionScratch make_scratch() const;

    // c for centre i (size() doubles, overwritten). species_of[j] = species index of atom j.
    void compute(const NeighbourList& nl, const std::vector<int>& species_of, int i, double* coefficients,
                 ExpansionScratch& scratch) const;

    // Adjoint: given dE/dc of centre i, writes dE/dr_ij (3 doubles) for every neighbour entry of i into
    // pair_gradients[3 * entry] (entries of the CSR neighbour list).
    void backpropagate(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                       const double* dE_dcoefficients, double* pair_gradients, ExpansionScratch& scratch) const;

    // The same adjoint for `count` gradients of centre i at once (the three components of a dipole):
    // dQ_k/dc at dQ_dcoefficients + k * size(), written to pair_gradients[k][3 * entry]. Each pair's radial
    // functions and harmonics are evaluated once for all k; every k gets the same operations as backpropagate.
    void backpropagate_many(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                            const double* dQ_dcoefficients, int count, double* const* pair_gradients,
                            ExpansionScratch& scratch) const;

    // The pair Jacobian of centre i (see PairJacobian). Costs one 3-vector per coefficient and neighbour: for
    // one dE/dc, backpropagate is cheaper; this is for many dE/dc at once (one GEMM per species block).
    void pair_jacobian(const NeighbourList& nl, const std::vector<int>& species_of, int i, PairJacobian& jacobian,
                       ExpansionScratch& scratch) const;

private:
    // r, fc(r), fc'(r) of one pair and, unless the pair is beyond the cutoff (returns false, fc = fc' = 0), the
    // radial functions with their r-derivatives in `scratch`: what both backpropagate and pair_jacobian
    // differentiate (each then evaluates the harmonics it needs: Y alone, or Y with gradients).
    bool radial_terms(const double* rij, double& r, double& fc, double& dfc, ExpansionScratch& scratch) const;

    // grad R_lm = sum_m' a_{lm,m'} R_{l-1,m'} for the solid harmonics R_lm = |r|^l Y_lm: the nonzero a, so that
    // the adjoint needs no gradients of the harmonics (spherical_expansion.cpp, neighbour_gradient).
    struct DerivativeTerm {
        int component;  // x, y, z
        int upper;      // lm of R_lm
        int lower;      // (l-1)^2 + (l-1) + m' of R_{l-1,m'}
        double coefficient;
    };
    void build_solid_harmonic_derivatives();
    // D_k[(l-1, m')][n] = sum_m a^k_{lm,m'} d[lm][n] for one species block d of dE/dc: 3 lmax^2 nmax doubles.
    void lower(const double* d, double* lowered) const;

    SoapHypers hypers_;
    SpeciesMap species_;
    RadialBasis radial_;
    SphericalHarmonics harmonics_;
    CutoffFunction cutoff_;
    int nmax_, lmax_, nlm_, size_;
    std::vector<double> centre_term_;  // M_n0(0) * Y_00, the centre's own Gaussian
    std::vector<DerivativeTerm> derivative_terms_;
};

// Features of every centre (N x invariant.size()): expansion then an invariant (PowerSpectrum,
// Lambda1Features, ...), in parallel over centres. For tests and tools; the calculators' hot paths chunk
// and fuse this with their kernels instead.
template <class Invariant>
Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> centre_features(
    const SphericalExpansion& expansion, const Invariant& invariant, const NeighbourList& nl,
    const std::vector<int>& species_of) {
    const int n = static_cast<int>(species_of.size());
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> x(n, invariant.size());
#pragma omp parallel
    {
        ExpansionScratch scratch = expansion.make_scratch();
        std::vector<double> c(expansion.size());
#pragma omp for schedule(static)
        for (int i = 0; i < n; ++i) {
            expansion.compute(nl, species_of, i, c.data(), scratch);
            invariant.compute(c.data(), x.row(i).data());
        }
    }
    return x;
}

}  // namespace gapd
