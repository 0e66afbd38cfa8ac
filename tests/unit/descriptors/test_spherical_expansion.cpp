// The spherical expansion on its own: its adjoint (backpropagate + scatter_pair_gradients) against finite
// differences of E = sum_i u_i . c_i in every atom position and in a triclinic strain, and its symmetries
// (c rotates as a spherical tensor so the power spectrum is rotation invariant; translations, lattice shifts and
// permutations of atoms or of neighbour entries leave c unchanged).

#include "deformed_structures.hpp"
#include "finite_difference.hpp"
#include "models/core/matrix.hpp"
#include "models/descriptors/gradient_scatter.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/descriptors/spherical_expansion.hpp"
#include "models/descriptors/spherical_harmonics.hpp"

#include <doctest/doctest.h>
#include <Eigen/Dense>
#include <Eigen/Geometry>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace gapd;
using namespace gapd::testing;

namespace {

// The paper's hypers: rc 5.5 Å, nmax 8, lmax 6, sigma 0.5 Å, RadialScaling c = 1, r0 = 3.5 Å, m = 4, w = 0.5 Å
// (the SoapHypers defaults), species O, Ti, Ba.
SoapHypers paper_hypers() {
    SoapHypers h;
    h.species = {8, 22, 56};
    return h;
}

// 5-atom BaTiO3 perovskite (a = 4 Å, cubic cell) with Gaussian noise on the positions.
Structure noisy_perovskite(unsigned seed, double noise = 0.1) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g(0.0, noise);
    const double frac[5][3] = {{0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    Structure s;
    s.cell = 4.0 * Eigen::Matrix3d::Identity();
    s.positions.resize(5, 3);
    for (int i = 0; i < 5; ++i)
        for (int a = 0; a < 3; ++a) s.positions(i, a) = 4.0 * frac[i][a] + g(rng);
    s.numbers = {56, 22, 8, 8, 8};
    return s;
}

// Two atoms (Ti, O) in a triclinic cell with lattice vectors of 2.3-2.6 Å: every atom has ~40 images of itself
// and ~40 of the other inside rc = 5.5 Å.
Structure tiny_triclinic_cell() {
    Structure s;
    s.cell << 2.4, 0.0, 0.0, 0.5, 2.3, 0.0, -0.3, 0.4, 2.6;
    s.positions.resize(2, 3);
    s.positions << 0.1, -0.05, 0.2, 1.3, 1.1, 1.25;
    s.numbers = {22, 8};
    return s;
}

// A non-periodic Ti-O-O cluster plus a Ba atom 9 Å away from all of them: Ba has no neighbours at all and no
// centre has a Ba neighbour; hypers that also know Sr (38), which does not occur.
Structure cluster_with_isolated_atom() {
    Structure s;
    s.pbc = {{false, false, false}};
    s.positions.resize(4, 3);
    s.positions << 0.0, 0.0, 0.0, 1.9, 0.2, -0.1, -0.3, 2.05, 0.15, 9.0, 9.0, 9.0;
    s.numbers = {22, 8, 8, 56};
    return s;
}

// Random dE/dc for every centre: one unit vector per centre.
RowMatrix random_weights(int centres, int size, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g;
    RowMatrix u(centres, size);
    for (int i = 0; i < centres; ++i) {
        for (int k = 0; k < size; ++k) u(i, k) = g(rng);
        u.row(i).normalize();
    }
    return u;
}

// c_i of every centre (one row each).
RowMatrix coefficients(const SphericalExpansion& ex, const Structure& s) {
    const NeighbourList nl = build_neighbour_list(s, ex.hypers().cutoff.cutoff);
    const std::vector<int> species_of = ex.species_map().indices(s.numbers);
    RowMatrix c(static_cast<int>(s.size()), ex.size());
    ExpansionScratch scratch = ex.make_scratch();
    for (int i = 0; i < static_cast<int>(s.size()); ++i) ex.compute(nl, species_of, i, c.row(i).data(), scratch);
    return c;
}

// E = sum_i u_i . c_i(s).
double projected(const SphericalExpansion& ex, const Structure& s, const RowMatrix& u) {
    return coefficients(ex, s).cwiseProduct(u).sum();
}

struct Gradients {
    Matrix3N atoms;         // dE/dr_k
    Eigen::Matrix3d strain; // dE/d(eps)
    std::size_t pairs = 0, self_images = 0;  // neighbour entries; those that are images of their own centre
};

// dE/dr and dE/d(eps) of E = sum_i u_i . c_i: backpropagate per centre into one pair-gradient array, then the
// library's scatter.
Gradients analytic_gradients(const SphericalExpansion& ex, const Structure& s, const RowMatrix& u) {
    const NeighbourList nl = build_neighbour_list(s, ex.hypers().cutoff.cutoff);
    const std::vector<int> species_of = ex.species_map().indices(s.numbers);
    std::vector<double> pair(3 * nl.size(), std::nan(""));  // every entry must be written
    ExpansionScratch scratch = ex.make_scratch();
    for (int i = 0; i < static_cast<int>(s.size()); ++i)
        ex.backpropagate(nl, species_of, i, u.row(i).data(), pair.data(), scratch);
    Gradients g;
    g.atoms = Matrix3N::Zero(s.size(), 3);
    g.strain.setZero();
    g.pairs = nl.size();
    for (std::size_t i = 0; i < s.size(); ++i)
        for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e)
            if (nl.neighbour[e] == static_cast<int>(i)) ++g.self_images;
    scatter_pair_gradients(nl, pair.data(), [&](int k, int b) -> double& { return g.atoms(k, b); }, g.strain);
    return g;
}

// max(m, d) that keeps a NaN d visible (std::max(m, NaN) returns m).
double worse(double m, double d) { return std::isnan(d) ? HUGE_VAL : std::max(m, d); }

struct FdErrors {
    double atoms = 0.0, strain = 0.0, scale = 0.0;
};

// Largest |analytic - FD| over every atom coordinate and every strain component. Fourth-order central
// differences (finite_difference.hpp) with step h_pos (Å) for positions and h_strain for the strain.
FdErrors fd_errors(const SphericalExpansion& ex, const Structure& s0, const RowMatrix& u, const Gradients& g,
                   double h_pos, double h_strain) {
    FdErrors e;
    for (int k = 0; k < static_cast<int>(s0.size()); ++k)
        for (int a = 0; a < 3; ++a) {
            const double fd = derivative(
                [&](double step) {
                    Structure s = s0;
                    s.positions(k, a) += step;
                    return projected(ex, s, u);
                },
                h_pos);
            e.atoms = worse(e.atoms, std::abs(fd - g.atoms(k, a)));
        }
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            const double fd = derivative(
                [&](double step) {
                    Eigen::Matrix3d eps = Eigen::Matrix3d::Zero();
                    eps(a, b) = step;
                    return projected(ex, strained(s0, eps), u);
                },
                h_strain);
            e.strain = worse(e.strain, std::abs(fd - g.strain(a, b)));
        }
    e.scale = std::max(g.atoms.cwiseAbs().maxCoeff(), g.strain.cwiseAbs().maxCoeff());
    return e;
}

