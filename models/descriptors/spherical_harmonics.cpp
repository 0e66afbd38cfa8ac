#include "models/descriptors/spherical_harmonics.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

// Cartesian evaluation in the style of sphericart (Bigi et al., J. Chem. Phys. 159, 064802 (2023)).
// With u = r/|r| = (x, y, z) and (x + iy)^m = C_m + i S_m = sin^m(theta) e^{i m phi}:
//   Y_lm = Kt_lm Q_l^|m|(z) {C_m, 1, S_|m|} for m {>, =, <} 0,  Kt = K (times sqrt2 if m != 0),
// where Q_l^m = Pbar_l^m / sin^m(theta) is a polynomial, obtained by the stable upward recurrence in l
//   Q_m^m = (2m-1)!!,  Q_{m+1}^m = (2m+1) z Q_m^m,  Q_l^m = [(2l-1) z Q_{l-1}^m - (l+m-1) Q_{l-2}^m] / (l-m).
// Nothing divides by sin(theta), so the poles are not special.
//
// Gradients: R_lm(r) = |r|^l Y_lm(u) is a homogeneous polynomial (Q_l^m picks up powers of |r|^2), with
//   dQ_l^m/dx = -x Q_{l-1}^{m+1},  dQ_l^m/dy = -y Q_{l-1}^{m+1},  dQ_l^m/dz = (l+m) Q_{l-1}^m,
//   d(C_m, S_m)/dx = m (C_{m-1}, S_{m-1}),  d(C_m, S_m)/dy = m (-S_{m-1}, C_{m-1}).
// Since Y(r) = R(r/|r|) and u . grad R(u) = l R(u) (Euler), grad_r Y = (grad R(u) - l Y u) / |r|.

