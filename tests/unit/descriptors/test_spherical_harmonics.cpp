#include "models/descriptors/spherical_harmonics.hpp"

#include <boost/math/special_functions/spherical_harmonic.hpp>
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

using gapd::SphericalHarmonics;

namespace {

constexpr int kTestLmax = 8;
constexpr int kCount = (kTestLmax + 1) * (kTestLmax + 1);

// librascal's real harmonics written literally from the complex ones (Boost includes Condon-Shortley):
// m<0: sqrt2 (-1)^m Im Y_l^|m|; m=0: Y_l^0; m>0: sqrt2 (-1)^m Re Y_l^m.
// Evaluated in long double: in double, acos/atan2 of the direction already cost ~6e-14.
double boost_real_harmonic(int l, int m, const double r[3]) {
    using T = long double;
    const T x = r[0], y = r[1], z = r[2];
    const T theta = std::acos(std::max(T(-1), std::min(T(1), z / std::sqrt(x * x + y * y + z * z))));
    const T phi = std::atan2(y, x);
    const int am = std::abs(m);
    const std::complex<T> c = boost::math::spherical_harmonic(static_cast<unsigned>(l), am, theta, phi);
    const T sign = (am % 2 == 0) ? 1 : -1;
    if (m == 0) return static_cast<double>(c.real());
    return static_cast<double>(std::sqrt(T(2)) * sign * (m < 0 ? c.imag() : c.real()));
}

std::array<double, 3> random_vector(std::mt19937_64& rng) {
    std::normal_distribution<double> gauss(0.0, 1.0);
    std::uniform_real_distribution<double> length(0.2, 6.0);
    std::array<double, 3> v{};
    double n2 = 0.0;
    while (n2 < 1e-6) {
        for (double& c : v) c = gauss(rng);
        n2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
    }
    const double scale = length(rng) / std::sqrt(n2);
    for (double& c : v) c *= scale;
    return v;
}

// Gauss-Legendre nodes and weights on [-1, 1] by Newton iteration on P_n.
void gauss_legendre(int n, std::vector<double>& nodes, std::vector<double>& weights) {
    nodes.resize(n);
    weights.resize(n);
    for (int i = 0; i < n; ++i) {
        double x = std::cos(M_PI * (i + 0.75) / (n + 0.5));
        double dp = 0.0;
        for (int it = 0; it < 100; ++it) {
            double p0 = 1.0, p1 = x;
            for (int k = 2; k <= n; ++k) {
                const double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            dp = n * (x * p1 - p0) / (x * x - 1.0);
            const double dx = p1 / dp;
            x -= dx;
            if (std::abs(dx) < 1e-16) break;
        }
        nodes[i] = x;
        weights[i] = 2.0 / ((1.0 - x * x) * dp * dp);
    }
}

}  // namespace

TEST_CASE("spherical harmonics: constructor validates lmax") {
    CHECK_THROWS_AS(SphericalHarmonics(-1), std::invalid_argument);
    CHECK_THROWS_AS(SphericalHarmonics(SphericalHarmonics::kMaxSupportedAngular + 1), std::invalid_argument);
    CHECK(SphericalHarmonics(0).max_angular() == 0);
    CHECK(SphericalHarmonics(6).max_angular() == 6);
}

TEST_CASE("spherical harmonics: l = 0, 1 in closed form (index order y, z, x)") {
    const SphericalHarmonics sh(1);
    const double r[3] = {0.3, -1.2, 0.7};
    const double n = std::sqrt(0.09 + 1.44 + 0.49);
    double Y[4];
    sh.compute(r, Y, nullptr);
    const double c1 = std::sqrt(3.0 / (4.0 * M_PI));
    CHECK(Y[0] == doctest::Approx(1.0 / std::sqrt(4.0 * M_PI)).epsilon(1e-15));
    CHECK(Y[1] == doctest::Approx(c1 * r[1] / n).epsilon(1e-15));
    CHECK(Y[2] == doctest::Approx(c1 * r[2] / n).epsilon(1e-15));
    CHECK(Y[3] == doctest::Approx(c1 * r[0] / n).epsilon(1e-15));
}

TEST_CASE("spherical harmonics: values match Boost's complex harmonics converted to librascal's real ones") {
    const SphericalHarmonics sh(kTestLmax);
    std::mt19937_64 rng(12345);
    std::vector<double> Y(kCount), Y_with_grad(kCount), dY(3 * kCount);
    double max_err = 0.0;
    for (int sample = 0; sample < 2000; ++sample) {
        const auto v = random_vector(rng);
        sh.compute(v.data(), Y.data(), nullptr);
        sh.compute(v.data(), Y_with_grad.data(), dY.data());
        for (int l = 0; l <= kTestLmax; ++l)
            for (int m = -l; m <= l; ++m) {
                const int lm = l * l + l + m;
                max_err = std::max(max_err, std::abs(Y[lm] - boost_real_harmonic(l, m, v.data())));
                REQUIRE(Y[lm] == Y_with_grad[lm]);  // the gradient path must not change the values
            }
    }
    MESSAGE("max |Y - Y_boost| over 2000 directions, l <= 8: " << max_err);
    CHECK(max_err < 1e-14);
}

TEST_CASE("spherical harmonics: poles and axes") {
    const SphericalHarmonics sh(kTestLmax);
    std::vector<double> Y(kCount), dY(3 * kCount);
    const double dirs[][3] = {{0, 0, 1}, {0, 0, -2.5}, {1e-300, 0, 1}, {3, 0, 0}, {0, -0.5, 0}, {1, 1, 1}};
    for (const auto& d : dirs) {
        CAPTURE(d[0]);
        CAPTURE(d[1]);
        CAPTURE(d[2]);
        sh.compute(d, Y.data(), dY.data());
        for (int l = 0; l <= kTestLmax; ++l)
            for (int m = -l; m <= l; ++m) {
                const int lm = l * l + l + m;
                CAPTURE(l);
                CAPTURE(m);
                REQUIRE(std::isfinite(Y[lm]));
                for (int k = 0; k < 3; ++k) REQUIRE(std::isfinite(dY[3 * lm + k]));
                CHECK(std::abs(Y[lm] - boost_real_harmonic(l, m, d)) < 1e-14);
            }
        // On the z axis only m = 0 survives, with value sqrt((2l+1)/4pi) (+-1)^l.
        if (d[0] == 0 && d[1] == 0)
            for (int l = 0; l <= kTestLmax; ++l)
                for (int m = -l; m <= l; ++m) {
                    const double sign = (d[2] < 0 && l % 2 == 1) ? -1.0 : 1.0;
                    const double expected = m == 0 ? sign * std::sqrt((2 * l + 1) / (4 * M_PI)) : 0.0;
                    CHECK(Y[l * l + l + m] == doctest::Approx(expected).epsilon(1e-14));
                }
    }
}

TEST_CASE("spherical harmonics: gradients match finite differences and are orthogonal to r") {
    const SphericalHarmonics sh(kTestLmax);
    std::mt19937_64 rng(777);
    std::vector<double> Y(kCount), dY(3 * kCount), Yp(kCount), Ym(kCount), Yp2(kCount), Ym2(kCount);
    double max_fd = 0.0, max_radial = 0.0;
    std::vector<std::array<double, 3>> points;
    for (int sample = 0; sample < 300; ++sample) points.push_back(random_vector(rng));
    // The poles, where phi-based formulas break down, and a point just off the pole.
    points.push_back({0.0, 0.0, 1.3});
    points.push_back({0.0, 0.0, -0.7});
    points.push_back({1e-9, -2e-9, 2.0});
    for (const auto& v : points) {
        const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        sh.compute(v.data(), Y.data(), dY.data());
        for (int k = 0; k < 3; ++k) {
            // Fourth-order central difference: truncation ~h^4, rounding ~eps/h.
            const double h = 1e-3 * norm;
            auto shifted = [&](double delta, std::vector<double>& out) {
                auto w = v;
                w[k] += delta;
                sh.compute(w.data(), out.data(), nullptr);
            };
            shifted(h, Yp);
            shifted(-h, Ym);
            shifted(2 * h, Yp2);
            shifted(-2 * h, Ym2);
            for (int lm = 0; lm < kCount; ++lm) {
                const double fd = (8.0 * (Yp[lm] - Ym[lm]) - (Yp2[lm] - Ym2[lm])) / (12.0 * h);
                // Compare at the scale of |grad Y| ~ l/|r|.
                max_fd = std::max(max_fd, std::abs(fd - dY[3 * lm + k]) * norm);
            }
        }
        for (int lm = 0; lm < kCount; ++lm) {
            const double* g = &dY[3 * lm];
            max_radial = std::max(max_radial, std::abs(g[0] * v[0] + g[1] * v[1] + g[2] * v[2]));
        }
    }
    MESSAGE("max |r| |dY - dY_fd|: " << max_fd << ", max |r . dY|: " << max_radial);
    CHECK(max_fd < 1e-8);
    CHECK(max_radial < 1e-13);
}

TEST_CASE("spherical harmonics: addition-theorem sum rules for values and gradients") {
    // sum_m Y_lm^2 = (2l+1)/4pi and sum_m |grad_S Y_lm|^2 = l(l+1)(2l+1)/4pi, grad_r Y = grad_S Y / |r|:
    // checks the gradients to rounding, which finite differences cannot.
    const SphericalHarmonics sh(kTestLmax);
    std::mt19937_64 rng(99);
    std::vector<double> Y(kCount), dY(3 * kCount);
    std::vector<std::array<double, 3>> points{{0.0, 0.0, 2.0}, {0.0, 0.0, -1.0}};
    for (int sample = 0; sample < 500; ++sample) points.push_back(random_vector(rng));
    double max_err = 0.0;
    for (const auto& v : points) {
        const double r2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        sh.compute(v.data(), Y.data(), dY.data());
        for (int l = 0; l <= kTestLmax; ++l) {
            double values = 0.0, gradients = 0.0;
            for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) {
                values += Y[lm] * Y[lm];
                for (int k = 0; k < 3; ++k) gradients += dY[3 * lm + k] * dY[3 * lm + k];
            }
            const double unit = (2 * l + 1) / (4 * M_PI);
            max_err = std::max(max_err, std::abs(values / unit - 1.0));
            if (l > 0) max_err = std::max(max_err, std::abs(gradients * r2 / (l * (l + 1) * unit) - 1.0));
        }
    }
    MESSAGE("max relative sum-rule error: " << max_err);
    CHECK(max_err < 3e-14);
}