struct Case {
    std::string name;
    SoapHypers hypers;
    RadialMode mode;
    Structure structure;
};

// The smooth cutoff is only C1: its second derivative jumps at rc - w and at rc (librascal's
// 0.5 (1 + cos(pi (r - rc + w) / w)) switch, with both cutoff kinds). A finite-difference stencil that moves a pair
// distance across one of these points has an error ~ h |jump of f''| ~ h (pi/w)^2 / 2 |M Y|, 1e-8-1e-6 here,
// which says nothing about the adjoint. The FD structures therefore keep every pair distance (also those just
// outside rc) at least kKinkMargin away from both points: a position step of 2h = 2e-3 Å moves a distance by at
// most 2e-3 Å, a strain step of 2h = 2e-4 by at most 2e-4 * rc = 1.1e-3 Å.
constexpr double kPositionStep = 1e-3, kStrainStep = 1e-4, kKinkMargin = 2.5e-3;

double kink_margin(const Structure& s, const CutoffParams& p) {
    const NeighbourList nl = build_neighbour_list(s, p.cutoff + 0.1);
    double margin = HUGE_VAL;
    for (std::size_t e = 0; e < nl.size(); ++e) {
        const double r = nl.vectors.row(e).norm();
        margin = std::min({margin, std::abs(r - p.cutoff), std::abs(r - (p.cutoff - p.smooth_width))});
    }
    return margin;
}

