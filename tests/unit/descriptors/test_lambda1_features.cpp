// lambda=1 equivariant features: Wigner 3j symbols, librascal's SphericalCovariants fixtures, rotation and
// inversion behaviour, and the adjoint against finite differences (ours and the fixture's).

#include "lambda1_fixtures.hpp"
#include "models/descriptors/lambda1_features.hpp"
#include "models/descriptors/spherical_expansion.hpp"
#include "models/descriptors/wigner3j.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace gapd;
using namespace gapd::testing;

namespace {

// dE/dr (N x 3) of E = g . x_i, through the adjoint of the features and of the expansion.
Matrix3N projected_gradient(const Structure& s, const SphericalExpansion& expansion, const Lambda1Features& lambda1,
                            const CentreData& d, int i, const std::vector<double>& g) {
    std::vector<double> dc(expansion.size()), work(lambda1.size()), pair(3 * d.neighbours.size(), 0.0);
    lambda1.backpropagate(d.coefficients.row(i).data(), d.features.row(i).data(), d.norms[i], g.data(), dc.data(),
                          work.data());
    ExpansionScratch scratch = expansion.make_scratch();
    expansion.backpropagate(d.neighbours, d.species_of, i, dc.data(), pair.data(), scratch);
    Matrix3N grad = Matrix3N::Zero(s.size(), 3);
    for (std::size_t e = d.neighbours.offsets[i]; e < d.neighbours.offsets[i + 1]; ++e)
        for (int a = 0; a < 3; ++a) {
            grad(d.neighbours.neighbour[e], a) += pair[3 * e + a];
            grad(i, a) -= pair[3 * e + a];
        }
    return grad;
}

std::vector<double> random_unit(int n, std::mt19937& rng) {
    std::normal_distribution<double> gauss;
    std::vector<double> g(n);
    double n2 = 0.0;
    for (double& v : g) {
        v = gauss(rng);
        n2 += v * v;
    }
    for (double& v : g) v /= std::sqrt(n2);
    return g;
}

Structure fixture_structure(const nlohmann::json& fixture, const std::string& name) {
    return structure_from_json(fixture.at("structures").at(name));
}

}  // namespace

TEST_CASE("Wigner 3j symbols: closed forms and orthogonality up to j = 12") {
    struct Value {
        int j1, j2, j3, m1, m2, m3;
        long double expected;
    };
    // Exact values from sympy.physics.wigner.wigner_3j.
    for (const Value& v : {Value{1, 1, 0, 0, 0, 0, -std::sqrt(3.0L) / 3}, Value{1, 1, 1, 1, -1, 0, std::sqrt(6.0L) / 6},
                           Value{2, 1, 1, 1, -1, 0, -std::sqrt(10.0L) / 10}, Value{3, 4, 1, 2, -3, 1, -std::sqrt(3.0L) / 6},
                           Value{12, 11, 1, -5, 6, -1, -std::sqrt(161.0L) / 230},
                           Value{12, 12, 1, 7, -7, 0, -7 * std::sqrt(39.0L) / 390},
                           Value{6, 8, 10, 2, -5, 3, -13 * std::sqrt(74364290.0L) / 3432198},
                           Value{12, 12, 12, 4, -9, 5, -3 * std::sqrt(765814049.0L) / 3825245}}) {
        CAPTURE(v.j1);
        CAPTURE(v.j3);
        CHECK(std::abs(static_cast<double>(wigner_3j(v.j1, v.j2, v.j3, v.m1, v.m2, v.m3) - v.expected)) < 1e-17);
    }
    CHECK(wigner_3j(1, 1, 1, 1, 1, -1) == 0.0L);  // m1 + m2 + m3 != 0
    CHECK(wigner_3j(1, 1, 3, 0, 0, 0) == 0.0L);   // triangle
    CHECK_THROWS_AS(wigner_3j(41, 41, 0, 0, 0, 0), std::invalid_argument);

    // sum_{m1 m2} (j1 j2 j3; m1 m2 m3)(j1 j2 j3'; m1 m2 m3) = delta_{j3 j3'} / (2 j3 + 1).
    long double worst = 0.0L;
    for (int j1 = 0; j1 <= 12; ++j1)
        for (int j2 = 0; j2 <= 12; ++j2)
            for (int j3 = std::abs(j1 - j2); j3 <= j1 + j2; j3 += 3)
                for (int j3b = std::abs(j1 - j2); j3b <= j1 + j2; j3b += 2)
                    for (int m3 = -std::min(j3, j3b); m3 <= std::min(j3, j3b); m3 += std::max(1, j3 / 2)) {
                        long double sum = 0.0L;
                        for (int m1 = -j1; m1 <= j1; ++m1) {
                            const int m2 = -m1 - m3;
                            if (std::abs(m2) > j2) continue;
                            sum += wigner_3j(j1, j2, j3, m1, m2, m3) * wigner_3j(j1, j2, j3b, m1, m2, m3);
                        }
                        const long double expected = (j3 == j3b) ? 1.0L / (2 * j3 + 1) : 0.0L;
                        worst = std::max(worst, std::abs(sum - expected));
                    }
    MESSAGE("3j orthogonality, max deviation for j <= 12: " << static_cast<double>(worst));
    CHECK(worst < 1e-17L);
}

