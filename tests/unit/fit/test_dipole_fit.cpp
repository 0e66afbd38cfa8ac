// gapd fit, dipoles: nearest lattice vector (triclinic), polarization unwrapping, CUR selection, the dipole design
// matrix against DipoleCalculator, recovery of the synthetic dipole model from its own labels, and bad inputs.

#include "models/dipoles/dipole_calculator.hpp"
#include "models/fit/dipole_fit.hpp"
#include "models/fit/dipole_kernel_rows.hpp"
#include "models/formats/extxyz.hpp"
#include "models/fit/fit_config.hpp"
#include "models/fit/sparse_selection.hpp"
#include "models/fit/training_data.hpp"
#include "models/fit/run_fit.hpp"
#include "models/core/nearest_lattice_vector.hpp"
#include "models/dipoles/polarization_unwrapping.hpp"
#include "synthetic_dipole_model.hpp"

#include <doctest/doctest.h>

#include <Eigen/LU>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

using namespace gapd;

namespace {

// An n1 x n2 x n3 BaTiO3 supercell (a = 4 Å) with a shear/strain, random atom displacements `delta` (returned),
// a random rigid translation, atoms in shuffled order, some positions moved by lattice vectors.
struct Perovskite {
    Structure s;
    Matrix3N delta;  // displacement of each atom from its ideal site (before the rigid translation)
    Matrix3N ideal;  // ideal site + translation
};

Perovskite perovskite(std::mt19937_64& rng, int n1, int n2, int n3, double shear, double rattle) {
    std::normal_distribution<double> noise(0.0, 1.0);
    std::uniform_int_distribution<int> jump(-2, 2);
    Eigen::Matrix3d cell = Eigen::Vector3d(4.0 * n1, 4.0 * n2, 4.0 * n3).asDiagonal();
    Eigen::Matrix3d strain = Eigen::Matrix3d::Identity();
    strain(1, 0) = shear;  // a2 gets an x component: triclinic
    strain(2, 0) = 0.5 * shear;
    strain(2, 1) = -0.7 * shear;
    for (int i = 0; i < 3; ++i) strain(i, i) += 0.02 * noise(rng);
    cell = cell * strain.transpose();  // row k = strain * (lattice vector k)
    const double frac[5][3] = {{0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    const int z[5] = {56, 22, 8, 8, 8};
    const Eigen::Vector3d shift(noise(rng), noise(rng), noise(rng));
    std::vector<std::pair<int, Eigen::Vector3d>> atoms;  // (Z, ideal position)
    for (int i = 0; i < n1; ++i)
        for (int j = 0; j < n2; ++j)
            for (int k = 0; k < n3; ++k)
                for (int a = 0; a < 5; ++a) {
                    const Eigen::Vector3d f((i + frac[a][0]) / n1, (j + frac[a][1]) / n2, (k + frac[a][2]) / n3);
                    atoms.emplace_back(z[a], cell.transpose() * f + shift);
                }
    std::shuffle(atoms.begin(), atoms.end(), rng);
    Perovskite p;
    const std::size_t n = atoms.size();
    p.s.cell = cell;
    p.s.positions.resize(n, 3);
    p.delta.resize(n, 3);
    p.ideal.resize(n, 3);
    for (std::size_t i = 0; i < n; ++i) {
        const Eigen::Vector3d d = rattle * Eigen::Vector3d(noise(rng), noise(rng), noise(rng));
        const Eigen::Vector3d image = cell.transpose() * Eigen::Vector3d(jump(rng), jump(rng), jump(rng));
        p.s.numbers.push_back(atoms[i].first);
        p.ideal.row(i) = atoms[i].second.transpose();
        p.delta.row(i) = d.transpose();
        p.s.positions.row(i) = (atoms[i].second + d + image).transpose();
    }
    return p;
}

// Every triple within `range` of the rounded fractional coordinates.
Eigen::Vector3i brute_force_nearest(const Eigen::Matrix3d& L, const Eigen::Vector3d& x, int range) {
    const Eigen::Vector3d f = L.inverse().transpose() * x;
    const Eigen::Vector3i r(std::lround(f[0]), std::lround(f[1]), std::lround(f[2]));
    Eigen::Vector3i best = r;
    double best_d = 1e300;
    for (int a = -range; a <= range; ++a)
        for (int b = -range; b <= range; ++b)
            for (int c = -range; c <= range; ++c) {
                const Eigen::Vector3i n = r + Eigen::Vector3i(a, b, c);
                const double d = (x - L.transpose() * n.cast<double>()).squaredNorm();
                if (d < best_d) {
                    best_d = d;
                    best = n;
                }
            }
    return best;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "no error";
}

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() / ("gapd_dipole_fit_test_" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace

TEST_CASE("nearest lattice vector is exact for skewed triclinic cells, where rounding fails") {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> noise(0.0, 1.0);
    int rounding_wrong = 0;
    for (int trial = 0; trial < 400; ++trial) {
        Eigen::Matrix3d L;
        L << 4, 0, 0, 3.4, 1.2, 0, -2.9, 1.7, 1.5;  // strongly skewed
        if (trial % 2) L = L * (Eigen::Matrix3d::Identity() + 0.05 * Eigen::Matrix3d::NullaryExpr([&]() { return noise(rng); }));
        const Eigen::Vector3d x = 6.0 * Eigen::Vector3d(noise(rng), noise(rng), noise(rng));
        const Eigen::Vector3i exact = nearest_lattice_vector(L, x);
        const Eigen::Vector3i brute = brute_force_nearest(L, x, 8);
        CHECK((x - L.transpose() * exact.cast<double>()).norm() ==
              doctest::Approx((x - L.transpose() * brute.cast<double>()).norm()).epsilon(1e-12));
        const Eigen::Vector3d f = L.inverse().transpose() * x;
        const Eigen::Vector3i rounded(std::lround(f[0]), std::lround(f[1]), std::lround(f[2]));
        if ((x - L.transpose() * rounded.cast<double>()).norm() > (x - L.transpose() * exact.cast<double>()).norm() + 1e-9)
            ++rounding_wrong;
    }
    CHECK(rounding_wrong > 20);  // the case the search exists for
    Eigen::Matrix3d singular;
    singular << 1, 0, 0, 2, 0, 0, 0, 0, 1;
    CHECK_THROWS_AS(nearest_lattice_vector(singular, Eigen::Vector3d::Zero()), std::invalid_argument);
}

TEST_CASE("unwrapping recovers dipoles shifted by random polarization quanta (orthorhombic and triclinic)") {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> noise(0.0, 1.0);
    std::uniform_int_distribution<int> quanta(-3, 3);
    const std::map<int, double> Z = default_batio3_born_charges();
    CHECK(std::abs(Z.at(56) + Z.at(22) + 3 * Z.at(8)) < 1e-14);
    const int layouts[4][3] = {{1, 1, 1}, {2, 2, 2}, {1, 1, 2}, {3, 1, 2}};
    for (const auto& n : layouts)
        for (double shear : {0.0, 0.25}) {
            for (int trial = 0; trial < 5; ++trial) {
                const Perovskite p = perovskite(rng, n[0], n[1], n[2], shear, 0.12);
                const Matrix3N d = perovskite_displacements(p.s, CellDipoleRoles{});
                // Charge neutrality: the rigid translation and the origin rule drop out of M_lin.
                const Eigen::Vector3d truth = linear_dipole(p.s, p.delta, Z);
                CHECK((linear_dipole(p.s, d, Z) - truth).norm() < 1e-9);
                CHECK((linear_dipole(p.s, displacements_from_reference(p.s, p.ideal), Z) - truth).norm() < 1e-9);
                // Labels: the linear model + a smaller non-linear part, on a random branch.
                const Eigen::Vector3d physical = truth + 0.4 * Eigen::Vector3d(noise(rng), noise(rng), noise(rng));
                const Eigen::Vector3i k(quanta(rng), quanta(rng), quanta(rng));
                const Eigen::Vector3d label = physical + p.s.cell.transpose() * k.cast<double>();
                const Eigen::Vector3d back = nearest_branch(p.s.cell, label, linear_dipole(p.s, d, Z));
                CHECK((back - physical).norm() < 1e-9);
                LabelledFrame f;
                f.structure = p.s;
                f.has_dipole = true;
                f.dipole = label;
                CHECK((unwrapped_dipole(f, PolarizationUnwrapping{}) - physical).norm() < 1e-9);
                PolarizationUnwrapping off;
                off.enabled = false;
                CHECK((unwrapped_dipole(f, off) - label).norm() == 0.0);
            }
        }
    // dipole_targets over a training set: the shifted labels come back, the report counts them.
    {
        std::vector<LabelledFrame> frames;
        std::vector<Eigen::Vector3d> physical;
        for (int k = 0; k < 12; ++k) {
            const Perovskite p = perovskite(rng, 2, 1 + k % 2, 1, 0.2 * (k % 2), 0.1);
            LabelledFrame f;
            f.structure = p.s;
            f.file = "memory";
            f.frame_index = k;
            f.has_dipole = k != 5;  // a frame without a dipole is simply skipped
            physical.push_back(linear_dipole(p.s, p.delta, Z) + 0.3 * Eigen::Vector3d(noise(rng), noise(rng), noise(rng)));
            const Eigen::Vector3d n = k % 3 ? Eigen::Vector3d(k % 2, -1, 2) : Eigen::Vector3d::Zero();
            f.dipole = physical.back() + p.s.cell.transpose() * n;
            frames.push_back(std::move(f));
        }
        std::vector<const LabelledFrame*> train, test;
        for (const auto& f : frames) (f.frame_index % 4 == 3 ? test : train).push_back(&f);
        const DipoleTargets t = dipole_targets(DipoleFitConfig{}, frames, train, test);
        CHECK(t.dipole.size() == 11);
        CHECK(t.moved == 7);  // k % 3 != 0, k != 5
        for (const auto& [f, m] : t.dipole) CHECK((m - physical[f->frame_index]).norm() < 1e-9);
    }
    // Not a perovskite supercell: one-line error naming the frame.
    Perovskite p = perovskite(rng, 2, 1, 1, 0.0, 0.05);
    p.s.positions.row(0) = p.s.positions.row(1);  // two atoms on one site
    LabelledFrame f;
    f.structure = p.s;
    f.file = "data.xyz";
    f.frame_index = 7;
    f.has_dipole = true;
    const std::string e = error_of([&] { unwrapped_dipole(f, PolarizationUnwrapping{}); });
    CHECK(e.find("data.xyz: frame 7 (0-based): dipole unwrapping: perovskite reference") != std::string::npos);
}

TEST_CASE("CUR picks the high-leverage rows, deterministically, and stops when the rank is exhausted") {
    std::mt19937_64 rng(5);
    std::normal_distribution<double> noise(0.0, 1.0);
    // 60 rows in 8 dimensions: small noise in dims 3..7, three rows that dominate dims 0, 1, 2.
    RowMatrix X(60, 8);
    for (Eigen::Index i = 0; i < X.rows(); ++i)
        for (int d = 0; d < 8; ++d) X(i, d) = d < 3 ? 0.01 * noise(rng) : 0.1 * noise(rng);
    X(41, 0) = 10.0;
    X(7, 1) = 6.0;
    X(23, 2) = 3.0;
    const std::vector<int> picked = cur_selection(X, 3);
    CHECK(picked == std::vector<int>{41, 7, 23});  // in order of leverage
    CHECK(cur_selection(X, 3) == picked);
    CHECK(select_sparse_rows(X, 3, SparseSelection::Cur) == picked);
    // Rank 2 (duplicates and combinations): at most 2 rows.
    RowMatrix Y(6, 4);
    Y << 1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 1, 2, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0;
    const std::vector<int> y = cur_selection(Y, 5);
    CHECK(y.size() == 2);
    // Fewer rows than columns (the N x N Gram route): same structure, same answer.
    RowMatrix Xt(12, 30);
    for (Eigen::Index i = 0; i < Xt.rows(); ++i)
        for (int d = 0; d < 30; ++d) Xt(i, d) = d < 3 ? 0.01 * noise(rng) : 0.05 * noise(rng);
    Xt(9, 0) = 8.0;
    Xt(2, 1) = 5.0;
    Xt(4, 2) = 2.5;
    CHECK(cur_selection(Xt, 3) == std::vector<int>{9, 2, 4});
    // Both routes agree: a 12 x 11 matrix (D x D Gram) and the same with two zero columns (12 x 12 Gram).
    RowMatrix R(12, 11);
    for (Eigen::Index i = 0; i < R.rows(); ++i)
        for (int d = 0; d < 11; ++d) R(i, d) = noise(rng) * (1.0 + 0.3 * d);
    RowMatrix Rpad = RowMatrix::Zero(12, 13);
    Rpad.leftCols(11) = R;
    const std::vector<int> right = cur_selection(R, 6), left = cur_selection(Rpad, 6);
    CHECK(right.size() == 6);
    CHECK(right == left);
    RowMatrix Yt = RowMatrix::Zero(6, 8);
    Yt.leftCols(4) = Y;
    CHECK(cur_selection(Yt, 5).size() == 2);
    CHECK(parse_sparse_selection("cur") == SparseSelection::Cur);
    CHECK_THROWS_AS(parse_sparse_selection("random"), std::invalid_argument);
}

TEST_CASE("dipole design-matrix rows times the weights give DipoleCalculator's total dipole") {
    DipoleModel model = testing::make_synthetic_dipole_model(GAPD_TEST_DATA_DIR "/librascal/structures.extxyz");
    std::mt19937_64 rng(2);
    for (bool scalar : {false, true}) {
        if (scalar) {
            model.kernel = DipoleKernel::LinearTimesScalar;
            model.zeta = 3;
            DipoleModel linear = model;
            linear.kernel = DipoleKernel::Linear;
            linear.sparse.clear();
            const DipoleCalculator ps(linear, RadialMode::Spline);
            // Scalar points: power spectra of random structures' atoms of the right species.
            const Structure s = perovskite(rng, 2, 2, 1, 0.1, 0.15).s;
            const RowMatrix X = ps.scalar_features(s);
            for (auto& set : model.sparse) {
                set.scalar_points.resize(set.points.rows(), X.cols());
                int k = 0;
                for (std::size_t i = 0; i < s.size() && k < set.points.rows(); ++i)
                    if (s.numbers[i] == set.species) set.scalar_points.row(k++) = X.row(i);
                for (; k < set.points.rows(); ++k) set.scalar_points.row(k) = set.scalar_points.row(k % 4);
            }
        }
        const DipoleCalculator calc(model, RadialMode::Spline);
        const DipoleKernelRows rows(model);
        Eigen::VectorXd w(rows.columns());
        for (std::size_t k = 0; k < model.sparse.size(); ++k)
            for (Eigen::Index j = 0; j < model.sparse[k].points.rows(); ++j)
                for (int b = 0; b < 3; ++b) w[rows.column_offset(k) + 3 * j + b] = model.sparse[k].weights(j, b);
        for (int t = 0; t < 3; ++t) {
            const Structure s = perovskite(rng, 1 + t % 2, 1, 2, 0.2, 0.15).s;
            const Eigen::Vector3d viaRows =
                rows.rows(s.numbers, calc.features(s), scalar ? calc.scalar_features(s) : RowMatrix()) * w;
            const Eigen::Vector3d direct = calc.compute(s).total;
            CHECK((viaRows - direct).norm() < 1e-12 * (1 + direct.norm()));
        }
        // K_mm is the kernel between sparse points: symmetric, positive semi-definite.
        const Eigen::MatrixXd K = rows.kmm();
        CHECK((K - K.transpose()).norm() < 1e-12 * K.norm());
    }
}

TEST_CASE("fitting the synthetic dipole model's labels reproduces it on unseen structures") {
    const std::string fixtures = GAPD_TEST_DATA_DIR "/librascal/structures.extxyz";
    const DipoleModel truth = testing::make_synthetic_dipole_model(fixtures);
    const DipoleCalculator truth_calc(truth, RadialMode::Spline);
    std::vector<LabelledFrame> frames;
    const std::vector<ExtxyzFrame> fixture_frames = read_extxyz(fixtures);
    std::mt19937_64 rng(17);
    auto add = [&](const Structure& s) {
        LabelledFrame f;
        f.structure = s;
        f.file = "memory";
        f.frame_index = frames.size();
        f.has_dipole = true;
        f.dipole = truth_calc.compute(s).total;
        frames.push_back(std::move(f));
    };
    for (const ExtxyzFrame& f : fixture_frames) add(f.structure);
    for (int k = 0; k < 60; ++k) add(perovskite(rng, 1 + k % 2, 1, 1 + (k / 2) % 2, 0.1 * (k % 3), 0.15).s);
    // The truth's sparse environments, as make_synthetic_dipole_model picks them (fixture frames come first).
    DipoleFitConfig config;
    for (int z : truth.hypers.species) {
        std::vector<std::pair<int, int>> atoms;
        for (std::size_t f = 0; f < fixture_frames.size(); ++f)
            for (std::size_t i = 0; i < fixture_frames[f].structure.size(); ++i)
                if (fixture_frames[f].structure.numbers[i] == z) atoms.emplace_back(int(f), int(i));
        const int m = testing::kSyntheticDipolePointsPerSpecies;
        for (int j = 0; j < m; ++j) config.sparse_environments.push_back(atoms[atoms.size() * j / m]);
    }
    config.sigma = 1e-9;
    config.jitter = 0.0;
    config.unwrapping.enabled = false;  // random weights: far from any Born-charge model
    std::vector<const LabelledFrame*> train, test;
    for (std::size_t k = 0; k < frames.size(); ++k) (k % 5 == 4 ? test : train).push_back(&frames[k]);
    ErrorTable train_errors, test_errors;
    std::ostringstream log;
    const DipoleTargets targets = dipole_targets(config, frames, train, test);
    const DipoleFitResult r =
        fit_dipoles({config, RadialMode::Spline, frames, train, test, targets}, train_errors, test_errors, log);
    const DipoleCalculator fitted(r.model, RadialMode::Spline);
    double worst = 0.0, scale = 0.0;
    for (int k = 0; k < 8; ++k) {  // unseen structures
        const Structure s = perovskite(rng, 2, 1 + k % 2, 1, 0.15, 0.15).s;
        const Eigen::Vector3d a = fitted.compute(s).total, b = truth_calc.compute(s).total;
        worst = std::max(worst, (a - b).norm());
        scale = std::max(scale, b.norm());
    }
    MESSAGE("synthetic dipole recovery: worst |dM| = " << worst << " e*A, largest |M| = " << scale << " e*A");
    CHECK(scale > 0.1);
    CHECK(worst < 1e-9 * scale);
    CHECK(test_errors.dipole_per_atom.count == 3 * static_cast<long>(test.size()));
    CHECK(test_errors.dipole_per_atom.rmse() < 1e-7);
}

TEST_CASE("bad dipole inputs give one-line errors naming the file and frame") {
    TempDir dir;
    const std::string head = "Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3 energy=-1.0";
    auto write = [&](const std::string& name, const std::string& text) { std::ofstream(dir.file(name)) << text; };
    PropertyKeys keys;
    write("nan.xyz", "1\n" + head + " dipole=\"0 0 0\"\nO 0 0 0\n1\n" + head + " dipole=\"0 nan 0\"\nO 0 0 0\n");
    std::string e = error_of([&] { read_labelled_frames(dir.file("nan.xyz"), LabelledReadOptions{keys, false}); });
    CHECK(e.find("nan.xyz: frame 1 (0-based)") != std::string::npos);
    CHECK(e.find("'dipole'") != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
    write("shape.xyz", "1\n" + head + " dipole=\"0 0\"\nO 0 0 0\n");
    e = error_of([&] { read_labelled_frames(dir.file("shape.xyz"), LabelledReadOptions{keys, false}); });
    CHECK(e.find("shape.xyz: frame 0 (0-based): info key 'dipole' must have 3 numbers") != std::string::npos);
    keys.dipole.clear();  // not requested: not read
    CHECK(read_labelled_frames(dir.file("shape.xyz"), LabelledReadOptions{keys, false}).front().has_dipole == false);

    // dipoles requested, the file has no frame with the key
    write("nodipole.xyz", "1\n" + head + " mu=\"0 0 1\"\nO 0 0 0\n");
    write("fit.yaml", "training_files: nodipole.xyz\ngap: {sparse_points: {O: 1}, fit_forces: false}\n"
                      "validation: {held_out_fraction: 0}\ndipoles: {sparse_points: {O: 1}}\n");
    std::ostringstream log;
    e = error_of([&] { run_fit(read_fit_config(dir.file("fit.yaml")), log); });
    CHECK(e.find("nodipole.xyz: frame 0 (0-based): missing info key 'dipole'") != std::string::npos);

    write("bad.yaml", "training_files: a.xyz\ndipoles: {unwrapping: {born_charge: {O: -2}}}\n");
    e = error_of([&] { read_fit_config(dir.file("bad.yaml")); });
    CHECK(e.find("bad.yaml: key 'dipoles.unwrapping.born_charge': unknown key") != std::string::npos);
    write("sel.yaml", "training_files: a.xyz\nsparse_selection: random\n");
    e = error_of([&] { read_fit_config(dir.file("sel.yaml")); });
    CHECK(e.find("sel.yaml: key 'sparse_selection': must be 'fps'") != std::string::npos);
    write("ok.yaml", "training_files: a.xyz\nsparse_selection: cur\ndipoles: {key: mu, selection: fps, kernel: "
                     "LinearTimesScalar, unwrapping: {born_charges: {Sr: 2, Ti: 4, O: -2}, roles: [Ti, Sr, O]}}\n");
    const FitConfig c = read_fit_config(dir.file("ok.yaml"));
    CHECK(c.selection == SparseSelection::Cur);
    REQUIRE(c.dipoles);
    CHECK(c.dipoles->key == "mu");
    CHECK(c.dipoles->selection == SparseSelection::FarthestPoint);
    CHECK(c.dipoles->kernel == DipoleKernel::LinearTimesScalar);
    CHECK(c.dipoles->unwrapping.born_charges.at(38) == 2.0);
    CHECK(c.dipoles->unwrapping.roles.a_site == 38);
}
