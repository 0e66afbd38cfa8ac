#pragma once
// Normalized SOAP power spectrum (nu = 2 invariants) of one centre and its adjoint.
//
//   p^{ab}_{n1 n2 l} = s_ab (2l+1)^(-1/2) sum_m c^a_{n1 l m} c^b_{n2 l m},  s_ab = sqrt2 if a < b else 1,
//   x = p / ||p||   (if hypers.normalize)
// Keys (a <= b) in lexicographic order of the species list.
//
// Two layouts with the same dot products and norms:
//  Full (librascal's): inside a key the flat index is (n1*nmax + n2)*(lmax+1) + l, the full n1 x n2 square
//    also for a = b (where p_{n1 n2} = p_{n2 n1} is stored twice). Used for model files and features().
//  Compressed: for a = b only n1 <= n2 is kept, off-diagonal entries multiplied by sqrt2; index
//    (pair(n1,n2))*(lmax+1) + l with pair = row-major upper triangle. 2688 -> 2100 features for the paper
//    hypers, so the kernel GEMMs do 22% less work for the same numbers (to round-off).

#include "models/descriptors/soap_hypers.hpp"

#include <vector>

namespace gapd {

enum class PowerSpectrumLayout { Full, Compressed };

class PowerSpectrum {
public:
    explicit PowerSpectrum(const SoapHypers& hypers, PowerSpectrumLayout layout = PowerSpectrumLayout::Full);
    // Compressed layout restricted to `selection` (indices into the Compressed layout, distinct; empty = all).
    // `scales` (empty = all 1, else one positive factor per selected entry) multiplies each selected feature
    // before the normalization: librascal's coefficient_subselection picks Full-layout entries, which are the
    // compressed ones times 1/sqrt2 (one copy of an a = b off-diagonal pair), docs/feature_selection.md.
    // Throws std::invalid_argument naming the first bad index or scale.
    PowerSpectrum(const SoapHypers& hypers, const std::vector<int>& selection, const std::vector<double>& scales = {});

    int size() const { return size_; }  // D (the selection's size if there is one)
    PowerSpectrumLayout layout() const { return layout_; }
    const std::vector<int>& selection() const { return selection_; }
    const std::vector<double>& scales() const { return scales_; }

    // features (D doubles) from the coefficients of one centre (SphericalExpansion layout); returns ||p||.
    double compute(const double* coefficients, double* features) const;

    // Adjoint: dE/dc (overwritten) from dE/dx, the centre's coefficients, its normalized features and ||p||.
    // `work` holds D doubles of scratch.
    void backpropagate(const double* coefficients, const double* features, double norm, const double* dE_dfeatures,
                       double* dE_dcoefficients, double* work) const;

    // Maps a Full-layout feature vector (e.g. a librascal sparse point) to this layout. For a = b blocks the
    // two copies of (n1, n2) are combined as (t_{n1 n2} + t_{n2 n1})/sqrt2, which keeps x . t exact for any
    // (even non-symmetric) t.
    void from_full_layout(const double* full, double* out) const;
    // Inverse of from_full_layout for symmetric blocks: a compressed off-diagonal entry y becomes y/sqrt2 in both
    // full-square copies; features outside the selection become 0. So full . full' = this . this' for any two.
    void to_full_layout(const double* in, double* full) const;

private:
    // Divides by the 2-norm when normalize is on; returns the norm before dividing (the backward pass needs it).
    double normalize_in_place(double* features) const;
    double compute_selected(const double* coefficients, double* features) const;
    // Every feature of the layout, unnormalized; NT = nmax when it has a compile-time kernel, else 0.
    template <int NT>
    void compute_all(const double* coefficients, double* features) const;
    template <int NT>
    void backpropagate_all(const double* coefficients, const double* dE_dp, double* dE_dcoefficients) const;
    void backpropagate_selected(const double* coefficients, const double* dE_dp, double* dE_dcoefficients) const;

    // One selected component: out = factor * sum_r c[a_offset + r*nmax + n1] c[b_offset + r*nmax + n2], r < rows.
    struct Entry {
        int a_offset, b_offset, rows, out;
        double factor;
    };
    // Offset of key (a, b) in this layout and the number of (n1, n2) rows it stores.
    struct Key {
        int a, b, offset;
        bool compressed;
    };
    int nspecies_, nmax_, lmax_, nlm_, size_;
    bool normalize_;
    PowerSpectrumLayout layout_;
    std::vector<Key> keys_;
    std::vector<double> l_factor_;  // (2l+1)^(-1/2)
    std::vector<int> selection_;
    std::vector<double> scales_;
    std::vector<Entry> entries_;    // the selection, sorted by (a, b, l, n1, n2) for locality
};

// Number of features in the given layout.
// Number of features in librascal's Full layout: one n1 x n2 x (lmax+1) block per species pair a <= b.
inline int power_spectrum_size(const SoapHypers& h) {
    const int ns = static_cast<int>(h.species.size());
    const int nkeys = ns * (ns + 1) / 2;
    return nkeys * h.max_radial * h.max_radial * (h.max_angular + 1);
}
int power_spectrum_size(const SoapHypers& h, PowerSpectrumLayout layout);

}  // namespace gapd