TEST_CASE("lambda=1 layout: librascal's (l1, l2) pairs and feature counts") {
    SoapHypers h;
    h.species = {8, 22, 56};
    struct Case {
        int nmax, lmax;
        bool inversion;
        int pairs, columns;
    };
    for (const Case& c : {Case{4, 3, true, 6, 1728}, Case{4, 3, false, 9, 2592}, Case{6, 4, true, 8, 5184},
                          Case{6, 4, false, 12, 7776}}) {
        h.max_radial = c.nmax;
        h.max_angular = c.lmax;
        const Lambda1Features f(h, c.inversion);
        CHECK(static_cast<int>(f.angular_pairs().size()) == c.pairs);
        CHECK(f.size() == c.columns);
        CHECK(f.triplets() * 3 == c.columns);
    }
    h.max_angular = 4;
    const Lambda1Features proper(h, true);
    const std::vector<std::array<int, 2>> expected{{0, 1}, {1, 0}, {1, 2}, {2, 1}, {2, 3}, {3, 2}, {3, 4}, {4, 3}};
    CHECK(proper.angular_pairs() == expected);
    h.max_angular = 0;
    CHECK_THROWS_AS(Lambda1Features(h, true), std::invalid_argument);
}

TEST_CASE("Cartesian mapping of librascal's columns: (x, y, z) = (T+1, -T-1, T0)") {
    const double lib[6] = {1, 2, 3, 4, 5, 6};  // two triplets, mu = -1, 0, +1
    double x[6];
    Lambda1Features::from_librascal(lib, 2, x);
    CHECK(x[0] == 3);
    CHECK(x[1] == -1);
    CHECK(x[2] == 2);
    CHECK(x[3] == 6);
    CHECK(x[4] == -4);
    CHECK(x[5] == 5);
}

TEST_CASE("lambda=1 features match librascal's SphericalCovariants (exact radial integrals)") {
    for (const std::string stem : {"small_invTrue", "small_invFalse", "n6l4rc5.5_invTrue"}) {
        const auto fixture = read_lambda1_fixture(stem);
        const SoapHypers h = lambda1_hypers(fixture);
        const bool inversion = fixture.at("python_kwargs").at("inversion_symmetry").get<bool>();
        const SphericalExpansion expansion(h, RadialMode::Exact);
        const Lambda1Features lambda1(h, inversion);
        for (const std::string name : {"bto_5atom_cubic", "bto_40atom_triclinic"}) {
            CAPTURE(stem);
            CAPTURE(name);
            const auto& entry = fixture.at("structures").at(name);
            const CentreData d = centre_data(structure_from_json(entry), expansion, lambda1);
            const RowMatrix ref = lambda1_fixture_features(entry);
            REQUIRE(ref.cols() == lambda1.size());
            const double dev = (d.features - ref).cwiseAbs().maxCoeff();
            double norm_dev = 0.0;
            const auto norms = entry.at("norms_before_normalization").get<std::vector<double>>();
            for (std::size_t i = 0; i < norms.size(); ++i)
                norm_dev = std::max(norm_dev, std::abs(d.norms[i] / norms[i] - 1.0));
            MESSAGE(stem << " " << name << ": max |x - x_librascal| = " << dev << ", max relative norm error "
                         << norm_dev << " (max |x| " << ref.cwiseAbs().maxCoeff() << ")");
            CHECK(dev < 1e-10);
            CHECK(norm_dev < 1e-10);
        }
    }
}

