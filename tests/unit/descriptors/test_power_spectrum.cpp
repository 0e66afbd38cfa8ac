// The power spectrum on its own: backpropagate (dE/dx -> dE/dc) against finite differences of E = g . x(c) for the
// Full and Compressed layouts and a feature selection, normalized and not; Full and Compressed give the same dot
// products and norms; from_full_layout / to_full_layout round trips.

#include "models/descriptors/power_spectrum.hpp"
#include "models/descriptors/soap_hypers.hpp"
#include "finite_difference.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace gapd;
using namespace gapd::testing;

namespace {

SoapHypers make_hypers(int nmax, int lmax, std::vector<int> species, bool normalize) {
    SoapHypers h;  // rc 5.5, sigma 0.5, RadialScaling c = 1, r0 = 3.5, m = 4 (do not enter the power spectrum)
    h.max_radial = nmax;
    h.max_angular = lmax;
    h.species = std::move(species);
    h.normalize = normalize;
    return h;
}

// The paper's nmax 8, lmax 6 with O, Ti, Ba (compile-time n kernel), and nmax 5, lmax 3 with two species
// (runtime-n kernel).
std::vector<SoapHypers> hypers_variants(bool normalize) {
    return {make_hypers(8, 6, {8, 22, 56}, normalize), make_hypers(5, 3, {8, 22}, normalize)};
}

int coefficient_count(const SoapHypers& h) {
    return static_cast<int>(h.species.size()) * (h.max_angular + 1) * (h.max_angular + 1) * h.max_radial;
}

std::vector<double> random_vector(int n, std::mt19937& rng) {
    std::normal_distribution<double> g;
    std::vector<double> v(n);
    for (double& x : v) x = g(rng);
    return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// Largest |v_k|; NaN (an entry left unwritten, see adjoint/to_full/from_full) gives infinity.
double max_abs(const std::vector<double>& v) {
    double m = 0.0;
    for (double x : v) m = std::isnan(x) ? HUGE_VAL : std::max(m, std::abs(x));
    return m;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        const double d = std::abs(a[k] - b[k]);
        m = std::isnan(d) ? HUGE_VAL : std::max(m, d);
    }
    return m;
}

// A third of the compressed indices, in random order.
std::vector<int> random_selection(const SoapHypers& h, std::mt19937& rng) {
    std::vector<int> all(power_spectrum_size(h, PowerSpectrumLayout::Compressed));
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(all.size() / 3);
    return all;
}

struct Features {
    std::vector<double> x;
    double norm;
};

Features features(const PowerSpectrum& ps, const std::vector<double>& c) {
    Features f{std::vector<double>(ps.size()), 0.0};
    f.norm = ps.compute(c.data(), f.x.data());
    return f;
}

std::vector<double> adjoint(const PowerSpectrum& ps, const std::vector<double>& c, const std::vector<double>& g) {
    const Features f = features(ps, c);
    std::vector<double> dc(c.size(), std::nan("")), work(ps.size());
    ps.backpropagate(c.data(), f.x.data(), f.norm, g.data(), dc.data(), work.data());
    return dc;
}

std::vector<double> to_full(const PowerSpectrum& ps, const SoapHypers& h, const std::vector<double>& y) {
    std::vector<double> full(power_spectrum_size(h), std::nan(""));
    ps.to_full_layout(y.data(), full.data());
    return full;
}

std::vector<double> from_full(const PowerSpectrum& ps, const std::vector<double>& t) {
    std::vector<double> y(ps.size(), std::nan(""));
    ps.from_full_layout(t.data(), y.data());
    return y;
}

}  // namespace

TEST_CASE("power spectrum: feature counts of the layouts") {
    const SoapHypers h = make_hypers(8, 6, {8, 22, 56}, true);
    CHECK(power_spectrum_size(h) == 2688);
    CHECK(PowerSpectrum(h).size() == 2688);
    CHECK(PowerSpectrum(h, PowerSpectrumLayout::Compressed).size() == 2100);
    CHECK(PowerSpectrum(h, std::vector<int>{5, 3, 2099}).size() == 3);
    CHECK(PowerSpectrum(h, std::vector<int>{}).size() == 2100);  // empty selection = all
}

