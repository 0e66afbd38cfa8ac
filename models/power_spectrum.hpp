#pragma once
// Normalized SOAP power spectrum (nu = 2 invariants) of one centre and its adjoint.
//
//   p^{ab}_{n1 n2 l} = s_ab (2l+1)^(-1/2) sum_m c^a_{n1 l m} c^b_{n2 l m},  s_ab = sqrt2 if a < b else 1,
//   x = p / ||p||   (if hypers.normalize)
// Keys (a <= b) in lexicographic order of the species list; inside a key the flat index is
// (n1*nmax + n2)*(lmax+1) + l, the full n1 x n2 square also for a = b (librascal's layout).

#include "models/soap_hypers.hpp"

#include <vector>

namespace gapd {

class PowerSpectrum {
public:
    explicit PowerSpectrum(const SoapHypers& hypers);

    int size() const { return size_; }  // D

    // features (D doubles) from the coefficients of one centre (SphericalExpansion layout); returns ||p||.
    double compute(const double* coefficients, double* features) const;

    // Adjoint: dE/dc (overwritten) from dE/dx, the centre's coefficients, its normalized features and ||p||.
    // `work` holds D doubles of scratch.
    void backpropagate(const double* coefficients, const double* features, double norm, const double* dE_dfeatures,
                       double* dE_dcoefficients, double* work) const;

private:
    int nspecies_, nmax_, lmax_, nlm_, block_, size_;
    bool normalize_;
    std::vector<double> l_factor_;  // (2l+1)^(-1/2)
};

}  // namespace gapd
