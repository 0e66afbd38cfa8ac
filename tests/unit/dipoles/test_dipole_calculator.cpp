// SA-GPR dipoles: against an independent evaluation on librascal's lambda=1 features, rotation / translation /
// permutation behaviour, Born effective charges and strain derivatives against finite differences of M,
// the acoustic sum rule, and thread-count independence.

#include "deformed_structures.hpp"
#include "finite_difference.hpp"
#include "lambda1_fixtures.hpp"
#include "models/dipoles/cell_dipoles.hpp"
#include "models/dipoles/dipole_calculator.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/descriptors/spherical_expansion.hpp"

#include <doctest/doctest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <random>

using namespace gapd;
using namespace gapd::testing;

namespace {

const nlohmann::json& fixture() {
    static const nlohmann::json f = read_lambda1_fixture("n6l4rc5.5_invTrue");
    return f;
}

Structure fixture_structure(const std::string& name) { return structure_from_json(fixture().at("structures").at(name)); }

RowMatrix random_weights(int rows, std::mt19937& rng) {
    std::normal_distribution<double> g;
    RowMatrix w(rows, 3);
    for (int j = 0; j < rows; ++j)
        for (int b = 0; b < 3; ++b) w(j, b) = g(rng);
    return w;
}

// The sparse environments of species z: every third atom of that species in s.
std::vector<int> sparse_rows(const Structure& s, int z) {
    std::vector<int> rows;
    int seen = 0;
    for (int i = 0; i < static_cast<int>(s.size()); ++i)
        if (s.numbers[i] == z && seen++ % 3 == 0) rows.push_back(i);
    return rows;
}

// A model whose sparse points are rows `sparse_rows` of the given features of s, with random weights.
DipoleModel model_from(const RowMatrix& features, const RowMatrix& scalar, const Structure& s, DipoleKernel kernel,
                       int zeta, std::mt19937& rng) {
    DipoleModel m;
    m.hypers = lambda1_hypers(fixture());
    m.kernel = kernel;
    m.zeta = zeta;
    for (int z : m.hypers.species) {
        const std::vector<int> rows = sparse_rows(s, z);
        DipoleSparseSet set;
        set.species = z;
        set.points.resize(rows.size(), features.cols());
        for (std::size_t j = 0; j < rows.size(); ++j) set.points.row(j) = features.row(rows[j]);
        if (kernel == DipoleKernel::LinearTimesScalar) {
            set.scalar_points.resize(rows.size(), scalar.cols());
            for (std::size_t j = 0; j < rows.size(); ++j) set.scalar_points.row(j) = scalar.row(rows[j]);
        }
        set.weights = random_weights(static_cast<int>(rows.size()), rng);
        m.sparse.push_back(std::move(set));
    }
    return m;
}

// A model whose sparse points are gapd's own features of the 40-atom fixture atoms.
DipoleModel own_model(DipoleKernel kernel, int zeta, RadialMode mode, unsigned seed) {
    DipoleModel empty;
    empty.hypers = lambda1_hypers(fixture());
    const DipoleCalculator features(empty, mode);
    const Structure s = fixture_structure("bto_40atom_triclinic");
    std::mt19937 rng(seed);
    return model_from(features.features(s), features.scalar_features(s), s, kernel, zeta, rng);
}

// The default model's kind: linear kernel on unnormalized lambda=1 features (the partial dipoles are then a
// bilinear form in the coefficients, evaluated without forming the features). Those features are ~1e-5 of the
// normalized ones, so the weights are scaled up to give Born charges of order one.
DipoleModel unnormalized_linear_model(unsigned seed) {
    DipoleModel empty;
    empty.hypers = lambda1_hypers(fixture());
    empty.hypers.normalize = false;
    const DipoleCalculator features(empty, RadialMode::Spline);
    const Structure s = fixture_structure("bto_40atom_triclinic");
    std::mt19937 rng(seed);
    DipoleModel m = model_from(features.features(s), features.scalar_features(s), s, DipoleKernel::Linear, 1, rng);
    m.hypers.normalize = false;
    for (DipoleSparseSet& set : m.sparse) set.weights *= 1e5;
    return m;
}

struct NamedCalculator {
    std::string name;
    const DipoleCalculator& calc;
};

// The three evaluation paths: linear and linear x scalar on normalized features, linear on unnormalized ones.
std::vector<NamedCalculator> calculators() {
    static const DipoleCalculator linear(own_model(DipoleKernel::Linear, 1, RadialMode::Spline, 1), RadialMode::Spline);
    static const DipoleCalculator scaled(own_model(DipoleKernel::LinearTimesScalar, 3, RadialMode::Spline, 2),
                                         RadialMode::Spline);
    static const DipoleCalculator unnormalized(unnormalized_linear_model(3), RadialMode::Spline);
    return {{"linear", linear}, {"linear x scalar^2", scaled}, {"linear, unnormalized features", unnormalized}};
}

const DipoleCalculator& calculator(DipoleKernel kernel) {
    return calculators()[kernel == DipoleKernel::Linear ? 0 : 1].calc;
}

Eigen::Matrix3d bec_block(const Matrix3N& born, int k) {
    Eigen::Matrix3d m;
    for (int b = 0; b < 3; ++b)
        for (int a = 0; a < 3; ++a) m(b, a) = born(3 * k + b, a);
    return m;
}

std::string kernel_name(DipoleKernel k) { return k == DipoleKernel::Linear ? "linear" : "linear x scalar^2"; }

}  // namespace

