#include "models/descriptors/spherical_harmonics.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

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

// kBatch directions evaluated side by side in one vector (GCC/Clang vector extension): every arithmetic
// operation of compute_impl applied lane by lane, one vector instruction each (8 doubles: one AVX-512
// register, two AVX2 ones). Each lane performs exactly the operations of the one-direction evaluation.
struct Lanes {
    static constexpr int W = SphericalHarmonics::kBatch;
    typedef double Vector __attribute__((vector_size(W * sizeof(double))));
    Vector v;
    Lanes() = default;
    Lanes(double s) : v(Vector{} + s) {}  // NOLINT: broadcasts a scalar, as double would convert
    Lanes(Vector x) : v(x) {}             // NOLINT
};
inline Lanes operator+(const Lanes& a, const Lanes& b) { return a.v + b.v; }
inline Lanes operator-(const Lanes& a, const Lanes& b) { return a.v - b.v; }
inline Lanes operator*(const Lanes& a, const Lanes& b) { return a.v * b.v; }
inline Lanes operator*(double a, const Lanes& b) { return a * b.v; }
inline Lanes operator-(const Lanes& a) { return -a.v; }

// a b + c rounded once. The sums of the value path are written with it, so that whether a product and a sum
// fuse does not depend on how the compiler contracts scalar and vector code: one direction and a batch lane
// then give the same bits.
inline double fmadd(double a, double b, double c) { return std::fma(a, b, c); }
inline Lanes fmadd(const Lanes& a, const Lanes& b, const Lanes& c) {
    Lanes d;
    for (int j = 0; j < Lanes::W; ++j) d.v[j] = std::fma(a.v[j], b.v[j], c.v[j]);
    return d;
}