// The first noisy perovskite from `seed` on whose pair distances are clear of the cutoff's kinks.
template <class Make>
Structure clear_of_kinks(Make make, unsigned seed, const CutoffParams& p) {
    for (unsigned k = seed; k < seed + 200; ++k) {
        Structure s = make(k);
        if (kink_margin(s, p) > kKinkMargin) return s;
    }
    throw std::runtime_error("no structure clear of the cutoff kinks");
}

std::vector<Case> derivative_cases() {
    std::vector<Case> cases;
    const SoapHypers paper = paper_hypers();
    const CutoffParams& p = paper.cutoff;  // rc and w are the same in every case
    const auto cubic = [](unsigned seed) { return noisy_perovskite(seed); };
    const auto triclinic = [](unsigned seed) { return skewed_small_cell(noisy_perovskite(seed)); };
    cases.push_back({"cubic perovskite, paper hypers, Spline, RadialScaling", paper, RadialMode::Spline,
                     clear_of_kinks(cubic, 1, p)});
    cases.push_back({"triclinic sub-cutoff perovskite, paper hypers, Spline, RadialScaling", paper,
                     RadialMode::Spline, clear_of_kinks(triclinic, 100, p)});
    SoapHypers cosine = paper;
    cosine.cutoff.kind = CutoffKind::ShiftedCosine;
    cases.push_back({"triclinic perovskite, paper hypers, Spline, ShiftedCosine", cosine, RadialMode::Spline,
                     clear_of_kinks(triclinic, 200, p)});
    cases.push_back({"2-atom 2.4 Å triclinic cell (self images), paper hypers, Spline", paper, RadialMode::Spline,
                     tiny_triclinic_cell()});
    // Exact 1F1 costs ~60 us per pair at nmax 8, lmax 6: smaller basis so the FD loop stays fast.
    SoapHypers exact = paper;
    exact.max_radial = 4;
    exact.max_angular = 3;
    cases.push_back({"triclinic perovskite, nmax 4 lmax 3, Exact, RadialScaling", exact, RadialMode::Exact,
                     clear_of_kinks(triclinic, 300, p)});
    exact.cutoff.kind = CutoffKind::ShiftedCosine;
    cases.push_back({"cubic perovskite, nmax 4 lmax 3, Exact, ShiftedCosine", exact, RadialMode::Exact,
                     clear_of_kinks(cubic, 400, p)});
    // nmax 5 has no compile-time kernel (runtime-n path); Sr is known but absent, Ba has no neighbours.
    SoapHypers odd = paper;
    odd.max_radial = 5;
    odd.max_angular = 4;
    odd.species = {8, 22, 38, 56};
    cases.push_back({"cluster with an isolated Ba and an absent species, nmax 5, Spline", odd, RadialMode::Spline,
                     cluster_with_isolated_atom()});
    return cases;
}

// Real Wigner matrix of one l: Y_l(R v) = D Y_l(v) for every unit vector v, from a least-squares fit over random
// directions (the harmonics are exact to round-off, so D is too).
Eigen::MatrixXd real_wigner_d(const SphericalHarmonics& sh, int l, const Eigen::Matrix3d& R, std::mt19937& rng) {
    const int L = sh.max_angular(), nlm = (L + 1) * (L + 1), k = 4 * (2 * l + 1);
    std::normal_distribution<double> g;
    Eigen::MatrixXd A(k, 2 * l + 1), B(k, 2 * l + 1);
    std::vector<double> Y(nlm), YR(nlm);
    for (int row = 0; row < k; ++row) {
        const Eigen::Vector3d v(g(rng), g(rng), g(rng));
        const Eigen::Vector3d w = R * v;
        sh.compute(v.data(), Y.data(), nullptr);
        sh.compute(w.data(), YR.data(), nullptr);
        for (int m = 0; m < 2 * l + 1; ++m) {
            A(row, m) = Y[l * l + m];
            B(row, m) = YR[l * l + m];
        }
    }
    // A D^T = B
    return A.colPivHouseholderQr().solve(B).transpose();
}

Structure rotated_structure(Structure s, const Eigen::Matrix3d& R) {
    s.positions = s.positions * R.transpose();
    s.cell = s.cell * R.transpose();
    return s;
}

}  // namespace