TEST_CASE("lambda=1 triplets rotate as proper vectors; inversion flips the proper ones only") {
    const auto fixture = read_lambda1_fixture("small_invFalse");
    const SoapHypers h = lambda1_hypers(fixture);
    const SphericalExpansion expansion(h, RadialMode::Spline);
    const Lambda1Features lambda1(h, false);
    const int npairs = static_cast<int>(lambda1.angular_pairs().size());
    std::mt19937 rng(11);
    for (const std::string name : {"bto_5atom_cubic", "bto_40atom_triclinic"}) {
        CAPTURE(name);
        const Structure s0 = fixture_structure(fixture, name);
        const CentreData d0 = centre_data(s0, expansion, lambda1);
        for (int trial = 0; trial < 2; ++trial) {
            const Eigen::Matrix3d R = random_rotation(rng);
            const CentreData d = centre_data(rotated(s0, R), expansion, lambda1);
            double dev = 0.0, change = 0.0;
            for (int i = 0; i < static_cast<int>(s0.size()); ++i)
                for (int q = 0; q < lambda1.triplets(); ++q) {
                    const Eigen::Vector3d v0(d0.features.row(i).data() + 3 * q), v(d.features.row(i).data() + 3 * q);
                    dev = std::max(dev, (v - R * v0).cwiseAbs().maxCoeff());
                    change = std::max(change, (v - v0).cwiseAbs().maxCoeff());
                }
            MESSAGE(name << ": rotation error " << dev << " (features change by up to " << change << ")");
            CHECK(dev < 1e-12);
            CHECK(change > 0.1);
        }
        Structure inverted = s0;
        inverted.positions = -s0.positions;
        inverted.cell = -s0.cell;
        const CentreData d = centre_data(inverted, expansion, lambda1);
        double proper_dev = 0.0, pseudo_dev = 0.0, pseudo_size = 0.0;
        for (int i = 0; i < static_cast<int>(s0.size()); ++i)
            for (int q = 0; q < lambda1.triplets(); ++q) {
                const auto& p = lambda1.angular_pairs()[q % npairs];
                const bool pseudo = p[0] == p[1];
                for (int a = 0; a < 3; ++a) {
                    const double x0 = d0.features(i, 3 * q + a), x = d.features(i, 3 * q + a);
                    if (pseudo) {
                        pseudo_dev = std::max(pseudo_dev, std::abs(x - x0));
                        pseudo_size = std::max(pseudo_size, std::abs(x0));
                    } else {
                        proper_dev = std::max(proper_dev, std::abs(x + x0));
                    }
                }
            }
        CHECK(proper_dev < 1e-12);
        CHECK(pseudo_dev < 1e-12);
        CHECK(pseudo_size > 0.01);
    }
}

TEST_CASE("adjoint of the lambda=1 features against finite differences") {
    // Sub-cutoff 5-atom cell (self images) and the triclinic 40-atom cell, both parities.
    std::mt19937 rng(5);
    for (const std::string stem : {"n6l4rc5.5_invTrue", "small_invFalse"}) {
        const auto fixture = read_lambda1_fixture(stem);
        const SoapHypers h = lambda1_hypers(fixture);
        const bool inversion = fixture.at("python_kwargs").at("inversion_symmetry").get<bool>();
        const SphericalExpansion expansion(h, RadialMode::Spline);
        const Lambda1Features lambda1(h, inversion);
        for (const std::string name : {"bto_5atom_cubic", "bto_40atom_triclinic"}) {
            CAPTURE(stem);
            CAPTURE(name);
            const Structure s0 = fixture_structure(fixture, name);
            const CentreData d0 = centre_data(s0, expansion, lambda1);
            double worst = 0.0, largest = 0.0;
            for (int i : {0, 1, 3}) {
                const std::vector<double> g = random_unit(lambda1.size(), rng);
                const Matrix3N grad = projected_gradient(s0, expansion, lambda1, d0, i, g);
                auto projection = [&](const Structure& s) {
                    const CentreData d = centre_data(s, expansion, lambda1);
                    double e = 0.0;
                    for (int k = 0; k < lambda1.size(); ++k) e += g[k] * d.features(i, k);
                    return e;
                };
                for (int k = 0; k < static_cast<int>(s0.size()); k += (s0.size() > 10 ? 9 : 1))
                    for (int a = 0; a < 3; ++a) {
                        auto at = [&](double step) {
                            Structure s = s0;
                            s.positions(k, a) += step;
                            return projection(s);
                        };
                        const double step = 2e-5;
                        const double fd = (8.0 * (at(step) - at(-step)) - (at(2 * step) - at(-2 * step))) / (12.0 * step);
                        worst = std::max(worst, std::abs(fd - grad(k, a)));
                        largest = std::max(largest, std::abs(fd));
                    }
                // Translation invariance of the features.
                CHECK(grad.colwise().sum().cwiseAbs().maxCoeff() < 1e-12);
            }
            MESSAGE(stem << " " << name << ": adjoint vs finite differences " << worst << " (largest " << largest << ")");
            CHECK(worst < 1e-9);
            CHECK(largest > 1e-3);
        }
    }
}

