#include "models/gap/gap_novelty.hpp"

#include "models/descriptors/neighbour_list.hpp"
#include "models/formats/extxyz.hpp"
#include "models/formats/librascal_model_reader.hpp"

#include <doctest/doctest.h>
#include <Eigen/Dense>
#include <Eigen/Geometry>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace gapd;

namespace {

const std::string kData = GAPD_TEST_DATA_DIR;

Structure fixture(int index) { return read_extxyz(kData + "/librascal/structures.extxyz").at(index).structure; }

Structure displaced(Structure s, double sigma, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g(0.0, sigma);
    for (Eigen::Index i = 0; i < s.positions.size(); ++i) s.positions.data()[i] += g(rng);
    return s;
}

// The small librascal GAP with its sparse points replaced by the environments of `source`'s atoms (every
// `stride`-th atom of each species), so that those environments are sparse points exactly.
GapModel model_with_sparse_points_from(const Structure& source, int stride) {
    GapModel model = read_librascal_model(kData + "/librascal/model_small_zeta2_exact.json");
    const RowMatrix full = GapCalculator(model, RadialMode::Spline).features(source);
    for (SparseSet& set : model.sparse) {
        std::vector<Eigen::Index> rows;
        int seen = 0;
        for (Eigen::Index i = 0; i < full.rows(); ++i)
            if (source.numbers[i] == set.species && seen++ % stride == 0) rows.push_back(i);
        set.points.resize(static_cast<Eigen::Index>(rows.size()), full.cols());
        for (std::size_t r = 0; r < rows.size(); ++r) set.points.row(static_cast<Eigen::Index>(r)) = full.row(rows[r]);
        set.weights = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(rows.size()));
    }
    return model;
}

// The definition with another factorization: 1 - k^T K^+ k / k(x, x), K^+ from a complete orthogonal
// decomposition of K_MM (rank threshold as GapNovelty's), for atom i.
double reference_novelty(const GapCalculator& gap, const Structure& s, Eigen::Index i) {
    const RowMatrix X = gap.kernel_features(s);
    const int zeta = gap.model().zeta;
    for (std::size_t k = 0; k < gap.model().sparse.size(); ++k) {
        if (gap.model().sparse[k].species != s.numbers[i]) continue;
        const RowMatrix T = gap.kernel_sparse_points(k);
        const Eigen::MatrixXd K = (T * T.transpose()).array().pow(zeta).matrix();
        const Eigen::VectorXd kx = (T * X.row(i).transpose()).array().pow(zeta).matrix();
        Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(K);
        cod.setThreshold(GapNovelty::kRelativeEigenvalueFloor);
        const double self = std::pow(X.row(i).squaredNorm(), zeta);
        return std::clamp(1.0 - kx.dot(cod.solve(kx)) / self, 0.0, 1.0);
    }
    return 1.0;
}

}  // namespace