TEST_CASE("spherical expansion adjoint: positions and strain against finite differences") {
    // Steps (kPositionStep, kStrainStep above): positions h = 1e-3 Å, strain h = 1e-4 (a displacement of up to
    // 5.5e-4 Å), with the fourth-order stencil of finite_difference.hpp. Its truncation error is
    // ~h^4 |d^5E/dr^5| / 30 with |d^5E| ~ |dE| / sigma^4 ~ 16 |dE| (Gaussians of width sigma = 0.5 Å), so
    // ~1e-12 |dE|; the round-off is ~eps sum|terms| / h ~ 1e-16 * 5 / 1e-3 ~ 5e-13 (1e-4 for the strain:
    // ~5e-12). The quintic-Hermite spline is C2 with a consistent derivative, so Spline and Exact behave alike.
    // Measured worst: 3e-13 (positions), 1.2e-12 (strain), for |dE/dr| ~ 0.01-0.1. Bound 1e-10 (absolute):
    // ~100x that, still 100x below what a stencil straddling a cutoff kink gives (1e-8 and up, see above), and
    // 1e6x below a missing or wrong-signed term.
    std::ostringstream summary;
    for (const Case& cs : derivative_cases()) {
        CAPTURE(cs.name);
        const SphericalExpansion ex(cs.hypers, cs.mode);
        const Structure& s0 = cs.structure;
        const RowMatrix u = random_weights(static_cast<int>(s0.size()), ex.size(), 11);
        const Gradients g = analytic_gradients(ex, s0, u);
        CHECK(g.pairs > 0);
        REQUIRE(g.atoms.allFinite());  // backpropagate wrote every entry of its centre
        REQUIRE(g.strain.allFinite());
        REQUIRE(kink_margin(s0, cs.hypers.cutoff) > kKinkMargin);
        const FdErrors e = fd_errors(ex, s0, u, g, kPositionStep, kStrainStep);
        if (cs.name.find("self images") != std::string::npos) CHECK(g.self_images > 0);
        summary << "\n  " << cs.name << ": " << g.pairs << " pairs (" << g.self_images << " self images), max |dE/dr|, |dE/deps| " << e.scale
                << ", FD error positions " << e.atoms << ", strain " << e.strain;
        CHECK(e.scale > 1e-3);  // the check is not vacuous
        CHECK(e.atoms < 1e-10);
        CHECK(e.strain < 1e-10);
        // Translation invariance of every c_i: the atom gradients sum to zero (round-off of ~300 pair terms).
        CHECK(g.atoms.colwise().sum().cwiseAbs().maxCoeff() < 1e-12);
    }
    MESSAGE("expansion adjoint vs finite differences:" << summary.str());
}

