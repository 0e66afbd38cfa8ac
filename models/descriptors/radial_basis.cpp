#include "models/descriptors/radial_basis.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <boost/math/special_functions/hypergeometric_1F1.hpp>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gapd {

namespace {

// Spline mode: quintic Hermite step as a fraction of the Gaussian width sigma, the narrowest feature of
// every M_nl (the GTO widths are >= rc/nmax). Chosen by measurement, see docs/radial_basis.md.
constexpr double kSplineStepPerSigma = 1.0 / 24.0;

// librascal's spline: range [SPHERICAL_BESSEL_FUNCTION_FTOL, rc], grids of 2 << k points from k = 5,
// refined while the mean abs error on the cell midpoints is >= accuracy and the grid has < 100000 points.
constexpr double kLibrascalX1 = 1e-5;
constexpr int kLibrascalFirstFineness = 5;
constexpr int kLibrascalMaxGridPoints = 100000;

// Up to this z Boost's 1F1 is used directly (e^z stays far from overflow).
constexpr double kBoostMaxZ = 500.0;

// 1F1(A; B; z) for A, B > 0, z >= 0 by its power series in long double: every term is positive, so
// there is no cancellation and the 64-bit mantissa absorbs the rounding of the ~z+50 terms; the
// long double exponent range also holds e^z far beyond double overflow.
long double kummer_series(double A, double B, double z) {
    const long double zl = z;
    long double term = 1.0L, sum = 1.0L;
    for (int k = 0; k < 1000000; ++k) {
        term *= (A + k) * zl / ((B + k) * (k + 1));
        sum += term;
        // Stop once the terms are decreasing and negligible.
        if (term <= 1e-21L * sum && (A + k) * zl < (B + k) * (k + 1)) return sum;
    }
    throw std::runtime_error("RadialBasis: 1F1 series did not converge (z = " + std::to_string(z) + ")");
}

// exp(log_damp) * 1F1(A; B; z), damp = exp(log_damp) precomputed by the caller. Boost 1.74 throws for
// some integer A, half-integer B, z > 50 (|n - l| >= 9, e.g. nmax >= 10: tgamma at a negative integer);
// those points and very large z use the series, which agrees with mpmath to 1e-16.
double damped_1f1(double A, double B, double z, double damp, double log_damp) {
    if (z <= kBoostMaxZ) {
        try {
            return damp * boost::math::hypergeometric_1F1(A, B, z);
        } catch (const std::exception&) {
        }
    }
    return static_cast<double>(std::exp(static_cast<long double>(log_damp)) * kummer_series(A, B, z));
}

// Eigen::VectorXd::LinSpaced(n, lo, hi) as librascal sees it: lo + i*step, last point exactly hi.
std::vector<double> lin_spaced(int n, double lo, double hi) {
    std::vector<double> x(n);
    const double step = (hi - lo) / (n - 1);
    for (int i = 0; i < n; ++i) x[i] = (i == n - 1) ? hi : lo + i * step;
    return x;
}

}  // namespace

