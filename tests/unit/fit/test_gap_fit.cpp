// gapd fit: design-matrix rows against GapCalculator and finite differences, recovery of a known model from
// its own labels, the streaming QR solver, farthest-point sampling, and the one-line input errors.

#include "deformed_structures.hpp"
#include "finite_difference.hpp"
#include "kernel_rows_check.hpp"
#include "models/formats/extxyz.hpp"
#include "models/fit/fit_config.hpp"
#include "models/fit/gap_kernel_rows.hpp"
#include "models/fit/sparse_gpr.hpp"
#include "models/fit/sparse_selection.hpp"
#include "models/fit/training_data.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/fit/run_fit.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>
#include <Eigen/QR>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace gapd;
using namespace gapd::testing;

namespace {

SoapHypers small_hypers() {
    SoapHypers h;
    h.max_radial = 4;
    h.max_angular = 3;
    h.cutoff.cutoff = 5.0;
    h.species = {8, 22, 56};
    return h;
}

// A randomly strained and rattled BaTiO3 cell, 1 or 2 perovskite units along x.
Structure random_batio3(std::mt19937_64& rng, int units) {
    std::normal_distribution<double> noise(0.0, 1.0);
    const double a = 4.0;
    Structure s;
    Eigen::Matrix3d strain = Eigen::Matrix3d::Identity();
    for (int i = 0; i < 3; ++i)
        for (int j = i; j < 3; ++j) strain(i, j) = strain(j, i) = (i == j ? 1.0 : 0.0) + 0.01 * noise(rng);
    s.cell = Eigen::Vector3d(a * units, a, a).asDiagonal();
    s.cell = s.cell * strain;
    const double frac[5][3] = {{0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    const int z[5] = {56, 22, 8, 8, 8};
    s.positions.resize(5 * units, 3);
    for (int u = 0; u < units; ++u)
        for (int k = 0; k < 5; ++k) {
            const Eigen::RowVector3d f((frac[k][0] + u) / units, frac[k][1], frac[k][2]);
            s.positions.row(5 * u + k) = f * s.cell;
            for (int d = 0; d < 3; ++d) s.positions(5 * u + k, d) += 0.1 * noise(rng);
            s.numbers.push_back(z[k]);
        }
    return s;
}

// Known model: sparse points = environments (frame, atom) of `frames`, random weights.
GapModel known_model(const std::vector<Structure>& frames, const std::vector<std::pair<int, int>>& envs,
                     std::mt19937_64& rng) {
    GapModel model;
    model.hypers = small_hypers();
    model.zeta = 2;
    model.self_contributions = {{8, -4.5}, {22, -7.25}, {56, -3.0}};
    const GapCalculator featurizer(model, RadialMode::Spline);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (int z : model.hypers.species) {
        std::vector<Eigen::RowVectorXd> rows;
        for (const auto& [f, i] : envs)
            if (frames[f].numbers[i] == z) rows.push_back(featurizer.features(frames[f]).row(i));
        SparseSet set;
        set.species = z;
        set.points.resize(rows.size(), rows.front().size());
        for (std::size_t k = 0; k < rows.size(); ++k) set.points.row(k) = rows[k];
        set.weights = Eigen::VectorXd::NullaryExpr(rows.size(), [&]() { return uniform(rng); });
        model.sparse.push_back(set);
    }
    return model;
}

// Labels frames with `calc` (energy, forces, virial) and writes them to `path`.
void write_labelled(const std::string& path, const std::vector<Structure>& frames, const GapCalculator& calc) {
    std::vector<ExtxyzFrame> out;
    for (const auto& s : frames) {
        const GapPrediction p = calc.compute_with_gradients(s);
        ExtxyzFrame f;
        f.structure = s;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", p.energy);
        f.info["energy"] = buf;
        f.arrays["forces"] = p.forces;
        std::ostringstream v;
        v.precision(17);
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) v << (i + j ? " " : "") << p.virial(i, j);
        f.info["virial"] = v.str();
        out.push_back(f);
    }
    write_extxyz(path, out);
}

}  // namespace

TEST_CASE("kernel rows times the weights give GapCalculator's energy, forces and virial") {
    std::mt19937_64 rng(7);
    std::vector<Structure> frames;
    for (int k = 0; k < 4; ++k) frames.push_back(random_batio3(rng, 1 + k % 2));
    const GapModel model = known_model(frames, {{0, 0}, {0, 1}, {0, 2}, {1, 3}, {1, 5}, {1, 6}, {2, 4}}, rng);
    for (const Structure& s : {frames[3], random_batio3(rng, 2)}) check_kernel_rows_reproduce_calculator(model, s, 1e-11);
}

TEST_CASE("virial and force rows are minus the derivatives of the energy rows") {
    std::mt19937_64 rng(11);
    std::vector<Structure> frames{random_batio3(rng, 2)};
    const GapModel model = known_model(frames, {{0, 0}, {0, 1}, {0, 2}, {0, 8}}, rng);
    const KernelRowsBuilder builder(model, RadialMode::Exact);
    const Structure s = random_batio3(rng, 2);
    const KernelRows rows = builder.compute_with_gradients(s);
    const double h = 1e-4;
    // Strain component (a, b) of the symmetric deformation, virial row order xx yy zz yz xz xy.
    const int comps[6][2] = {{0, 0}, {1, 1}, {2, 2}, {1, 2}, {0, 2}, {0, 1}};
    for (int c = 0; c < 6; ++c) {
        auto energy_row = [&](double t) {
            Eigen::Matrix3d eps = Eigen::Matrix3d::Zero();
            eps(comps[c][0], comps[c][1]) += c < 3 ? t : t / 2;
            eps(comps[c][1], comps[c][0]) += c < 3 ? 0 : t / 2;
            return builder.compute(strained(s, eps)).energy;
        };
        const Eigen::VectorXd fd = -derivative(energy_row, h);
        const Eigen::VectorXd row = c < 3 ? rows.virial.row(c).transpose() : Eigen::VectorXd(rows.virial.row(c).transpose());
        CHECK((fd - row).cwiseAbs().maxCoeff() < 1e-7 * (1 + row.cwiseAbs().maxCoeff()));
    }
    for (int atom : {0, 7}) {
        for (int d = 0; d < 3; ++d) {
            auto energy_row = [&](double t) {
                Structure m = s;
                m.positions(atom, d) += t;
                return builder.compute(m).energy;
            };
            const Eigen::VectorXd fd = -derivative(energy_row, h);
            const Eigen::VectorXd row = rows.forces.row(3 * atom + d).transpose();
            CHECK((fd - row).cwiseAbs().maxCoeff() < 1e-7 * (1 + row.cwiseAbs().maxCoeff()));
        }
    }
}

TEST_CASE("streaming QR equals a dense least-squares solve") {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> n(0, 1);
    const int M = 7, rows = 900;
    Eigen::MatrixXd B = Eigen::MatrixXd::NullaryExpr(M, M, [&]() { return n(rng); });
    const Eigen::MatrixXd kmm = B * B.transpose() + Eigen::MatrixXd::Identity(M, M);
    const Eigen::MatrixXd A = Eigen::MatrixXd::NullaryExpr(rows, M, [&]() { return n(rng); });
    const Eigen::VectorXd y = Eigen::VectorXd::NullaryExpr(rows, [&]() { return n(rng); });
    const double delta = 0.7, jitter = 1e-3;
    SparseGprSolver solver(kmm, jitter, delta);
    for (int start = 0; start < rows; start += 37) {
        const int len = std::min(37, rows - start);
        solver.add_rows(A.middleRows(start, len), y.segment(start, len));
    }
    const Eigen::VectorXd w = solver.solve();
    Eigen::MatrixXd shifted = kmm;
    shifted.diagonal().array() += jitter;
    const Eigen::VectorXd ref = (A.transpose() * A + shifted / (delta * delta)).ldlt().solve(A.transpose() * y);
    CHECK((w - ref).norm() < 1e-10 * ref.norm());
    CHECK(solver.rows() == rows);
}

TEST_CASE("farthest-point sampling is deterministic and skips duplicates") {
    RowMatrix x(5, 2);
    x << 0, 0, 1, 0, 0.1, 0, 0, 3, 1, 0;
    CHECK(farthest_point_sampling(x, 3) == std::vector<int>{0, 3, 1});
    CHECK(farthest_point_sampling(x, 10).size() == 4);  // row 4 duplicates row 1
}

namespace {

struct RecoveryCase {
    bool forces;
    double tolerance;
};

void check_recovery(const RecoveryCase& rc) {
    TempDir dir("gapd_fit_test");
    std::mt19937_64 rng(rc.forces ? 21 : 22);
    std::vector<Structure> frames;
    for (int k = 0; k < 30; ++k) frames.push_back(random_batio3(rng, 1 + k % 2));
    const std::vector<std::pair<int, int>> envs{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {1, 5}, {1, 6}, {1, 7}, {3, 1}, {3, 8}};
    const GapModel truth = known_model(frames, envs, rng);
    const GapCalculator truth_calc(truth, RadialMode::Spline);
    write_labelled(dir.file("train.xyz"), frames, truth_calc);
    std::ostringstream yaml;
    yaml << "training_files: [train.xyz]\noutput: fitted.gapd\n"
         << "soap: {max_radial: 4, max_angular: 3, cutoff: 5.0}\n"
         << "gap:\n  zeta: 2\n  baseline: {O: -4.5, Ti: -7.25, Ba: -3.0}\n"
         << "  sigma_energy: 1e-9\n  sigma_forces: 1e-9\n  sigma_virial: 1e-9\n  jitter: 0\n"
         << "  fit_forces: " << (rc.forces ? "true" : "false") << "\n  fit_virial: " << (rc.forces ? "true" : "false")
         << "\n  sparse_environments: [";
    for (std::size_t k = 0; k < envs.size(); ++k) yaml << (k ? ", " : "") << "[" << envs[k].first << ", " << envs[k].second << "]";
    yaml << "]\nvalidation: {held_out_fraction: 0.3, seed: 5}\n";
    write_bytes(dir.file("fit.yaml"), yaml.str());
    std::ostringstream log;
    const FitResult r = run_fit(read_fit_config(dir.file("fit.yaml")), log);
    CHECK(r.test_errors.frames == 9);
    const GapCalculator fitted(r.model, RadialMode::Spline);
    for (int k = 0; k < 5; ++k) {  // unseen structures
        const Structure s = random_batio3(rng, 2);
        const GapPrediction a = fitted.compute_with_gradients(s), b = truth_calc.compute_with_gradients(s);
        double e0 = 0;
        for (int z : s.numbers) e0 += truth.self_contributions.at(z);
        CHECK(std::abs(a.energy - b.energy) < rc.tolerance * std::abs(b.energy - e0));
        CHECK((a.forces - b.forces).cwiseAbs().maxCoeff() < rc.tolerance * b.forces.cwiseAbs().maxCoeff());
    }
    CHECK(r.test_errors.energy_per_atom.rmse() < 1e-6);
}

}  // namespace

TEST_CASE("fitting a known model's labels recovers the model (energies + forces + virials)") {
    check_recovery({true, 1e-6});
}

TEST_CASE("fitting a known model's energies alone recovers the model") { check_recovery({false, 1e-6}); }

TEST_CASE("bad fit inputs give one-line errors naming the file and frame or key") {
    TempDir dir("gapd_fit_test");
    const std::string cell = "Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:forces:R:3";
    write_bytes(dir.file("no_energy.xyz"), "1\n" + cell + " energy=-1.0\nO 0 0 0 0 0 0\n1\n" + cell + "\nO 0 0 0 0 0 0\n");
    std::string e = error_of([&] { read_labelled_frames(dir.file("no_energy.xyz"), LabelledReadOptions{PropertyKeys{}, true}); });
    CHECK(e.find("no_energy.xyz: frame 1") != std::string::npos);
    CHECK(e.find("energy") != std::string::npos);

    write_bytes(dir.file("nan.xyz"), "1\n" + cell + " energy=-1.0\nO 0 0 0 nan 0 0\n");
    e = error_of([&] { read_labelled_frames(dir.file("nan.xyz"), LabelledReadOptions{PropertyKeys{}, true}); });
    CHECK(e.find("nan.xyz: frame 0") != std::string::npos);

    write_bytes(dir.file("empty.xyz"), "");
    e = error_of([&] { read_labelled_frames(dir.file("empty.xyz"), LabelledReadOptions{PropertyKeys{}, true}); });
    CHECK(e.find("empty.xyz") != std::string::npos);

    write_bytes(dir.file("noforces.xyz"), "1\nLattice=\"4 0 0 0 4 0 0 0 4\" energy=-1\nO 0 0 0\n");
    e = error_of([&] { read_labelled_frames(dir.file("noforces.xyz"), LabelledReadOptions{PropertyKeys{}, true}); });
    CHECK(e.find("missing per-atom array 'forces'") != std::string::npos);

    write_bytes(dir.file("bad.yaml"), "training_files: [a.xyz]\ngap: {zeta: 2, sigma_energie: 1}\n");
    e = error_of([&] { read_fit_config(dir.file("bad.yaml")); });
    CHECK(e.find("bad.yaml: key 'gap.sigma_energie': unknown key") != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);

    write_bytes(dir.file("sym.yaml"), "training_files: [a.xyz]\ngap: {sparse_points: {Xx: 3}}\n");
    e = error_of([&] { read_fit_config(dir.file("sym.yaml")); });
    CHECK(e.find("gap.sparse_points.Xx") != std::string::npos);
}