// The scalar and lane versions of what compute_impl reads and writes: component k of the input direction(s)
// (one vector r[3], or W vectors stored component by component, r[k * W + j]), 1/|r|, and output slot `index`
// (Y[index], or the W lanes at Y[index * W]).
inline double component(const double* r, int k, double) { return r[k]; }
inline Lanes component(const double* r, int k, const Lanes&) {
    Lanes c;
    for (int j = 0; j < Lanes::W; ++j) c.v[j] = r[k * Lanes::W + j];
    return c;
}
inline double inverse_norm(double x, double y, double z) { return 1.0 / std::sqrt(fmadd(z, z, fmadd(y, y, x * x))); }
inline Lanes inverse_norm(const Lanes& x, const Lanes& y, const Lanes& z) {
    Lanes c;
    for (int j = 0; j < Lanes::W; ++j) c.v[j] = inverse_norm(x.v[j], y.v[j], z.v[j]);
    return c;
}
inline void store(double* out, int index, double value) { out[index] = value; }
inline void store(double* out, int index, const Lanes& value) {
    for (int j = 0; j < Lanes::W; ++j) out[index * Lanes::W + j] = value.v[j];
}

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
// T = double evaluates one direction; T = Lanes evaluates kBatch directions (values only), see compute_batch.
template <int LT, bool kGradients, class T>
void SphericalHarmonics::compute_impl(const double* r, double* __restrict Y, double* __restrict dY) const {
    constexpr int M = (LT ? LT : kMaxSupportedAngular) + 1;
    const int L = LT ? LT : lmax_;

    const T rx = component(r, 0, T{}), ry = component(r, 1, T{}), rz = component(r, 2, T{});
    const T inv_r = inverse_norm(rx, ry, rz);
    const T x = rx * inv_r, y = ry * inv_r, z = rz * inv_r;

    T C[M], S[M];
    C[0] = 1.0;
    S[0] = 0.0;
#pragma GCC unroll 16
    for (int m = 1; m <= L; ++m) {
        C[m] = fmadd(x, C[m - 1], -(y * S[m - 1]));
        S[m] = fmadd(x, S[m - 1], y * C[m - 1]);
    }

    // Q[l + 1][m] = Q_l^m, zero-padded at m = l+1, l+2 so that the gradient formulas can read Q_{l-1}^{m+1} and
    // Q_{l-1}^m for every m <= l without branches; row 0 is Q_{-1} = 0 (read by the l = 0 gradient). Only those
    // entries are zeroed: clearing the whole table was a memset call per evaluation.
    T Q[M + 1][M + 2];
    Q[0][0] = Q[0][1] = Q[0][2] = 0.0;
    const double* K = norm_.data();
    const double* a = rec_a_.data();
    const double* b = rec_b_.data();
#pragma GCC unroll 16
    for (int l = 0; l <= L; ++l) {
        T* cur = Q[l + 1];
        const T* prev = Q[l];
        const T* prev2 = l >= 1 ? Q[l - 1] : Q[0];
        const int base = l * l + l, t0 = tri(l, 0);
        // Q_l^m = a z Q_{l-1}^m - b Q_{l-2}^m for m = 0..l-2, written out here: the same loop in a helper taking
        // the rows as __restrict pointers gave wrong Q_3^0 at -O3 (GCC 12) once inlined into the unrolled lmax = 3
        // evaluation without gradients (the unit test comparing with and without gradients caught it).
#pragma GCC unroll 16
        for (int m = 0; m + 2 <= l; ++m) cur[m] = fmadd(a[t0 + m] * z, prev[m], -(b[t0 + m] * prev2[m]));
        if (l >= 1) cur[l - 1] = static_cast<double>(2 * l - 1) * z * prev[l - 1];
        cur[l] = diag_[l];
        cur[l + 1] = cur[l + 2] = 0.0;

        store(Y, base, K[t0] * cur[0]);
#pragma GCC unroll 16
        for (int m = 1; m <= l; ++m) {
            const T q = K[t0 + m] * cur[m];
            store(Y, base + m, q * C[m]);
            store(Y, base - m, q * S[m]);
        }
        if constexpr (kGradients) {
            static_assert(std::is_same_v<T, double>, "gradients are evaluated one direction at a time");
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

namespace {

// Calls f(std::integral_constant<int, lmax>) when lmax has an unrolled evaluation (1 to kMaxUnrolledAngular);
// false otherwise (lmax 0 and 9-30 take the runtime-lmax loops).
template <class F>
bool dispatch_unrolled_lmax(int lmax, F&& f) {
    static_assert(SphericalHarmonics::kMaxUnrolledAngular == 8, "one case per unrolled lmax");
    switch (lmax) {
        case 1: f(std::integral_constant<int, 1>{}); return true;
        case 2: f(std::integral_constant<int, 2>{}); return true;
        case 3: f(std::integral_constant<int, 3>{}); return true;
        case 4: f(std::integral_constant<int, 4>{}); return true;
        case 5: f(std::integral_constant<int, 5>{}); return true;
        case 6: f(std::integral_constant<int, 6>{}); return true;
        case 7: f(std::integral_constant<int, 7>{}); return true;
        case 8: f(std::integral_constant<int, 8>{}); return true;
        default: return false;
    }
}

}  // namespace

void SphericalHarmonics::compute(const double r[3], double* __restrict Y, double* __restrict dY) const {
    const bool unrolled = dispatch_unrolled_lmax(lmax_, [&](auto l_const) {
        constexpr int LT = decltype(l_const)::value;
        if (dY)
            compute_impl<LT, true, double>(r, Y, dY);
        else
            compute_impl<LT, false, double>(r, Y, nullptr);
    });
    if (unrolled) return;
    if (dY)
        compute_impl<0, true, double>(r, Y, dY);
    else
        compute_impl<0, false, double>(r, Y, nullptr);
}

void SphericalHarmonics::compute_batch(const double* r, int count, double* __restrict Y) const {
    if (count < 1 || count > kBatch)
        throw std::invalid_argument("spherical harmonics: a batch holds 1 to " + std::to_string(kBatch) +
                                    " directions, got " + std::to_string(count));
    // Unused lanes evaluate the +z direction, whose values are never read.
    double lanes[3 * kBatch];
    for (int j = 0; j < kBatch; ++j)
        for (int k = 0; k < 3; ++k) lanes[k * kBatch + j] = j < count ? r[3 * j + k] : (k == 2 ? 1.0 : 0.0);
    const bool unrolled = dispatch_unrolled_lmax(lmax_, [&](auto l_const) {
        compute_impl<decltype(l_const)::value, false, Lanes>(lanes, Y, nullptr);
    });
    if (unrolled) return;
    // lmax 0 and 9-30: one direction at a time (the lane tables would not fit the stack well).
    const int nlm = (lmax_ + 1) * (lmax_ + 1);
    double one[(kMaxSupportedAngular + 1) * (kMaxSupportedAngular + 1)];
    for (int j = 0; j < count; ++j) {
        compute(r + 3 * j, one, nullptr);
        for (int lm = 0; lm < nlm; ++lm) Y[lm * kBatch + j] = one[lm];
    }
}

}  // namespace gapd