RadialBasis::RadialBasis(const SoapHypers& hypers, RadialMode mode)
    : nmax_(hypers.max_radial), lmax_(hypers.max_angular), mode_(mode), rc_(hypers.cutoff.cutoff) {
    if (nmax_ < 1) throw std::invalid_argument("RadialBasis: max_radial must be >= 1, got " + std::to_string(nmax_));
    if (lmax_ < 0) throw std::invalid_argument("RadialBasis: max_angular must be >= 0, got " + std::to_string(lmax_));
    if (!(rc_ > 0.0)) throw std::invalid_argument("RadialBasis: cutoff must be > 0, got " + std::to_string(rc_));
    const double sigma = hypers.gaussian_sigma;
    if (!(sigma > 0.0))
        throw std::invalid_argument("RadialBasis: gaussian_sigma must be > 0, got " + std::to_string(sigma));
    if (mode == RadialMode::LibrascalSpline) {
        if (!(hypers.librascal_spline_accuracy > 0.0))
            throw std::invalid_argument("RadialBasis: LibrascalSpline needs librascal_spline_accuracy > 0, got " +
                                        std::to_string(hypers.librascal_spline_accuracy));
        if (!(rc_ > kLibrascalX1))
            throw std::invalid_argument("RadialBasis: LibrascalSpline needs cutoff > 1e-5");
    }
    nfun_ = nmax_ * (lmax_ + 1);
    a_ = 0.5 / (sigma * sigma);

    // S and W in long double: cond(S) grows fast with nmax (3e4 at nmax 8, 4e7 at nmax 12) and the double
    // Loewdin step would cost M up to ~1e-11 of its scale at nmax 12; this way M is good to ~1e-15.
    using LMatrix = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
    std::vector<long double> sig_n(nmax_), bl(nmax_), norm(nmax_);
    std::vector<double> b(nmax_);
    for (int n = 0; n < nmax_; ++n) {
        sig_n[n] = rc_ * std::max(std::sqrt(static_cast<long double>(n)), 1.0L) / nmax_;
        bl[n] = 0.5L / (sig_n[n] * sig_n[n]);
        b[n] = static_cast<double>(bl[n]);
        norm[n] = std::sqrt(2.0L / (std::tgamma(n + 1.5L) * std::pow(sig_n[n], 2 * n + 3)));
    }
    LMatrix s(nmax_, nmax_);
    for (int n = 0; n < nmax_; ++n)
        for (int m = 0; m < nmax_; ++m)
            s(n, m) = std::pow(bl[n] + bl[m], -0.5L * (3 + n + m)) * std::tgamma(0.5L * (3 + n + m)) /
                      (std::pow(sig_n[n], n) * std::pow(sig_n[m], m) * std::pow(sig_n[n] * sig_n[m], 1.5L) *
                       std::sqrt(std::tgamma(n + 1.5L) * std::tgamma(m + 1.5L)));
    // Symmetric Loewdin W = S^(-1/2) through the eigendecomposition (as librascal, in double there).
    Eigen::SelfAdjointEigenSolver<LMatrix> eig(s);
    if (eig.info() != Eigen::Success || !(eig.eigenvalues().minCoeff() > 0.0L))
        throw std::invalid_argument("RadialBasis: GTO overlap matrix is not positive definite (nmax too large?)");
    const Eigen::Matrix<long double, Eigen::Dynamic, 1> inv_sqrt = eig.eigenvalues().array().sqrt().inverse();
    const LMatrix w = eig.eigenvectors() * inv_sqrt.asDiagonal() * eig.eigenvectors().transpose();
    const LMatrix t = w * (Eigen::Map<const Eigen::Matrix<long double, Eigen::Dynamic, 1>>(norm.data(), nmax_) * 0.25L)
                              .asDiagonal();
    overlap_ = s.cast<double>();
    transform_ = t.cast<double>();

    kappa_.resize(nmax_);
    prefactor_.resize(nfun_);
    for (int n = 0; n < nmax_; ++n) {
        kappa_[n] = a_ * a_ / (a_ + b[n]);
        for (int l = 0; l <= lmax_; ++l) {
            const double A = 0.5 * (n + l + 3);
            prefactor_[l * nmax_ + n] =
                std::pow(a_, l) * std::pow(a_ + b[n], -A) * std::tgamma(A) / std::tgamma(l + 1.5);
        }
    }

    centre_.assign(nmax_, 0.0);
    for (int n = 0; n < nmax_; ++n) {
        long double sum = 0.0L;
        for (int m = 0; m < nmax_; ++m)
            sum += t(n, m) * std::tgamma(0.5L * (m + 3)) / std::tgamma(1.5L) * std::pow(a_ + bl[m], -0.5L * (m + 3));
        centre_[n] = static_cast<double>(sum);
    }

    if (mode == RadialMode::Spline) build_spline();
    if (mode == RadialMode::LibrascalSpline) build_librascal_spline(hypers.librascal_spline_accuracy);
}