TEST_CASE("adjoint against the fixture's finite-difference gradient of librascal's features (5-atom cell)") {
    const auto fixture = read_lambda1_fixture("n6l4rc5.5_invTrue");
    std::vector<std::size_t> shape;
    const std::vector<double> G =
        read_npy(librascal_fixture("lambda1/lambda1_n6l4rc5.5_invTrue_bto_5atom_cubic_fd_gradient.npy"), shape);
    const SoapHypers h = lambda1_hypers(fixture);
    const SphericalExpansion expansion(h, RadialMode::Exact);
    const Lambda1Features lambda1(h, true);
    const Structure s = fixture_structure(fixture, "bto_5atom_cubic");
    REQUIRE(shape == std::vector<std::size_t>{5, 5, 3, static_cast<std::size_t>(lambda1.size())});
    const CentreData d = centre_data(s, expansion, lambda1);
    const int nf = lambda1.size();
    auto fd = [&](int i, int k, int a, int f) { return G[((static_cast<std::size_t>(i) * 5 + k) * 3 + a) * nf + f]; };

    std::mt19937 rng(3);
    std::uniform_int_distribution<int> column(0, nf - 1);
    double worst = 0.0;
    for (int i = 0; i < 5; ++i) {
        // Random unit projections, plus single librascal columns.
        std::vector<std::vector<double>> projections;
        for (int t = 0; t < 3; ++t) projections.push_back(random_unit(nf, rng));
        for (int t = 0; t < 4; ++t) {
            std::vector<double> e(nf, 0.0);
            e[column(rng)] = 1.0;
            projections.push_back(e);
        }
        for (const std::vector<double>& g_lib : projections) {
            std::vector<double> g(nf);
            Lambda1Features::from_librascal(g_lib.data(), lambda1.triplets(), g.data());  // orthogonal map
            const Matrix3N grad = projected_gradient(s, expansion, lambda1, d, i, g);
            for (int k = 0; k < 5; ++k)
                for (int a = 0; a < 3; ++a) {
                    double ref = 0.0;
                    for (int f = 0; f < nf; ++f) ref += g_lib[f] * fd(i, k, a, f);
                    worst = std::max(worst, std::abs(ref - grad(k, a)));
                }
        }
    }
    MESSAGE("adjoint vs librascal finite differences: " << worst);
    CHECK(worst < 1e-8);
}

TEST_CASE("backpropagate_vector equals three backpropagate calls (normalized and not)") {
    const auto fixture = read_lambda1_fixture("small_invFalse");
    std::mt19937 rng(13);
    std::normal_distribution<double> gauss;
    for (bool normalize : {true, false}) {
        CAPTURE(normalize);
        SoapHypers h = lambda1_hypers(fixture);
        h.normalize = normalize;
        const SphericalExpansion expansion(h, RadialMode::Spline);
        const Lambda1Features lambda1(h, false);
        const CentreData d = centre_data(fixture_structure(fixture, "bto_40atom_triclinic"), expansion, lambda1);
        const int S = expansion.size();
        std::vector<double> u(lambda1.triplets()), g(lambda1.size()), dc(S), work(std::max(S, lambda1.size()));
        std::vector<double> dm(3 * S);
        for (double& v : u) v = gauss(rng);
        double worst = 0.0, largest = 0.0;
        for (int i : {0, 1, 7}) {
            lambda1.backpropagate_vector(d.coefficients.row(i).data(), d.features.row(i).data(), d.norms[i], u.data(),
                                         dm.data(), work.data());
            for (int a = 0; a < 3; ++a) {
                std::fill(g.begin(), g.end(), 0.0);
                for (int q = 0; q < lambda1.triplets(); ++q) g[3 * q + a] = u[q];
                lambda1.backpropagate(d.coefficients.row(i).data(), d.features.row(i).data(), d.norms[i], g.data(),
                                      dc.data(), work.data());
                for (int k = 0; k < S; ++k) {
                    worst = std::max(worst, std::abs(dc[k] - dm[a * S + k]));
                    largest = std::max(largest, std::abs(dc[k]));
                }
            }
        }
        CHECK(largest > 1e-3);
        CHECK(worst < 1e-13 * largest);
    }
}