namespace gapd {

namespace {

inline int tri(int l, int m) { return l * (l + 1) / 2 + m; }

}  // namespace

SphericalHarmonics::SphericalHarmonics(int lmax) : lmax_(lmax) {
    if (lmax < 0 || lmax > kMaxSupportedAngular)
        throw std::invalid_argument("spherical harmonics: lmax must be in [0, " +
                                    std::to_string(kMaxSupportedAngular) + "], got " + std::to_string(lmax));
    const int n = tri(lmax, lmax) + 1;
    norm_.resize(n);
    rec_a_.assign(n, 0.0);
    rec_b_.assign(n, 0.0);
    diag_.resize(lmax + 1);
    long double double_factorial = 1.0L;  // (2m-1)!!
    for (int m = 0; m <= lmax; ++m) {
        if (m > 0) double_factorial *= 2 * m - 1;
        diag_[m] = static_cast<double>(double_factorial);
    }
    for (int l = 0; l <= lmax; ++l) {
        for (int m = 0; m <= l; ++m) {
            // (l-m)!/(l+m)! as a product, in extended precision: the constants then carry ~1 ulp error.
            long double ratio = 1.0L;
            for (int k = l - m + 1; k <= l + m; ++k) ratio /= k;
            long double k2 = (2 * l + 1) / (4.0L * 3.14159265358979323846264338327950288L) * ratio;
            if (m > 0) k2 *= 2.0L;
            norm_[tri(l, m)] = static_cast<double>(std::sqrt(k2));
            if (l >= m + 2) {
                rec_a_[tri(l, m)] = static_cast<double>(2 * l - 1) / (l - m);
                rec_b_[tri(l, m)] = static_cast<double>(l + m - 1) / (l - m);
            }
        }
    }
}

// One evaluation for lmax = LT known at compile time (LT > 0: every loop has a constant trip count and the Q table
// a constant shape, so the compiler unrolls the whole evaluation and keeps it in registers; lmax 6 with
// gradients ~2x faster) or, with LT = 0, for the runtime lmax_ (tables sized for kMaxSupportedAngular).
template <int LT, bool kGradients>
void SphericalHarmonics::compute_impl(const double r[3], double* __restrict Y, double* __restrict dY) const {
    constexpr int M = (LT ? LT : kMaxSupportedAngular) + 1;
    const int L = LT ? LT : lmax_;

    const double inv_r = 1.0 / std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    const double x = r[0] * inv_r, y = r[1] * inv_r, z = r[2] * inv_r;

    double C[M], S[M];
    C[0] = 1.0;
    S[0] = 0.0;
#pragma GCC unroll 16
    for (int m = 1; m <= L; ++m) {
        C[m] = x * C[m - 1] - y * S[m - 1];
        S[m] = x * S[m - 1] + y * C[m - 1];
    }

    // Q[l + 1][m] = Q_l^m, zero-padded at m = l+1, l+2 so that the gradient formulas can read Q_{l-1}^{m+1} and
    // Q_{l-1}^m for every m <= l without branches; row 0 is Q_{-1} = 0 (read by the l = 0 gradient). Only those
    // entries are zeroed: clearing the whole table was a memset call per evaluation.
    double Q[M + 1][M + 2];
    Q[0][0] = Q[0][1] = Q[0][2] = 0.0;
    const double* K = norm_.data();
    const double* a = rec_a_.data();
    const double* b = rec_b_.data();
#pragma GCC unroll 16
    for (int l = 0; l <= L; ++l) {
        double* cur = Q[l + 1];
        const double* prev = Q[l];
        const double* prev2 = l >= 1 ? Q[l - 1] : Q[0];
        const int base = l * l + l, t0 = tri(l, 0);
        // Q_l^m = a z Q_{l-1}^m - b Q_{l-2}^m for m = 0..l-2, written out here: the same loop in a helper taking
        // the rows as __restrict pointers gave wrong Q_3^0 at -O3 (GCC 12) once inlined into the unrolled lmax = 3
        // evaluation without gradients (the unit test comparing with and without gradients caught it).
#pragma GCC unroll 16
        for (int m = 0; m + 2 <= l; ++m) cur[m] = a[t0 + m] * z * prev[m] - b[t0 + m] * prev2[m];
        if (l >= 1) cur[l - 1] = (2 * l - 1) * z * prev[l - 1];
        cur[l] = diag_[l];
        cur[l + 1] = cur[l + 2] = 0.0;

        Y[base] = K[t0] * cur[0];
#pragma GCC unroll 16
        for (int m = 1; m <= l; ++m) {
            const double q = K[t0 + m] * cur[m];
            Y[base + m] = q * C[m];
            Y[base - m] = q * S[m];
        }
        if constexpr (kGradients) {
            // grad_r Y = (g - l Y u) / |r| with g = grad R_lm at u. Collecting terms, with Kr = K/|r|,
            //   P = Kr (Q_{l-1}^{m+1} + l Q_l^m),  Z = Kr ((l+m) Q_{l-1}^m - l z Q_l^m),  q = m Kr Q_l^m:
            //   m > 0: (q C_{m-1} - x P C_m,  -q S_{m-1} - y P C_m,  Z C_m)
            //   m < 0: (q S_{m-1} - x P S_m,   q C_{m-1} - y P S_m,  Z S_m)     (m -> |m|)
            //   m = 0: (-x P, -y P, Z).
            const double dl = l;
            {
                const double Kr = K[t0] * inv_r;
                const double P = Kr * (prev[1] + dl * cur[0]);
                const double Z = Kr * dl * (prev[0] - z * cur[0]);
                double* d = dY + 3 * base;
                d[0] = -x * P;
                d[1] = -y * P;
                d[2] = Z;
            }
#pragma GCC unroll 16
            for (int m = 1; m <= l; ++m) {
                const double Kr = K[t0 + m] * inv_r;
                const double P = Kr * (prev[m + 1] + dl * cur[m]);
                const double Z = Kr * ((l + m) * prev[m] - dl * z * cur[m]);
                const double q = m * Kr * cur[m];
                const double Pc = P * C[m], Ps = P * S[m];
                double* dc = dY + 3 * (base + m);
                double* ds = dY + 3 * (base - m);
                dc[0] = q * C[m - 1] - x * Pc;
                dc[1] = -q * S[m - 1] - y * Pc;
                dc[2] = Z * C[m];
                ds[0] = q * S[m - 1] - x * Ps;
                ds[1] = q * C[m - 1] - y * Ps;
                ds[2] = Z * S[m];
            }
        }
    }
}

void SphericalHarmonics::compute(const double r[3], double* __restrict Y, double* __restrict dY) const {
    switch (lmax_) {
#define GAPD_FIXED_LMAX(L)                        \
    case L:                                       \
        if (dY)                                   \
            compute_impl<L, true>(r, Y, dY);      \
        else                                      \
            compute_impl<L, false>(r, Y, nullptr); \
        return;
        GAPD_FIXED_LMAX(1)
        GAPD_FIXED_LMAX(2)
        GAPD_FIXED_LMAX(3)
        GAPD_FIXED_LMAX(4)
        GAPD_FIXED_LMAX(5)
        GAPD_FIXED_LMAX(6)
        GAPD_FIXED_LMAX(7)
        GAPD_FIXED_LMAX(8)
        static_assert(kMaxUnrolledAngular == 8, "one case per unrolled lmax");
#undef GAPD_FIXED_LMAX
        default:  // lmax 0 and 9-30: the runtime-lmax loops
            if (dY)
                compute_impl<0, true>(r, Y, dY);
            else
                compute_impl<0, false>(r, Y, nullptr);
    }
}

}  // namespace gapd
