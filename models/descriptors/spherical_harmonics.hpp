#pragma once
// Real spherical harmonics Y_lm(r/|r|) and their gradients with respect to r, in librascal's convention
// (see docs/neighbours_and_harmonics.md): real, orthonormal on the unit sphere,
//   m < 0: sqrt2 (-1)^m Im Y_l^|m|,  m = 0: Y_l^0,  m > 0: sqrt2 (-1)^m Re Y_l^m
// with the Condon-Shortley phase inside the complex Y_l^m. The two phases cancel, so
//   Y_lm = sqrt2 K_l|m| Pbar_l^|m|(cos theta) {cos(m phi) for m > 0, sin(|m| phi) for m < 0},
// Pbar without the Condon-Shortley phase (Y_1,-1 : Y_10 : Y_11 = y : z : x).

#include <vector>

namespace gapd {

class SphericalHarmonics {
public:
    // compute() keeps its work arrays on the stack, sized for this many l.
    static constexpr int kMaxSupportedAngular = 30;
    // From 1 up to this lmax the evaluation is compiled for each lmax (unrolled); otherwise loops over l and m.
    static constexpr int kMaxUnrolledAngular = 8;

    // Throws std::invalid_argument unless 0 <= lmax <= kMaxSupportedAngular.
    explicit SphericalHarmonics(int lmax);

    int max_angular() const { return lmax_; }

    // Y_lm(r/|r|) for l <= lmax, m = -l..l, at index l*l + l + m ((lmax+1)^2 values).
    // dY (may be nullptr): gradient with respect to the Cartesian vector r (not the unit vector),
    // dY[3 * (l*l + l + m) + k], k = x, y, z. Requires |r| > 0 (r = 0 gives NaN). r, Y and dY must not
    // overlap. No allocation; const and thread-safe.
    void compute(const double r[3], double* Y, double* dY) const;

    // Values for up to kBatch directions at once (r[3 j + k], j < count), written lane-major:
    // Y[(l*l + l + m) * kBatch + j], kBatch * (lmax+1)^2 doubles. Each direction gets the same operations as
    // compute (equal to it bit for bit where the compiler contracts the same multiply-adds); for lmax 1-8 the
    // directions share vector instructions (lmax 6: ~12 ns per direction against ~35 ns one at a time).
    static constexpr int kBatch = 8;
    void compute_batch(const double* r, int count, double* Y) const;

private:
    template <int LT, bool kGradients, class T>
    void compute_impl(const double* r, double* Y, double* dY) const;

    int lmax_;
    // Triangular tables over (l, m >= 0), index l(l+1)/2 + m:
    std::vector<double> norm_;   // K_lm, times sqrt2 for m > 0
    std::vector<double> rec_a_;  // (2l-1)/(l-m)  in Q_l^m = a z Q_{l-1}^m - b Q_{l-2}^m
    std::vector<double> rec_b_;  // (l+m-1)/(l-m)
    std::vector<double> diag_;   // Q_m^m = (2m-1)!!, per m
};

}  // namespace gapd