TEST_CASE("lambda=1 runtime-nmax kernels (nmax 5) agree with the compile-time ones (nmax 6) on embedded coefficients") {
    // nmax 5 is not in dispatch_radial's compile-time list. Coefficients of nmax 5, padded with zeros at n = 5, give
    // the nmax 6 features on the n1, n2 < 5 entries and zeros elsewhere (so the same norm), and the adjoints of
    // g padded with zeros are the padded adjoints.
    std::mt19937 rng(21);
    std::normal_distribution<double> gauss;
    SoapHypers h5;
    h5.species = {8, 22, 56};
    h5.max_angular = 4;
    h5.max_radial = 5;
    SoapHypers h6 = h5;
    h6.max_radial = 6;
    for (bool inversion : {true, false}) {
        CAPTURE(inversion);
        const Lambda1Features f5(h5, inversion), f6(h6, inversion);
        const int npairs = static_cast<int>(f5.angular_pairs().size());
        const int nlm = 25, ns = 3, nkeys = 6, S5 = ns * nlm * 5, S6 = ns * nlm * 6;
        auto coeff6 = [](int k5) { return k5 / 5 * 6 + k5 % 5; };  // (species, lm, n) index of nmax 5 -> nmax 6
        auto triplet6 = [&](int q5) {
            const int p = q5 % npairs, n2 = q5 / npairs % 5, n1 = q5 / npairs / 5 % 5, key = q5 / npairs / 25;
            return ((key * 6 + n1) * 6 + n2) * npairs + p;
        };
        REQUIRE(f5.triplets() == nkeys * 25 * npairs);
        std::vector<double> c5(S5), c6(S6, 0.0), x5(f5.size()), x6(f6.size()), g5(f5.size()), g6(f6.size(), 0.0);
        std::vector<double> u5(f5.triplets()), u6(f6.triplets(), 0.0), dc5(S5), dc6(S6), dm5(3 * S5), dm6(3 * S6);
        std::vector<double> work(std::max(S6, f6.size()));
        for (int k = 0; k < S5; ++k) c6[coeff6(k)] = c5[k] = gauss(rng);
        for (int q = 0; q < f5.triplets(); ++q) {
            u6[triplet6(q)] = u5[q] = gauss(rng);
            for (int a = 0; a < 3; ++a) g6[3 * triplet6(q) + a] = g5[3 * q + a] = gauss(rng);
        }
        const double norm5 = f5.compute(c5.data(), x5.data()), norm6 = f6.compute(c6.data(), x6.data());
        CHECK(norm5 == doctest::Approx(norm6).epsilon(1e-14));
        double dev_x = 0.0, largest_x = 0.0;
        for (int q = 0; q < f5.triplets(); ++q)
            for (int a = 0; a < 3; ++a) {
                dev_x = std::max(dev_x, std::abs(x5[3 * q + a] - x6[3 * triplet6(q) + a]));
                largest_x = std::max(largest_x, std::abs(x5[3 * q + a]));
            }
        f5.backpropagate(c5.data(), x5.data(), norm5, g5.data(), dc5.data(), work.data());
        f6.backpropagate(c6.data(), x6.data(), norm6, g6.data(), dc6.data(), work.data());
        f5.backpropagate_vector(c5.data(), x5.data(), norm5, u5.data(), dm5.data(), work.data());
        f6.backpropagate_vector(c6.data(), x6.data(), norm6, u6.data(), dm6.data(), work.data());
        double dev_dc = 0.0, largest_dc = 0.0, dev_dm = 0.0, largest_dm = 0.0;
        for (int k = 0; k < S5; ++k) {
            dev_dc = std::max(dev_dc, std::abs(dc5[k] - dc6[coeff6(k)]));
            largest_dc = std::max(largest_dc, std::abs(dc5[k]));
            for (int a = 0; a < 3; ++a) {
                dev_dm = std::max(dev_dm, std::abs(dm5[a * S5 + k] - dm6[a * S6 + coeff6(k)]));
                largest_dm = std::max(largest_dm, std::abs(dm5[a * S5 + k]));
            }
        }
        CHECK(largest_x > 1e-3);
        CHECK(largest_dc > 1e-3);
        CHECK(largest_dm > 1e-3);
        CHECK(dev_x < 1e-14 * largest_x);
        CHECK(dev_dc < 1e-13 * largest_dc);
        CHECK(dev_dm < 1e-13 * largest_dm);
    }
}