TEST_CASE("spherical harmonics: gradient at a fixed point against Boost finite differences") {
    // Independent of compute(): differentiate Boost's harmonics directly.
    const SphericalHarmonics sh(kTestLmax);
    const double v[3] = {-0.8, 0.45, 1.9};
    std::vector<double> Y(kCount), dY(3 * kCount);
    sh.compute(v, Y.data(), dY.data());
    const double h = 1e-4;
    double max_err = 0.0;
    for (int l = 0; l <= kTestLmax; ++l)
        for (int m = -l; m <= l; ++m)
            for (int k = 0; k < 3; ++k) {
                double p[3] = {v[0], v[1], v[2]}, q[3] = {v[0], v[1], v[2]};
                p[k] += h;
                q[k] -= h;
                const double fd = (boost_real_harmonic(l, m, p) - boost_real_harmonic(l, m, q)) / (2 * h);
                max_err = std::max(max_err, std::abs(fd - dY[3 * (l * l + l + m) + k]));
            }
    CHECK(max_err < 1e-6);
}

TEST_CASE("spherical harmonics: orthonormal under exact quadrature") {
    // Gauss-Legendre in cos(theta) (exact for polynomials of degree < 2n) times the uniform rule in phi
    // (exact for trigonometric polynomials of degree < nphi): exact for products with l, l' <= 8.
    const SphericalHarmonics sh(kTestLmax);
    const int n_theta = 12, n_phi = 20;
    std::vector<double> nodes, weights;
    gauss_legendre(n_theta, nodes, weights);
    double weight_sum = 0.0;
    for (double w : weights) weight_sum += w;
    REQUIRE(weight_sum == doctest::Approx(2.0).epsilon(1e-14));

    std::vector<double> gram(kCount * kCount, 0.0), Y(kCount);
    for (int a = 0; a < n_theta; ++a) {
        const double ct = nodes[a], st = std::sqrt(1.0 - ct * ct);
        for (int b = 0; b < n_phi; ++b) {
            const double phi = 2.0 * M_PI * (b + 0.3) / n_phi;
            const double r[3] = {st * std::cos(phi), st * std::sin(phi), ct};
            sh.compute(r, Y.data(), nullptr);
            const double w = weights[a] * 2.0 * M_PI / n_phi;
            for (int i = 0; i < kCount; ++i)
                for (int j = 0; j < kCount; ++j) gram[i * kCount + j] += w * Y[i] * Y[j];
        }
    }
    double max_err = 0.0;
    for (int i = 0; i < kCount; ++i)
        for (int j = 0; j < kCount; ++j)
            max_err = std::max(max_err, std::abs(gram[i * kCount + j] - (i == j ? 1.0 : 0.0)));
    MESSAGE("max |<Y_i, Y_j> - delta_ij|: " << max_err);
    CHECK(max_err < 1e-12);
}