TEST_CASE("GAP novelty: 0 on the sparse environments, positive elsewhere, the definition's value") {
    const Structure source = fixture(2);  // 40-atom BaTiO3
    const GapCalculator gap(model_with_sparse_points_from(source, 1), RadialMode::Spline);
    const GapNovelty novelty(gap);

    const Eigen::VectorXd on_points = novelty.per_atom(source);
    REQUIRE(on_points.size() == static_cast<Eigen::Index>(source.size()));
    CHECK(on_points.maxCoeff() < 1e-8);

    // Displaced by 0.15 Å: environments the 40 sparse points do not span, but not unrelated ones.
    const Structure moved = displaced(source, 0.15, 11);
    const Eigen::VectorXd away = novelty.per_atom(moved);
    CHECK(away.minCoeff() >= 0.0);
    CHECK(away.maxCoeff() <= 1.0);
    CHECK(away.maxCoeff() > 1e-4);
    for (Eigen::Index i : {0, 1, 7, 23, 39}) {
        CAPTURE(i);
        CHECK(away[i] == doctest::Approx(reference_novelty(gap, moved, i)).epsilon(1e-6));
    }

    // Squeezed by 12%: every environment further from the sparse set than the small displacements.
    Structure squeezed = moved;
    squeezed.cell *= 0.88;
    squeezed.positions *= 0.88;
    CHECK(novelty.per_atom(squeezed).mean() > away.mean());

    // The caller's neighbour list gives the same values.
    const NeighbourList nl = build_neighbour_list(moved, gap.cutoff());
    CHECK((novelty.per_atom(moved, nl) - away).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("GAP novelty: a subset of the environments as sparse points leaves the others partly unexplained") {
    const Structure source = fixture(2);
    const GapCalculator gap(model_with_sparse_points_from(source, 3), RadialMode::Spline);
    const Eigen::VectorXd values = GapNovelty(gap).per_atom(source);
    // Every third atom of each species is a sparse point: those are at 0, and all are in [0, 1].
    std::vector<int> seen(120, 0);
    for (Eigen::Index i = 0; i < values.size(); ++i) {
        CAPTURE(i);
        CHECK(values[i] >= 0.0);
        CHECK(values[i] <= 1.0);
        if (seen[source.numbers[i]]++ % 3 == 0) CHECK(values[i] < 1e-8);
        CHECK(values[i] == doctest::Approx(reference_novelty(gap, source, i)).epsilon(1e-6));
    }
}

TEST_CASE("GAP novelty: invariant under rotation, translation and permutation of the atoms") {
    const Structure source = fixture(2);
    const GapCalculator gap(model_with_sparse_points_from(source, 2), RadialMode::Spline);
    const GapNovelty novelty(gap);
    const Structure moved = displaced(source, 0.1, 5);
    const Eigen::VectorXd reference = novelty.per_atom(moved);

    Structure rotated = moved;
    const Eigen::Matrix3d R = Eigen::AngleAxisd(0.7, Eigen::Vector3d(1, -2, 0.5).normalized()).toRotationMatrix();
    rotated.positions = moved.positions * R.transpose();
    rotated.cell = moved.cell * R.transpose();
    CHECK((novelty.per_atom(rotated) - reference).cwiseAbs().maxCoeff() < 1e-9);

    Structure shifted = moved;
    shifted.positions.rowwise() += Eigen::RowVector3d(0.31, -1.7, 2.9);
    CHECK((novelty.per_atom(shifted) - reference).cwiseAbs().maxCoeff() < 1e-9);

    Structure permuted = moved;
    const int n = static_cast<int>(moved.size());
    for (int i = 0; i < n; ++i) {
        permuted.positions.row(i) = moved.positions.row(n - 1 - i);
        permuted.numbers[i] = moved.numbers[n - 1 - i];
    }
    const Eigen::VectorXd p = novelty.per_atom(permuted);
    for (int i = 0; i < n; ++i) CHECK(p[i] == doctest::Approx(reference[n - 1 - i]).epsilon(1e-9));
}

TEST_CASE("GAP novelty: from the kernel values a compute call captured, alone or in a batch, as from the features") {
    const Structure source = fixture(2);
    const GapCalculator gap(model_with_sparse_points_from(source, 2), RadialMode::Spline);
    const GapNovelty novelty(gap);
    const Structure a = displaced(source, 0.1, 21), b = displaced(fixture(1), 0.05, 22);
    const Eigen::VectorXd want_a = novelty.per_atom(a), want_b = novelty.per_atom(b);

    GapKernelCapture capture;
    GapComputeOptions options;
    options.capture = &capture;
    const GapPrediction with = gap.compute_with_gradients(a, options);
    CHECK(with.energy == gap.compute_with_gradients(a).energy);  // capturing changes nothing
    CHECK((novelty.from_capture(capture) - want_a).cwiseAbs().maxCoeff() < 1e-10);
    gap.compute(a, options);  // the energy-only pass captures the same values
    CHECK((novelty.from_capture(capture) - want_a).cwiseAbs().maxCoeff() < 1e-10);

    const NeighbourList la = build_neighbour_list(a, gap.cutoff()), lb = build_neighbour_list(b, gap.cutoff());
    gap.compute_batch_with_gradients({{a, la}, {b, lb}}, options);
    const Eigen::VectorXd both = novelty.from_capture(capture);
    REQUIRE(both.size() == static_cast<Eigen::Index>(a.size() + b.size()));
    CHECK((both.head(a.size()) - want_a).cwiseAbs().maxCoeff() < 1e-10);
    CHECK((both.tail(b.size()) - want_b).cwiseAbs().maxCoeff() < 1e-10);

    GapCalculator float32(model_with_sparse_points_from(source, 2), RadialMode::Spline, KernelPrecision::Float32);
    CHECK_THROWS_AS(float32.compute(a, options), std::invalid_argument);
}

TEST_CASE("GAP novelty beside a compute call: captured with the float64 kernel, from the features with float32") {
    const Structure source = fixture(2);
    const Structure a = displaced(source, 0.1, 31), b = displaced(fixture(1), 0.05, 32);
    for (const KernelPrecision precision : {KernelPrecision::Float64, KernelPrecision::Float32}) {
        const bool float64 = precision == KernelPrecision::Float64;
        CAPTURE(float64);
        const GapCalculator gap(model_with_sparse_points_from(source, 2), RadialMode::Spline, precision);
        const GapNovelty novelty(gap);
        GapKernelCapture kernel;
        CHECK((novelty.capture_target(kernel) == &kernel) == float64);
        const NeighbourList la = build_neighbour_list(a, gap.cutoff()), lb = build_neighbour_list(b, gap.cutoff());
        const std::vector<StructureNeighbours> batch = {{a, la}, {b, lb}};
        GapComputeOptions options;
        options.capture = novelty.capture_target(kernel);
        gap.compute_batch_with_gradients(batch, options);  // float32 would throw if it were asked to capture
        const std::vector<Eigen::VectorXd> v = novelty.of_batch(batch, kernel);
        REQUIRE(v.size() == 2);
        REQUIRE(v[0].size() == static_cast<Eigen::Index>(a.size()));
        REQUIRE(v[1].size() == static_cast<Eigen::Index>(b.size()));
        CHECK((v[0] - novelty.per_atom(a)).cwiseAbs().maxCoeff() < 1e-10);
        CHECK((v[1] - novelty.per_atom(b)).cwiseAbs().maxCoeff() < 1e-10);
        CHECK(v[1].maxCoeff() > 1e-6);  // b's environments are not the sparse points: the check can fail
    }
}