TEST_CASE("spherical expansion adjoint: an atom without neighbours and an absent species") {
    const Case cs = derivative_cases().back();
    const SphericalExpansion ex(cs.hypers, cs.mode);
    const Structure& s = cs.structure;
    const RowMatrix c = coefficients(ex, s);
    const int block = (ex.hypers().max_angular + 1) * (ex.hypers().max_angular + 1) * ex.hypers().max_radial;
    const int sr = ex.species_index(38), ba = ex.species_index(56);
    REQUIRE(sr >= 0);
    REQUIRE(ba >= 0);
    // Nobody has a Sr or a Ba neighbour: those blocks are zero, except the centre's own Gaussian for the Ba centre.
    for (int i = 0; i < static_cast<int>(s.size()); ++i) {
        CHECK(c.row(i).segment(sr * block, block).cwiseAbs().maxCoeff() == 0.0);
        if (s.numbers[i] != 56) CHECK(c.row(i).segment(ba * block, block).cwiseAbs().maxCoeff() == 0.0);
    }
    // The isolated Ba: only its l = 0 centre term, identical for any position of the atom.
    const int iba = 3;
    const RowMatrix u = random_weights(static_cast<int>(s.size()), ex.size(), 5);
    const Gradients g = analytic_gradients(ex, s, u);
    CHECK(g.atoms.row(iba).cwiseAbs().maxCoeff() == 0.0);
    Structure moved = s;
    moved.positions.row(iba) += Eigen::RowVector3d(0.3, -0.2, 0.1);
    CHECK((coefficients(ex, moved).row(iba) - c.row(iba)).cwiseAbs().maxCoeff() == 0.0);
    // Weights on the Sr block (which never appears) change no gradient at all.
    RowMatrix u_sr = u;
    u_sr.block(0, sr * block, u.rows(), block).setRandom();
    const Gradients g_sr = analytic_gradients(ex, s, u_sr);
    CHECK((g_sr.atoms - g.atoms).cwiseAbs().maxCoeff() == 0.0);
    CHECK((g_sr.strain - g.strain).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("spherical expansion: c rotates as a spherical tensor, so the power spectrum is rotation invariant") {
    const SoapHypers h = paper_hypers();
    const SphericalExpansion ex(h, RadialMode::Spline);
    const PowerSpectrum ps(h);
    const SphericalHarmonics sh(h.max_angular);
    const int N = h.max_radial, L = h.max_angular, nlm = (L + 1) * (L + 1);
    std::mt19937 rng(17);
    std::normal_distribution<double> gauss;
    for (const Structure& s0 : {skewed_small_cell(noisy_perovskite(6)), tiny_triclinic_cell()}) {
        const RowMatrix c0 = coefficients(ex, s0);
        for (int trial = 0; trial < 2; ++trial) {
            const Eigen::Matrix3d R =
                Eigen::Quaterniond(gauss(rng), gauss(rng), gauss(rng), gauss(rng)).normalized().toRotationMatrix();
            const RowMatrix c1 = coefficients(ex, rotated_structure(s0, R));
            // c^a_{n l m}(R s) = sum_m' D^l_{m m'} c^a_{n l m'}(s)
            double worst_tensor = 0.0, moved = 0.0;
            for (int l = 0; l <= L; ++l) {
                const Eigen::MatrixXd D = real_wigner_d(sh, l, R, rng);
                CHECK((D * D.transpose() - Eigen::MatrixXd::Identity(2 * l + 1, 2 * l + 1)).cwiseAbs().maxCoeff() <
                      1e-12);
                for (int i = 0; i < c0.rows(); ++i)
                    for (int a = 0; a < ex.species_count(); ++a) {
                        // rows m, columns n of the (a, l) block
                        const int off = (a * nlm + l * l) * N;
                        const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
                            b0(c0.row(i).data() + off, 2 * l + 1, N), b1(c1.row(i).data() + off, 2 * l + 1, N);
                        worst_tensor = worse(worst_tensor, (b1 - D * b0).cwiseAbs().maxCoeff());
                        if (l > 0) moved = worse(moved, (b1 - b0).cwiseAbs().maxCoeff());
                    }
            }
            CHECK(worst_tensor < 1e-12);
            CHECK(moved > 1e-3);  // the rotation does change the l > 0 coefficients
            // Normalized power spectrum of every centre: invariant.
            RowMatrix x0(c0.rows(), ps.size()), x1(c0.rows(), ps.size());
            for (int i = 0; i < c0.rows(); ++i) {
                ps.compute(c0.row(i).data(), x0.row(i).data());
                ps.compute(c1.row(i).data(), x1.row(i).data());
            }
            CHECK((x1 - x0).cwiseAbs().maxCoeff() < 1e-12);
        }
    }
}

TEST_CASE("spherical expansion: translations, lattice shifts and permutations leave c unchanged") {
    const SoapHypers h = paper_hypers();
    const SphericalExpansion ex(h, RadialMode::Spline);
    const Structure s0 = skewed_small_cell(noisy_perovskite(7));
    const RowMatrix c0 = coefficients(ex, s0);
    std::mt19937 rng(23);

    SUBCASE("rigid translation and unwrapped atoms") {
        Structure s = s0;
        for (int i = 0; i < static_cast<int>(s.size()); ++i) {
            s.positions.row(i) += Eigen::RowVector3d(0.37, -1.1, 2.3);
            s.positions.row(i) += (i % 3 - 1) * s.cell.row(i % 3);
        }
        CHECK((coefficients(ex, s) - c0).cwiseAbs().maxCoeff() < 1e-12);
    }
    SUBCASE("permutation of the atoms") {
        std::vector<int> order(s0.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        std::shuffle(order.begin(), order.end(), rng);
        const Structure s = testing::permuted(s0, order);
        const RowMatrix c = coefficients(ex, s);
        for (std::size_t i = 0; i < order.size(); ++i) CHECK((c.row(i) - c0.row(order[i])).cwiseAbs().maxCoeff() < 1e-12);
    }
    SUBCASE("permutation of the neighbour entries of each centre: same c, pair gradients permuted alike") {
        const NeighbourList nl = build_neighbour_list(s0, h.cutoff.cutoff);
        const std::vector<int> species_of = ex.species_map().indices(s0.numbers);
        NeighbourList shuffled = nl;
        std::vector<std::size_t> source(nl.size());  // entry e of `shuffled` is entry source[e] of `nl`
        for (std::size_t e = 0; e < nl.size(); ++e) source[e] = e;
        for (std::size_t i = 0; i < s0.size(); ++i)
            std::shuffle(source.begin() + nl.offsets[i], source.begin() + nl.offsets[i + 1], rng);
        for (std::size_t e = 0; e < nl.size(); ++e) {
            shuffled.neighbour[e] = nl.neighbour[source[e]];
            shuffled.vectors.row(e) = nl.vectors.row(source[e]);
        }
        const RowMatrix u = random_weights(static_cast<int>(s0.size()), ex.size(), 3);
        ExpansionScratch scratch = ex.make_scratch();
        std::vector<double> c(ex.size()), pair(3 * nl.size()), pair_shuffled(3 * nl.size());
        double worst_c = 0.0, worst_g = 0.0;
        for (int i = 0; i < static_cast<int>(s0.size()); ++i) {
            ex.compute(shuffled, species_of, i, c.data(), scratch);
            for (int k = 0; k < ex.size(); ++k) worst_c = worse(worst_c, std::abs(c[k] - c0(i, k)));
            ex.backpropagate(nl, species_of, i, u.row(i).data(), pair.data(), scratch);
            ex.backpropagate(shuffled, species_of, i, u.row(i).data(), pair_shuffled.data(), scratch);
        }
        for (std::size_t e = 0; e < nl.size(); ++e)
            for (int a = 0; a < 3; ++a)
                worst_g = worse(worst_g, std::abs(pair_shuffled[3 * e + a] - pair[3 * source[e] + a]));
        CHECK(worst_c < 1e-12);
        CHECK(worst_g == 0.0);  // each entry's gradient depends on that entry only
    }
}

TEST_CASE("spherical expansion: backpropagate_many gives each right-hand side exactly what backpropagate gives") {
    // The dipole path's three components share one pass over the neighbours; each must be the single-rhs adjoint
    // bit for bit (same operations), for every derivative case (cells smaller than the cutoff included).
    for (const Case& cs : derivative_cases()) {
        CAPTURE(cs.name);
        const SphericalExpansion ex(cs.hypers, cs.mode);
        const Structure& s = cs.structure;
        const NeighbourList nl = build_neighbour_list(s, cs.hypers.cutoff.cutoff);
        std::vector<int> species_of;
        for (int z : s.numbers) species_of.push_back(ex.species_index(z));
        const int S = ex.size();
        const RowMatrix dQ = random_weights(3, S, 17);  // rows: three right-hand sides of one centre
        ExpansionScratch scratch = ex.make_scratch();
        std::vector<std::vector<double>> single(3, std::vector<double>(3 * nl.size(), -1.0));
        std::vector<std::vector<double>> many(3, std::vector<double>(3 * nl.size(), -2.0));
        double* const many_out[3] = {many[0].data(), many[1].data(), many[2].data()};
        double largest = 0.0;
        std::size_t mismatches = 0;
        for (int i = 0; i < static_cast<int>(s.size()); ++i) {
            for (int k = 0; k < 3; ++k)
                ex.backpropagate(nl, species_of, i, dQ.row(k).data(), single[k].data(), scratch);
            ex.backpropagate_many(nl, species_of, i, dQ.data(), 3, many_out, scratch);
            for (int k = 0; k < 3; ++k)
                for (std::size_t e = 3 * nl.offsets[i]; e < 3 * nl.offsets[i + 1]; ++e) {
                    mismatches += many[k][e] != single[k][e];
                    largest = std::max(largest, std::abs(single[k][e]));
                }
        }
        CHECK(mismatches == 0);
        CHECK(largest > 1e-3);
    }
}