TEST_CASE("spherical harmonics: a smaller lmax gives the leading entries of a larger one") {
    const SphericalHarmonics small(3), large(kTestLmax);
    const double v[3] = {1.1, -0.4, -2.2};
    std::vector<double> Ys(16), dYs(48), Yl(kCount), dYl(3 * kCount);
    small.compute(v, Ys.data(), dYs.data());
    large.compute(v, Yl.data(), dYl.data());
    for (int i = 0; i < 16; ++i) CHECK(Ys[i] == Yl[i]);
    for (int i = 0; i < 48; ++i) CHECK(dYs[i] == dYl[i]);
}

TEST_CASE("spherical harmonics: the unrolled lmax <= 8 evaluation agrees with the runtime-lmax loops") {
    // lmax above kMaxUnrolledAngular takes the loops; its leading entries are the same functions.
    constexpr int kLoops = SphericalHarmonics::kMaxUnrolledAngular + 3;
    static_assert(kLoops > SphericalHarmonics::kMaxUnrolledAngular);
    const SphericalHarmonics loops(kLoops);
    std::mt19937_64 rng(20261206);
    std::vector<double> Yl((kLoops + 1) * (kLoops + 1)), dYl(3 * Yl.size());
    for (int lmax = 0; lmax <= SphericalHarmonics::kMaxUnrolledAngular; ++lmax) {
        CAPTURE(lmax);
        const SphericalHarmonics unrolled(lmax);
        const int n = (lmax + 1) * (lmax + 1);
        std::vector<double> Y(n), dY(3 * n), Y_only(n);
        for (int k = 0; k < 200; ++k) {
            const std::array<double, 3> v = random_vector(rng);
            unrolled.compute(v.data(), Y.data(), dY.data());
            unrolled.compute(v.data(), Y_only.data(), nullptr);
            loops.compute(v.data(), Yl.data(), dYl.data());
            for (int i = 0; i < n; ++i) {
                CHECK(Y_only[i] == Y[i]);
                CHECK(std::abs(Y[i] - Yl[i]) <= 4e-15);
            }
            for (int i = 0; i < 3 * n; ++i) CHECK(std::abs(dY[i] - dYl[i]) <= 4e-15 * (1.0 + std::abs(dYl[i])));
        }
    }
}