TEST_CASE("power spectrum adjoint against finite differences (Full, Compressed, selection; normalized or not)") {
    // E = g . x(c), c and g standard normal (|c_k| ~ 1), step h = 1e-3 on each c_k with the fourth-order stencil.
    // Unnormalized, x is quadratic in c, so the stencil is exact and only round-off remains:
    // ~eps sum|g_k x_k| / h ~ 1e-16 * 1e3 / 1e-3 = 1e-10 against |dE/dc| ~ 10. Normalized, x(c) is smooth and
    // homogeneous of degree 0 with curvature on the scale |c| ~ 35, so the truncation (h/35)^4 is far below the
    // round-off. Measured worst: 1.3e-11 relative (unnormalized, paper hypers). Bound 1e-9 relative to the
    // largest |dE/dc|; a dropped sqrt2, (2l+1)^(-1/2), symmetrization or the normalization's projection shows up
    // at 1e-2 or more.
    std::mt19937 rng(41);
    std::ostringstream summary;
    for (const bool normalize : {true, false})
        for (const SoapHypers& h : hypers_variants(normalize)) {
            struct Variant {
                std::string name;
                PowerSpectrum ps;
            };
            const std::vector<Variant> variants = {
                {"Full", PowerSpectrum(h, PowerSpectrumLayout::Full)},
                {"Compressed", PowerSpectrum(h, PowerSpectrumLayout::Compressed)},
                {"selection", PowerSpectrum(h, random_selection(h, rng))}};
            for (const Variant& v : variants) {
                CAPTURE(v.name);
                CAPTURE(normalize);
                CAPTURE(h.max_radial);
                const std::vector<double> c = random_vector(coefficient_count(h), rng);
                const std::vector<double> g = random_vector(v.ps.size(), rng);
                const std::vector<double> dc = adjoint(v.ps, c, g);
                double worst = 0.0;
                for (std::size_t k = 0; k < c.size(); ++k) {
                    const double fd = derivative(
                        [&](double step) {
                            std::vector<double> cs = c;
                            cs[k] += step;
                            return dot(g, features(v.ps, cs).x);
                        },
                        1e-3);
                    const double d = std::abs(fd - dc[k]);
                    worst = std::isnan(d) ? HUGE_VAL : std::max(worst, d);
                }
                const double scale = max_abs(dc);
                summary << "\n  " << v.name << ", " << (normalize ? std::string("normalized") : std::string("raw"))
                        << ", nmax " << h.max_radial << ": max |dE/dc| " << scale << ", FD error " << worst;
                CHECK(scale > 1e-3);
                CHECK(worst < 1e-9 * scale);
                // Euler: x is homogeneous of degree 0 (normalized) or 2 in c, so c . dE/dc = 0 or 2 E.
                const double euler = dot(c, dc), E = dot(g, features(v.ps, c).x);
                CHECK(std::abs(euler - (normalize ? 0.0 : 2.0 * E)) < 1e-11 * scale * std::sqrt(double(c.size())));
            }
        }
    MESSAGE("power spectrum adjoint vs finite differences:" << summary.str());
}