TEST_CASE("dipoles on librascal's features: independent loops over the fixture features agree") {
    // The model's sparse points are librascal's own lambda=1 features of fixture atoms; the reference sums
    // K(A_i, J_j) w_j as explicit 3 x 3 blocks over librascal's columns (mu order -1, 0, +1 mapped to
    // (x, y, z) = (T+1, -T-1, T0) right here), while gapd computes its own features (exact radial integrals).
    const SoapHypers h = lambda1_hypers(fixture());
    const SphericalExpansion expansion(h, RadialMode::Exact);
    const PowerSpectrum power_spectrum(h);
    auto power_spectra = [&](const Structure& s) {
        const NeighbourList nl = build_neighbour_list(s, h.cutoff.cutoff);
        std::vector<int> species_of;
        for (int z : s.numbers) species_of.push_back(expansion.species_index(z));
        RowMatrix x(s.size(), power_spectrum.size());
        ExpansionScratch scratch = expansion.make_scratch();
        std::vector<double> c(expansion.size());
        for (int i = 0; i < static_cast<int>(s.size()); ++i) {
            expansion.compute(nl, species_of, i, c.data(), scratch);
            power_spectrum.compute(c.data(), x.row(i).data());
        }
        return x;
    };
    auto librascal_rows = [&](const std::string& name) {
        const auto& f = fixture().at("structures").at(name).at("features");
        RowMatrix r(f.size(), f.at(0).size());
        for (Eigen::Index i = 0; i < r.rows(); ++i)
            for (Eigen::Index k = 0; k < r.cols(); ++k) r(i, k) = f.at(i).at(k).get<double>();
        return r;
    };
    const Structure sparse_structure = fixture_structure("bto_40atom_triclinic");
    const RowMatrix sparse_lib = librascal_rows("bto_40atom_triclinic");
    const RowMatrix sparse_scalar = power_spectra(sparse_structure);
    const RowMatrix sparse_cart = lambda1_fixture_features(fixture().at("structures").at("bto_40atom_triclinic"));
    const int Q = static_cast<int>(sparse_lib.cols()) / 3;
    const int column_of[3] = {2, 0, 1};
    const double sign_of[3] = {1.0, -1.0, 1.0};

    for (DipoleKernel kernel : {DipoleKernel::Linear, DipoleKernel::LinearTimesScalar}) {
        std::mt19937 rng(17);
        const int zeta = 3;
        const DipoleModel model = model_from(sparse_cart, sparse_scalar, sparse_structure, kernel, zeta, rng);
        const DipoleCalculator calc(model, RadialMode::Exact);
        for (const std::string name : {"bto_5atom_cubic", "bto_40atom_triclinic"}) {
            CAPTURE(kernel_name(kernel));
            CAPTURE(name);
            const Structure s = fixture_structure(name);
            const RowMatrix A = librascal_rows(name);
            const RowMatrix x = power_spectra(s);
            Matrix3N mu = Matrix3N::Zero(s.size(), 3);
            for (int i = 0; i < static_cast<int>(s.size()); ++i) {
                for (const DipoleSparseSet& set : model.sparse) {
                    if (set.species != s.numbers[i]) continue;
                    const std::vector<int> rows = sparse_rows(sparse_structure, set.species);
                    for (int j = 0; j < static_cast<int>(set.points.rows()); ++j) {
                        const int j_lib = rows[j];
                        Eigen::Matrix3d k = Eigen::Matrix3d::Zero();
                        for (int q = 0; q < Q; ++q)
                            for (int a = 0; a < 3; ++a)
                                for (int b = 0; b < 3; ++b)
                                    k(a, b) += sign_of[a] * A(i, 3 * q + column_of[a]) * sign_of[b] *
                                               sparse_lib(j_lib, 3 * q + column_of[b]);
                        if (kernel == DipoleKernel::LinearTimesScalar)
                            k *= std::pow(x.row(i).dot(sparse_scalar.row(j_lib)), zeta - 1);
                        mu.row(i) += (k * set.weights.row(j).transpose()).transpose();
                    }
                }
            }
            const DipolePrediction p = calc.compute(s);
            const double dev = (p.partial - mu).cwiseAbs().maxCoeff();
            const double total_dev = (p.total - mu.colwise().sum().transpose()).cwiseAbs().maxCoeff();
            MESSAGE(kernel_name(kernel) << " " << name << ": max |mu - mu_ref| = " << dev << ", |M - M_ref| = "
                                        << total_dev << " (max |mu| " << mu.cwiseAbs().maxCoeff() << ")");
            CHECK(dev < 1e-10);
            CHECK(total_dev < 1e-10);
            CHECK(mu.cwiseAbs().maxCoeff() > 0.1);
        }
    }
}