TEST_CASE("spherical harmonics: a batch of directions equals one direction at a time") {
    // Lanes of the batch run the same operations as compute(), with the sums written as explicit fused
    // multiply-adds: the same bits, whatever the batch size (partial batches pad unused lanes).
    std::mt19937_64 rng(20261207);
    for (int lmax : {0, 1, 3, 6, 8, 9}) {
        CAPTURE(lmax);
        const SphericalHarmonics h(lmax);
        const int n = (lmax + 1) * (lmax + 1), B = SphericalHarmonics::kBatch;
        std::vector<double> batch(static_cast<std::size_t>(B) * n), one(n);
        for (int count = 1; count <= B; ++count) {
            std::vector<double> r(3 * count);
            for (int j = 0; j < count; ++j) {
                const std::array<double, 3> v = random_vector(rng);
                std::copy(v.begin(), v.end(), r.begin() + 3 * j);
            }
            h.compute_batch(r.data(), count, batch.data());
            for (int j = 0; j < count; ++j) {
                h.compute(r.data() + 3 * j, one.data(), nullptr);
                for (int i = 0; i < n; ++i) CHECK(batch[static_cast<std::size_t>(i) * B + j] == one[i]);
            }
        }
    }
    const SphericalHarmonics h(2);
    double r[3] = {1.0, 0.0, 0.0}, Y[9 * SphericalHarmonics::kBatch];
    CHECK_THROWS_AS(h.compute_batch(r, 0, Y), std::invalid_argument);
    CHECK_THROWS_AS(h.compute_batch(r, SphericalHarmonics::kBatch + 1, Y), std::invalid_argument);
}