TEST_CASE("power spectrum: Full and Compressed give the same dot products, norms and gradients") {
    std::mt19937 rng(43);
    for (const bool normalize : {true, false})
        for (const SoapHypers& h : hypers_variants(normalize)) {
            CAPTURE(normalize);
            CAPTURE(h.max_radial);
            const PowerSpectrum full(h, PowerSpectrumLayout::Full), comp(h, PowerSpectrumLayout::Compressed);
            const std::vector<double> c1 = random_vector(coefficient_count(h), rng);
            const std::vector<double> c2 = random_vector(coefficient_count(h), rng);
            const Features f1 = features(full, c1), f2 = features(full, c2);
            const Features k1 = features(comp, c1), k2 = features(comp, c2);
            CHECK(std::abs(f1.norm - k1.norm) < 1e-13 * f1.norm);
            CHECK(std::abs(f2.norm - k2.norm) < 1e-13 * f2.norm);
            const double d_full = dot(f1.x, f2.x), d_comp = dot(k1.x, k2.x);
            const double d_scale = std::sqrt(dot(f1.x, f1.x) * dot(f2.x, f2.x));
            CHECK(std::abs(d_full - d_comp) < 1e-13 * d_scale);
            CHECK(std::abs(dot(f1.x, f1.x) - dot(k1.x, k1.x)) < 1e-13 * dot(f1.x, f1.x));
            if (normalize) CHECK(std::abs(dot(k1.x, k1.x) - 1.0) < 1e-13);
            // The layouts map onto each other.
            const double x_scale = max_abs(f1.x);
            CHECK(max_abs_diff(from_full(comp, f1.x), k1.x) < 1e-14 * x_scale);
            CHECK(max_abs_diff(to_full(comp, h, k1.x), f1.x) < 1e-14 * x_scale);
            // E = t . x_full = from_full(t) . x_comp for any t (also non-symmetric): the same dE/dc.
            const std::vector<double> t = random_vector(full.size(), rng);
            CHECK(std::abs(dot(t, f1.x) - dot(from_full(comp, t), k1.x)) < 1e-13 * max_abs(t) * x_scale * full.size());
            const std::vector<double> dc_full = adjoint(full, c1, t), dc_comp = adjoint(comp, c1, from_full(comp, t));
            CHECK(max_abs_diff(dc_full, dc_comp) < 1e-13 * max_abs(dc_full));
        }
}

TEST_CASE("power spectrum: a feature selection is the selected compressed features") {
    std::mt19937 rng(47);
    for (const bool normalize : {false, true})
        for (const SoapHypers& h : hypers_variants(normalize)) {
            CAPTURE(normalize);
            CAPTURE(h.max_radial);
            const std::vector<int> selection = random_selection(h, rng);
            const SoapHypers raw_h = make_hypers(h.max_radial, h.max_angular, h.species, false);
            const PowerSpectrum sel(h, selection), comp_raw(raw_h, PowerSpectrumLayout::Compressed),
                full_raw(raw_h, PowerSpectrumLayout::Full);
            const std::vector<double> c = random_vector(coefficient_count(h), rng);
            const Features all = features(comp_raw, c), picked = features(sel, c);
            std::vector<double> expected(selection.size());
            for (std::size_t q = 0; q < selection.size(); ++q) expected[q] = all.x[selection[q]];
            const double norm = std::sqrt(dot(expected, expected));
            CHECK(std::abs(picked.norm - norm) < 1e-13 * norm);  // the norm is over the selected features only
            if (normalize)
                for (double& v : expected) v /= norm;
            CHECK(max_abs_diff(picked.x, expected) < 1e-14 * max_abs(expected));
            if (!normalize) {
                // x_sel . t = x_full . to_full(t): the selection's features sit where to_full puts them.
                const std::vector<double> t = random_vector(sel.size(), rng);
                const Features f = features(full_raw, c);
                CHECK(std::abs(dot(picked.x, t) - dot(f.x, to_full(sel, h, t))) <
                      1e-13 * max_abs(f.x) * std::sqrt(double(f.x.size())));
            }
        }
}