TEST_CASE("contract: m = T(c) u and dm/dc without forming T equal the feature path (unnormalized; nmax 6 and 5)") {
    const auto fixture = read_lambda1_fixture("small_invFalse");
    std::mt19937 rng(29);
    std::normal_distribution<double> gauss;
    for (int nmax : {6, 5}) {  // 6: compile-time kernels; 5: the runtime-nmax ones
        for (bool inversion : {true, false}) {
            CAPTURE(nmax);
            CAPTURE(inversion);
            SoapHypers h = lambda1_hypers(fixture);
            h.normalize = false;
            h.max_radial = nmax;
            const SphericalExpansion expansion(h, RadialMode::Spline);
            const Lambda1Features lambda1(h, inversion);
            const CentreData d = centre_data(fixture_structure(fixture, "bto_40atom_triclinic"), expansion, lambda1);
            const int S = expansion.size(), Q = lambda1.triplets();
            std::vector<double> u(Q), dm_features(3 * S), dm_contracted(3 * S), work(std::max(S, lambda1.size()));
            for (double& v : u) v = gauss(rng);
            double dev_m = 0.0, largest_m = 0.0, dev_dm = 0.0, largest_dm = 0.0;
            for (int i : {0, 1, 7, 20}) {
                const double* c = d.coefficients.row(i).data();
                const double* x = d.features.row(i).data();
                Eigen::Vector3d m_features = Eigen::Vector3d::Zero();
                for (int q = 0; q < Q; ++q)
                    for (int a = 0; a < 3; ++a) m_features[a] += x[3 * q + a] * u[q];
                const Eigen::Vector3d m_only = lambda1.contract(c, u.data());
                const Eigen::Vector3d m_with = lambda1.contract_with_gradient(c, u.data(), dm_contracted.data());
                lambda1.backpropagate_vector(c, x, d.norms[i], u.data(), dm_features.data(), work.data());
                dev_m = std::max({dev_m, (m_only - m_features).cwiseAbs().maxCoeff(),
                                  (m_with - m_features).cwiseAbs().maxCoeff()});
                largest_m = std::max(largest_m, m_features.cwiseAbs().maxCoeff());
                for (int k = 0; k < 3 * S; ++k) {
                    dev_dm = std::max(dev_dm, std::abs(dm_contracted[k] - dm_features[k]));
                    largest_dm = std::max(largest_dm, std::abs(dm_features[k]));
                }
            }
            CHECK(largest_m > 1e-5);  // unnormalized features are small here (|m| ~ 3e-4 to 1e-3)
            CHECK(largest_dm > 1e-3);
            CHECK(dev_m < 1e-13 * largest_m);
            CHECK(dev_dm < 1e-13 * largest_dm);
        }
    }
}

TEST_CASE("contract refuses normalized features (m is not bilinear in c then)") {
    const auto fixture = read_lambda1_fixture("small_invFalse");
    SoapHypers h = lambda1_hypers(fixture);
    h.normalize = true;
    const Lambda1Features lambda1(h, true);
    const SphericalExpansion expansion(h, RadialMode::Spline);
    std::vector<double> c(expansion.size(), 0.1), u(lambda1.triplets(), 1.0), dm(3 * expansion.size());
    CHECK_THROWS_AS(lambda1.contract(c.data(), u.data()), std::logic_error);
    CHECK_THROWS_AS(lambda1.contract_with_gradient(c.data(), u.data(), dm.data()), std::logic_error);
}
