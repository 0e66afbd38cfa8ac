// A dipole model on unnormalized lambda=1 features (hypers.normalize = false, the default model's choice) is
// smooth where symmetry pins the dipole: at an inversion centre every partial dipole is zero, and it grows
// linearly with small displacements, with the Born charges as slope. (Features divided by their own norm become
// unit vectors of arbitrary direction there: docs/dipoles.md, "Normalization".)

#include "finite_difference.hpp"
#include "models/dipoles/dipole_calculator.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace gapd;

namespace {

// 2x2x2 BaTiO3, a = 4.0 Å, every Ti (and, following it, the O cage in the opposite direction) displaced by
// `u` (Å): u = 0 cubic, along [001] tetragonal, [011] orthorhombic, [111] rhombohedral symmetry.
Structure perovskite(const Eigen::Vector3d& u) {
    const double a = 4.0;
    const double basis[5][3] = {{0, 0, 0}, {.5, .5, .5}, {.5, .5, 0}, {.5, 0, .5}, {0, .5, .5}};
    const int z[5] = {56, 22, 8, 8, 8};
    Structure s;
    s.cell = 2 * a * Eigen::Matrix3d::Identity();
    s.positions.resize(40, 3);
    int k = 0;
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j)
            for (int l = 0; l < 2; ++l)
                for (int b = 0; b < 5; ++b, ++k) {
                    const Eigen::Vector3d r = a * (Eigen::Vector3d(i, j, l) + Eigen::Vector3d(basis[b][0], basis[b][1], basis[b][2]));
                    const Eigen::Vector3d shift = (z[b] == 22 ? 1.0 : z[b] == 8 ? -0.4 : 0.0) * u;
                    s.positions.row(k) = (r + shift).transpose();
                    s.numbers.push_back(z[b]);
                }
    return s;
}

// Unnormalized lambda=1 features, sparse points taken from randomly distorted cells, random weights.
DipoleModel unnormalized_model(DipoleKernel kernel) {
    DipoleModel m;
    m.hypers.normalize = false;
    m.kernel = kernel;
    m.zeta = 3;
    std::mt19937 rng(5);
    std::normal_distribution<double> g(0.0, 1.0);
    Structure s = perovskite(Eigen::Vector3d(0.05, -0.03, 0.08));
    for (Eigen::Index i = 0; i < s.positions.rows(); ++i)
        for (int a = 0; a < 3; ++a) s.positions(i, a) += 0.1 * g(rng);
    DipoleModel features_only = m;
    features_only.kernel = DipoleKernel::Linear;
    const DipoleCalculator f(features_only, RadialMode::Spline);
    const RowMatrix A = f.features(s), X = f.scalar_features(s);
    for (int z : m.hypers.species) {
        DipoleSparseSet set;
        set.species = z;
        std::vector<int> rows;
        for (int i = 0; i < static_cast<int>(s.size()); ++i)
            if (s.numbers[i] == z && rows.size() < 4) rows.push_back(i);
        set.points.resize(static_cast<Eigen::Index>(rows.size()), A.cols());
        set.weights.resize(static_cast<Eigen::Index>(rows.size()), 3);
        if (kernel == DipoleKernel::LinearTimesScalar) set.scalar_points.resize(static_cast<Eigen::Index>(rows.size()), X.cols());
        for (std::size_t j = 0; j < rows.size(); ++j) {
            set.points.row(j) = A.row(rows[j]);
            if (kernel == DipoleKernel::LinearTimesScalar) set.scalar_points.row(j) = X.row(rows[j]);
            for (int b = 0; b < 3; ++b) set.weights(j, b) = g(rng);
        }
        m.sparse.push_back(std::move(set));
    }
    return m;
}

}  // namespace

TEST_CASE("unnormalized lambda=1 dipoles: zero at inversion centres, translation invariant, linear response = BEC") {
    for (DipoleKernel kernel : {DipoleKernel::Linear, DipoleKernel::LinearTimesScalar}) {
        const DipoleCalculator calc(unnormalized_model(kernel), RadialMode::Spline);
        CAPTURE(static_cast<int>(kernel));

        // Ideal cubic cell: every site is an inversion centre.
        const Structure cubic = perovskite(Eigen::Vector3d::Zero());
        const DipolePrediction p0 = calc.compute_with_gradients(cubic);
        CHECK(p0.total.norm() < 1e-12);
        CHECK(p0.partial.cwiseAbs().maxCoeff() < 1e-12);
        Structure moved = cubic;
        moved.positions.rowwise() += Eigen::RowVector3d(0.37, 1.1, -0.6);
        CHECK(calc.compute(moved).total.norm() < 1e-12);
        CHECK(calc.compute(moved).partial.cwiseAbs().maxCoeff() < 1e-12);

        // Cubic and the three polar symmetries: M(x0 + h d) is smooth in h and its slope is the BEC extras'
        // prediction sum_k Z*_k d_k, also at the cubic point where |M(x0)| = 0.
        std::mt19937 rng(9);
        std::normal_distribution<double> g(0.0, 1.0);
        for (const Eigen::Vector3d& dir : {Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(0, 0, 1), Eigen::Vector3d(0, 1, 1),
                                           Eigen::Vector3d(1, 1, 1)}) {
            const Structure s0 = perovskite(0.08 / std::max(1.0, dir.norm()) * dir);
            CAPTURE(dir.transpose());
            const DipolePrediction p = calc.compute_with_gradients(s0);
            Matrix3N d(s0.size(), 3);
            for (Eigen::Index i = 0; i < d.rows(); ++i)
                for (int a = 0; a < 3; ++a) d(i, a) = g(rng);
            Eigen::Vector3d slope = Eigen::Vector3d::Zero();
            for (Eigen::Index k = 0; k < d.rows(); ++k)
                for (int b = 0; b < 3; ++b) slope += p.born_charges.row(3 * k + b).transpose() * d(k, b);
            for (double h : {1e-3, 1e-5}) {
                const Eigen::Vector3d fd = testing::derivative(
                    [&](double step) {
                        Structure s = s0;
                        s.positions += step * d;
                        return Eigen::Vector3d(calc.compute(s).total);
                    },
                    h);
                CHECK((fd - slope).norm() < 1e-6 * (1.0 + slope.norm()));
            }
            // Rigid translation changes nothing.
            Structure t = s0;
            t.positions.rowwise() += Eigen::RowVector3d(-0.21, 0.45, 1.3);
            CHECK((calc.compute(t).total - p.total).norm() < 1e-11 * (1.0 + p.total.norm()));
        }
    }
}