void RadialBasis::centre_values(double* values_n) const { std::copy(centre_.begin(), centre_.end(), values_n); }

// Q_nl = C_nl r^l e^{-a r^2} F(kappa_n r^2), F = 1F1(A; B; .), C_nl = prefactor_ (includes a^l). Writing
// r^l and its derivatives with explicit powers keeps r = 0 finite for every l.
void RadialBasis::exact(double r, double* m, double* dm, double* d2m) const {
    if (m) std::fill(m, m + nfun_, 0.0);
    if (dm) std::fill(dm, dm + nfun_, 0.0);
    if (d2m) std::fill(d2m, d2m + nfun_, 0.0);
    const double r2 = r * r;
    const double log_damp = -a_ * r2;
    const double damp = std::exp(log_damp);
    for (int k = 0; k < nmax_; ++k) {
        const double kap = kappa_[k];
        const double z = kap * r2;
        double rl = 1.0, rlm1 = 0.0, rlm2 = 0.0;  // r^l, r^(l-1), r^(l-2); unused powers carry 0 weight
        for (int l = 0; l <= lmax_; ++l) {
            if (l > 0) {
                rlm2 = rlm1;
                rlm1 = rl;
                rl *= r;
            }
            const double A = 0.5 * (k + l + 3), B = l + 1.5;
            const double c = prefactor_[l * nmax_ + k];
            const double f0 = damped_1f1(A, B, z, damp, log_damp);
            const double f1 = (dm || d2m) ? A / B * damped_1f1(A + 1, B + 1, z, damp, log_damp) : 0.0;
            const double f2 = d2m ? A * (A + 1) / (B * (B + 1)) * damped_1f1(A + 2, B + 2, z, damp, log_damp) : 0.0;
            const double q = c * rl * f0;
            const double dq = c * ((l * rlm1 - 2 * a_ * r * rl) * f0 + 2 * kap * r * rl * f1);
            const double d2q =
                c * ((l * (l - 1) * rlm2 - 2 * a_ * (2 * l + 1) * rl + 4 * a_ * a_ * r2 * rl) * f0 +
                     4 * kap * (l * rl - 2 * a_ * r2 * rl) * f1 + rl * (2 * kap * f1 + 4 * kap * kap * r2 * f2));
            const int base = l * nmax_;
            for (int n = 0; n < nmax_; ++n) {
                const double t = transform_(n, k);
                if (m) m[base + n] += t * q;
                if (dm) dm[base + n] += t * dq;
                if (d2m) d2m[base + n] += t * d2q;
            }
        }
    }
}

void RadialBasis::build_spline() {
    const double sigma = std::sqrt(0.5 / a_);
    const int n_int = std::max(1, static_cast<int>(std::ceil(rc_ / (kSplineStepPerSigma * sigma))));
    n_nodes_ = n_int + 1;
    h_ = rc_ / n_int;
    inv_h_ = n_int / rc_;
    std::vector<double> f(n_nodes_ * nfun_), df(n_nodes_ * nfun_), d2f(n_nodes_ * nfun_);
    // The exact values at the nodes (1F1 in long double) are most of a model's load time (~0.1 s per
    // expansion), and the nodes are independent: over threads, each node as it would be computed alone.
#pragma omp parallel for schedule(dynamic, 16)
    for (int i = 0; i < n_nodes_; ++i) {
        const double x = (i == n_int) ? rc_ : i * h_;
        exact(x, &f[i * nfun_], &df[i * nfun_], &d2f[i * nfun_]);
    }
    // Quintic Hermite on [x_i, x_i+1] in t = (r - x_i)/h: matches f, f', f'' at both ends.
    coeffs_.assign(static_cast<std::size_t>(n_int) * 6 * nfun_, 0.0);
    for (int i = 0; i < n_int; ++i) {
        double* c = &coeffs_[static_cast<std::size_t>(i) * 6 * nfun_];
        for (int g = 0; g < nfun_; ++g) {
            const int lo = i * nfun_ + g, hi = lo + nfun_;
            const double y0 = f[lo], y1 = f[hi];
            const double d0 = h_ * df[lo], d1 = h_ * df[hi];
            const double s0 = h_ * h_ * d2f[lo], s1 = h_ * h_ * d2f[hi];
            const double dy = y1 - y0;
            c[0 * nfun_ + g] = y0;
            c[1 * nfun_ + g] = d0;
            c[2 * nfun_ + g] = 0.5 * s0;
            c[3 * nfun_ + g] = 10 * dy - 6 * d0 - 4 * d1 - 1.5 * s0 + 0.5 * s1;
            c[4 * nfun_ + g] = -15 * dy + 8 * d0 + 7 * d1 + 1.5 * s0 - s1;
            c[5 * nfun_ + g] = 6 * dy - 3 * d0 - 3 * d1 - 0.5 * s0 + 0.5 * s1;
        }
    }
}