TEST_CASE("power spectrum: from_full_layout / to_full_layout round trips") {
    std::mt19937 rng(53);
    const SoapHypers h = make_hypers(8, 6, {8, 22, 56}, true);
    const int N = h.max_radial, L = h.max_angular + 1, ns = 3;
    const PowerSpectrum full(h, PowerSpectrumLayout::Full), comp(h, PowerSpectrumLayout::Compressed);
    const std::vector<int> selection = random_selection(h, rng);
    const PowerSpectrum sel(h, selection);

    // The symmetric part over (n1, n2) of the same-species blocks of a Full-layout vector.
    const auto symmetrized = [&](std::vector<double> t) {
        int offset = 0;
        for (int a = 0; a < ns; ++a)
            for (int b = a; b < ns; ++b, offset += N * N * L) {
                if (a != b) continue;
                for (int n1 = 0; n1 < N; ++n1)
                    for (int n2 = n1 + 1; n2 < N; ++n2)
                        for (int l = 0; l < L; ++l) {
                            double& u = t[offset + (n1 * N + n2) * L + l];
                            double& v = t[offset + (n2 * N + n1) * L + l];
                            u = v = 0.5 * (u + v);
                        }
            }
        return t;
    };

    const std::vector<double> t = random_vector(full.size(), rng);
    const std::vector<double> ts = symmetrized(t);
    CHECK(max_abs_diff(ts, t) > 0.1);  // t is not symmetric, so the next checks see the difference

    SUBCASE("Full layout: both maps are copies") {
        CHECK(max_abs_diff(from_full(full, t), t) == 0.0);
        CHECK(max_abs_diff(to_full(full, h, t), t) == 0.0);
    }
    SUBCASE("Compressed: to_full . from_full is the symmetric part, from_full . to_full the identity") {
        CHECK(max_abs_diff(to_full(comp, h, from_full(comp, ts)), ts) < 1e-15 * max_abs(ts));
        CHECK(max_abs_diff(to_full(comp, h, from_full(comp, t)), ts) < 1e-15 * max_abs(t));
        const std::vector<double> y = random_vector(comp.size(), rng);
        CHECK(max_abs_diff(from_full(comp, to_full(comp, h, y)), y) < 1e-15 * max_abs(y));
        // to_full keeps dot products: full . full' = y . y'
        const std::vector<double> y2 = random_vector(comp.size(), rng);
        CHECK(std::abs(dot(to_full(comp, h, y), to_full(comp, h, y2)) - dot(y, y2)) < 1e-12);
    }
    SUBCASE("selection: round trip of the selected features, zeros elsewhere") {
        const std::vector<double> y = random_vector(sel.size(), rng);
        const std::vector<double> f = to_full(sel, h, y);
        CHECK(max_abs_diff(from_full(sel, f), y) < 1e-15 * max_abs(y));
        // What to_full wrote is the compressed vector with y at the selected indices and 0 elsewhere.
        std::vector<double> embedded(comp.size(), 0.0);
        for (std::size_t q = 0; q < selection.size(); ++q) embedded[selection[q]] = y[q];
        CHECK(max_abs_diff(f, to_full(comp, h, embedded)) == 0.0);
        const std::vector<double> from_t = from_full(sel, t), from_t_all = from_full(comp, t);
        std::vector<double> picked(selection.size());
        for (std::size_t q = 0; q < selection.size(); ++q) picked[q] = from_t_all[selection[q]];
        CHECK(max_abs_diff(from_t, picked) == 0.0);
    }
}

TEST_CASE("power spectrum: zero coefficients and invalid selections") {
    const SoapHypers h = make_hypers(4, 2, {8, 22}, true);
    for (const PowerSpectrum& ps :
         {PowerSpectrum(h), PowerSpectrum(h, PowerSpectrumLayout::Compressed), PowerSpectrum(h, std::vector<int>{0, 7})}) {
        const std::vector<double> c(coefficient_count(h), 0.0), g(ps.size(), 1.0);
        const Features f = features(ps, c);
        CHECK(f.norm == 0.0);
        CHECK(max_abs(f.x) == 0.0);
        const std::vector<double> dc = adjoint(ps, c, g);
        CHECK(max_abs(dc) == 0.0);  // also no NaN from 1/||p||
    }
    const int size = power_spectrum_size(h, PowerSpectrumLayout::Compressed);
    CHECK_THROWS_WITH_AS(PowerSpectrum(h, std::vector<int>{0, -1}), doctest::Contains("index -1"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(PowerSpectrum(h, std::vector<int>{size}), doctest::Contains(std::to_string(size).c_str()),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(PowerSpectrum(h, std::vector<int>{3, 1, 3}), doctest::Contains("repeated"),
                         std::invalid_argument);
}