TEST_CASE("rotations rotate M, partial dipoles and cell dipoles as vectors and the BEC as a rank-2 tensor") {
    std::mt19937 rng(23);
    for (const NamedCalculator& named : calculators()) {
        for (const std::string name : {"bto_5atom_cubic", "bto_40atom_triclinic"}) {
            CAPTURE(named.name);
            CAPTURE(name);
            const DipoleCalculator& calc = named.calc;
            const Structure s0 = fixture_structure(name);
            const DipolePrediction p0 = calc.compute_with_gradients(s0);
            const CellDipoles cells0 = compute_cell_dipoles(s0, p0.partial, CellDipoleRoles{});
            for (int trial = 0; trial < 2; ++trial) {
                const Eigen::Matrix3d R = random_rotation(rng);
                const Structure s = rotated(s0, R);
                const DipolePrediction p = calc.compute_with_gradients(s);
                const CellDipoles cells = compute_cell_dipoles(s, p.partial, CellDipoleRoles{});
                const double total_dev = (p.total - R * p0.total).cwiseAbs().maxCoeff();
                const double partial_dev = (p.partial - p0.partial * R.transpose()).cwiseAbs().maxCoeff();
                const double cell_dev = (cells.dipoles - cells0.dipoles * R.transpose()).cwiseAbs().maxCoeff();
                CHECK(total_dev < 1e-10);
                CHECK(partial_dev < 1e-10);
                CHECK(cell_dev < 1e-10);
                double bec_dev = 0.0;
                for (int k = 0; k < static_cast<int>(s.size()); ++k)
                    bec_dev = std::max(bec_dev, (bec_block(p.born_charges, k) -
                                                 R * bec_block(p0.born_charges, k) * R.transpose())
                                                    .cwiseAbs()
                                                    .maxCoeff());
                CHECK(bec_dev < 1e-10);
                MESSAGE(named.name << " " << name << ": rotation errors M " << total_dev << ", mu " << partial_dev
                                            << ", cell dipoles " << cell_dev << ", BEC " << bec_dev);
                for (int a = 0; a < 3; ++a) {
                    // dM/d(eps) is a rank-3 tensor: T'_abc = R_aa' R_bb' R_cc' T_a'b'c'.
                    Eigen::Matrix3d expected = Eigen::Matrix3d::Zero();
                    for (int a2 = 0; a2 < 3; ++a2)
                        expected += R(a, a2) * R * p0.strain_derivative[a2] * R.transpose();
                    CHECK((p.strain_derivative[a] - expected).cwiseAbs().maxCoeff() < 1e-10);
                }
                // Not trivially satisfied: the rotation changes the vectors.
                CHECK((p.total - p0.total).norm() > 1e-3 * p0.total.norm());
            }
        }
    }
}