void RadialBasis::build_librascal_spline(double accuracy) {
    const double x1 = kLibrascalX1, x2 = rc_;
    std::vector<double> exact_buf(nfun_), spline_buf(nfun_);
    for (int fineness = kLibrascalFirstFineness;; ++fineness) {
        const int n = 2 << fineness;
        lr_grid_ = lin_spaced(n, x1, x2);
        n_nodes_ = n;
        lr_values_.assign(static_cast<std::size_t>(n) * nfun_, 0.0);
        for (int i = 0; i < n; ++i)
            exact(lr_grid_[i], &lr_values_[static_cast<std::size_t>(i) * nfun_], nullptr, nullptr);
        h_ = lr_grid_[1] - lr_grid_[0];

        // Natural cubic spline: tridiagonal solve for the second derivatives (Numerical Recipes' spline with
        // uniform spacing, the recurrence librascal uses), stored times h^2/6.
        const auto y = [&](int i, int g) { return lr_values_[static_cast<std::size_t>(i) * nfun_ + g]; };
        std::vector<double> y2(static_cast<std::size_t>(n) * nfun_, 0.0), u(y2.size(), 0.0);
        for (int i = 1; i < n - 1; ++i) {
            for (int g = 0; g < nfun_; ++g) {
                const std::size_t k = static_cast<std::size_t>(i) * nfun_ + g;
                const double p = 0.5 * y2[k - nfun_] + 2.0;
                y2[k] = -0.5 / p;
                u[k] = 3. * (y(i + 1, g) - 2 * y(i, g) + y(i - 1, g)) / (h_ * h_);
                u[k] -= 0.5 * u[k - nfun_];
                u[k] /= p;
            }
        }
        for (int g = 0; g < nfun_; ++g) y2[static_cast<std::size_t>(n - 1) * nfun_ + g] = 0.0;
        for (int i = n - 2; i > 0; --i)
            for (int g = 0; g < nfun_; ++g) {
                const std::size_t k = static_cast<std::size_t>(i) * nfun_ + g;
                y2[k] = y2[k] * y2[k + nfun_] + u[k];
            }
        for (int g = 0; g < nfun_; ++g) y2[g] = 0.0;
        const double h_sq_6 = h_ * h_ / 6.0;
        lr_curv_.resize(y2.size());
        for (std::size_t k = 0; k < y2.size(); ++k) lr_curv_[k] = y2[k] * h_sq_6;

        lr_x1_ = lr_grid_[0];
        lr_points_per_unit_ = n / (lr_grid_[n - 1] - lr_grid_[0]);

        // librascal's acceptance test: mean over cell midpoints and all functions of |spline - exact|, with
        // the spline evaluated through its own (off-by-one) interval search.
        const double offset = (x2 - x1) / (2 * (n - 1));
        const std::vector<double> test = lin_spaced(n - 1, x1 + offset, x2 - offset);
        double sum = 0.0;
        for (double x : test) {
            eval_librascal_spline(x, spline_buf.data(), nullptr);
            exact(x, exact_buf.data(), nullptr, nullptr);
            for (int g = 0; g < nfun_; ++g) sum += std::abs(spline_buf[g] - exact_buf[g]);
        }
        const double mean_error = sum / (static_cast<double>(test.size()) * nfun_);
        if (mean_error < accuracy || n >= kLibrascalMaxGridPoints) break;
    }
}

void RadialBasis::compute(double r, double* values, double* derivatives) const {
    switch (mode_) {
        case RadialMode::Exact: exact(r, values, derivatives, nullptr); return;
        case RadialMode::Spline: eval_spline(r, values, derivatives); return;
        case RadialMode::LibrascalSpline: eval_librascal_spline(r, values, derivatives); return;
    }
}

const double* RadialBasis::spline_interval(double r, double& t) const {
    const int n_int = n_nodes_ - 1;
    const double s = r * inv_h_;
    // Clamp before the int conversion (NaN -> interval 0, and t stays NaN so the NaN propagates).
    const int i = static_cast<int>(s > 0.0 ? std::min(s, static_cast<double>(n_int - 1)) : 0.0);
    t = s - i;
    return &coeffs_[static_cast<std::size_t>(i) * 6 * nfun_];
}

void RadialBasis::prefetch(double r) const {
    if (mode_ != RadialMode::Spline) return;
    double t;
    const char* begin = reinterpret_cast<const char*>(spline_interval(r, t));
    const char* end = begin + 6 * nfun_ * sizeof(double);
    for (const char* p = begin; p < end; p += 64) __builtin_prefetch(p);
}

void RadialBasis::eval_spline(double r, double* __restrict values, double* __restrict derivatives) const {
    // __restrict: without it GCC cannot vectorize the fused value/derivative loop.
    double t;
    const double* c = spline_interval(r, t);
    const int nf = nfun_;
    const double *c0 = c, *c1 = c + nf, *c2 = c + 2 * nf, *c3 = c + 3 * nf, *c4 = c + 4 * nf, *c5 = c + 5 * nf;
    if (derivatives) {
        const double ih = inv_h_;
        for (int g = 0; g < nf; ++g) {
            values[g] = c0[g] + t * (c1[g] + t * (c2[g] + t * (c3[g] + t * (c4[g] + t * c5[g]))));
            derivatives[g] = ih * (c1[g] + t * (2 * c2[g] + t * (3 * c3[g] + t * (4 * c4[g] + t * 5 * c5[g]))));
        }
    } else {
        for (int g = 0; g < nf; ++g)
            values[g] = c0[g] + t * (c1[g] + t * (c2[g] + t * (c3[g] + t * (c4[g] + t * c5[g]))));
    }
}

// librascal's evaluation, including its interval index j = int((x - x1) n/(x2 - x1)) - 1 clamped to
// [0, n-2] (one interval to the left for most x) and extrapolation of interval 0 below x1.
void RadialBasis::eval_librascal_spline(double x, double* __restrict values, double* __restrict derivatives) const {
    const int n = n_nodes_;
    const double q = (x - lr_x1_) * lr_points_per_unit_;
    const double qc = q > 0.0 ? std::min(q, static_cast<double>(n)) : 0.0;
    const int j = std::max(0, std::min(n - 2, static_cast<int>(qc) - 1));
    const double a = (lr_grid_[j + 1] - x) / h_;
    const double b = 1 - a;
    const int nf = nfun_;
    const double* ylo = &lr_values_[static_cast<std::size_t>(j) * nf];
    const double* yhi = ylo + nf;
    const double* clo = &lr_curv_[static_cast<std::size_t>(j) * nf];
    const double* chi = clo + nf;
    for (int g = 0; g < nf; ++g)
        values[g] = a * (ylo[g] + (a * a - 1) * clo[g]) + b * (yhi[g] + (b * b - 1) * chi[g]);
    if (derivatives)
        for (int g = 0; g < nf; ++g)
            derivatives[g] = (yhi[g] - ylo[g] - (3 * a * a - 1) * clo[g] + (3 * b * b - 1) * chi[g]) / h_;
}

}  // namespace gapd