TEST_CASE("translations, unwrapped positions and permutations of same-species atoms change nothing") {
    const Structure s0 = fixture_structure("bto_40atom_triclinic");
    std::mt19937 rng(29);
    for (const NamedCalculator& named : calculators()) {
        CAPTURE(named.name);
        const DipoleCalculator& calc = named.calc;
        const DipolePrediction p0 = calc.compute_with_gradients(s0);
        Structure shifted = s0;
        for (int i = 0; i < static_cast<int>(s0.size()); ++i) {
            shifted.positions.row(i) += Eigen::RowVector3d(0.37, -1.1, 2.3);
            shifted.positions.row(i) += (i % 3 - 1) * s0.cell.row(i % 3);
        }
        const DipolePrediction p = calc.compute_with_gradients(shifted);
        CHECK((p.total - p0.total).cwiseAbs().maxCoeff() < 1e-10);
        CHECK((p.partial - p0.partial).cwiseAbs().maxCoeff() < 1e-10);
        CHECK((p.born_charges - p0.born_charges).cwiseAbs().maxCoeff() < 1e-10);

        std::vector<int> order(s0.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        std::shuffle(order.begin(), order.end(), rng);
        Structure permuted = s0;
        for (std::size_t i = 0; i < order.size(); ++i) {
            permuted.positions.row(i) = s0.positions.row(order[i]);
            permuted.numbers[i] = s0.numbers[order[i]];
        }
        const DipolePrediction q = calc.compute_with_gradients(permuted);
        CHECK((q.total - p0.total).cwiseAbs().maxCoeff() < 1e-10);
        double dev = 0.0;
        for (std::size_t i = 0; i < order.size(); ++i) {
            dev = std::max(dev, (q.partial.row(i) - p0.partial.row(order[i])).cwiseAbs().maxCoeff());
            dev = std::max(dev, (bec_block(q.born_charges, i) - bec_block(p0.born_charges, order[i])).cwiseAbs().maxCoeff());
        }
        CHECK(dev < 1e-10);
    }
}

TEST_CASE("Born effective charges and dM/d(strain) against finite differences of M; acoustic sum rule") {
    for (const NamedCalculator& named : calculators()) {
        const DipoleCalculator& calc = named.calc;
        for (const Structure& s0 : {fixture_structure("bto_5atom_cubic"),
                                    skewed_small_cell(fixture_structure("bto_5atom_cubic")),
                                    fixture_structure("bto_40atom_triclinic")}) {
            CAPTURE(named.name);
            CAPTURE(s0.size());
            const DipolePrediction p = calc.compute_with_gradients(s0);
            auto total = [&](const Structure& s) { return calc.compute(s).total; };
            double worst = 0.0, largest = 0.0;
            for (int k = 0; k < static_cast<int>(s0.size()); k += (s0.size() > 10 ? 7 : 1))
                for (int b = 0; b < 3; ++b) {
                    const Eigen::Vector3d fd = derivative(
                        [&](double h) {
                            Structure s = s0;
                            s.positions(k, b) += h;
                            return total(s);
                        },
                        1e-4);
                    worst = std::max(worst, (fd - p.born_charges.row(3 * k + b).transpose()).cwiseAbs().maxCoeff());
                    largest = std::max(largest, fd.cwiseAbs().maxCoeff());
                }
            double strain_worst = 0.0;
            for (int b = 0; b < 3; ++b)
                for (int c = 0; c < 3; ++c) {
                    const Eigen::Vector3d fd = derivative(
                        [&](double h) {
                            Eigen::Matrix3d eps = Eigen::Matrix3d::Zero();
                            eps(b, c) = h;
                            return total(strained(s0, eps));
                        },
                        1e-5);
                    for (int a = 0; a < 3; ++a)
                        strain_worst = std::max(strain_worst, std::abs(fd[a] - p.strain_derivative[a](b, c)));
                }
            // Acoustic sum rule: sum_k dM_a/dr_{k,b} = 0.
            Eigen::Matrix3d sum = Eigen::Matrix3d::Zero();
            for (int k = 0; k < static_cast<int>(s0.size()); ++k) sum += bec_block(p.born_charges, k);
            MESSAGE(named.name << ", " << s0.size() << " atoms: BEC vs FD " << worst << " (largest "
                                        << largest << "), dM/deps vs FD " << strain_worst << ", ASR "
                                        << sum.cwiseAbs().maxCoeff());
            CHECK(worst < 1e-7);
            CHECK(largest > 0.01);
            CHECK(strain_worst < 1e-6);
            CHECK(sum.cwiseAbs().maxCoeff() < 1e-10);
        }
    }
}

#ifdef _OPENMP
TEST_CASE("one and two threads give the same dipoles and Born charges to round-off") {
    Structure s = fixture_structure("bto_40atom_triclinic");
    // 3 x 3 x 1 supercell: 360 atoms, more than one chunk for O.
    Structure big;
    big.cell = s.cell;
    big.cell.row(0) *= 3;
    big.cell.row(1) *= 3;
    big.positions.resize(9 * s.size(), 3);
    for (int u = 0, k = 0; u < 3; ++u)
        for (int v = 0; v < 3; ++v)
            for (int i = 0; i < static_cast<int>(s.size()); ++i, ++k) {
                big.positions.row(k) = s.positions.row(i) + u * s.cell.row(0) + v * s.cell.row(1);
                big.numbers.push_back(s.numbers[i]);
            }
    const int saved = omp_get_max_threads();
    for (const NamedCalculator& named : calculators()) {
        CAPTURE(named.name);
        const DipoleCalculator& calc = named.calc;
        omp_set_num_threads(1);
        const DipolePrediction one = calc.compute_with_gradients(big);
        omp_set_num_threads(2);
        const DipolePrediction two = calc.compute_with_gradients(big);
        omp_set_num_threads(saved);
        MESSAGE(named.name << ": 1 vs 2 threads, M " << (one.total - two.total).cwiseAbs().maxCoeff() << ", mu "
                                    << (one.partial - two.partial).cwiseAbs().maxCoeff() << ", BEC "
                                    << (one.born_charges - two.born_charges).cwiseAbs().maxCoeff());
        CHECK((one.total - two.total).cwiseAbs().maxCoeff() < 1e-12);
        CHECK((one.partial - two.partial).cwiseAbs().maxCoeff() < 1e-12);
        CHECK((one.born_charges - two.born_charges).cwiseAbs().maxCoeff() < 1e-12);
    }
}
#endif

TEST_CASE("baseline: a constant per-species dipole, no Born charge") {
    DipoleModel m = calculator(DipoleKernel::Linear).model();
    const Structure s = fixture_structure("bto_40atom_triclinic");
    const DipolePrediction p0 = DipoleCalculator(m, RadialMode::Spline).compute_with_gradients(s);
    m.baseline[8] = Eigen::Vector3d(0.1, -0.2, 0.3);
    const DipolePrediction p = DipoleCalculator(m, RadialMode::Spline).compute_with_gradients(s);
    CHECK((p.total - p0.total - 24 * m.baseline[8]).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((p.partial.row(2) - p0.partial.row(2) - m.baseline[8].transpose()).cwiseAbs().maxCoeff() < 1e-14);
    CHECK((p.partial.row(1) - p0.partial.row(1)).cwiseAbs().maxCoeff() < 1e-14);
    CHECK((p.born_charges - p0.born_charges).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("dipole model errors name the problem") {
    Structure s = fixture_structure("bto_5atom_cubic");
    s.numbers[0] = 38;
    CHECK_THROWS_WITH_AS(calculator(DipoleKernel::Linear).compute_with_gradients(s), doctest::Contains("atomic number 38"),
                         std::invalid_argument);
    DipoleModel m = calculator(DipoleKernel::LinearTimesScalar).model();
    m.kernel = DipoleKernel::Linear;
    CHECK_THROWS_WITH_AS(DipoleCalculator(m, RadialMode::Spline), doctest::Contains("kernel is linear"),
                         std::invalid_argument);
    m = calculator(DipoleKernel::Linear).model();
    m.sparse[1].weights.conservativeResize(m.sparse[1].weights.rows(), 2);
    CHECK_THROWS_WITH_AS(DipoleCalculator(m, RadialMode::Spline), doctest::Contains("species 22"),
                         std::invalid_argument);
    m = calculator(DipoleKernel::Linear).model();
    m.kernel = DipoleKernel::LinearTimesScalar;
    CHECK_THROWS_WITH_AS(DipoleCalculator(m, RadialMode::Spline), doctest::Contains("scalar points"),
                         std::invalid_argument);
    m = calculator(DipoleKernel::Linear).model();
    m.sparse.push_back(m.sparse[0]);
    CHECK_THROWS_WITH_AS(DipoleCalculator(m, RadialMode::Spline), doctest::Contains("more than one set"),
                         std::invalid_argument);
}
