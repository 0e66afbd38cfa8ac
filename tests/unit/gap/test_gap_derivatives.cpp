// Forces and virial against finite differences of the energy, invariances, and thread-count independence.

#include "deformed_structures.hpp"
#include "finite_difference.hpp"
#include "librascal_fixtures.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/formats/librascal_model_reader.hpp"

#include <doctest/doctest.h>
#include <Eigen/Geometry>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <algorithm>
#include <random>

using namespace gapd;
using gapd::testing::librascal_fixture;
using gapd::testing::read_json;
using gapd::testing::structure_from_json;
using namespace gapd::testing;

namespace {

const GapCalculator& calculator() {
    static const GapCalculator calc(read_librascal_model(librascal_fixture("model_small_zeta4_exact.json")),
                                    RadialMode::Spline);
    return calc;
}

Structure fixture_structure(const std::string& name) {
    const auto ref = read_json(librascal_fixture("predictions_small_zeta4_exact.json"));
    for (const auto& entry : ref.at("structures"))
        if (entry.at("name") == name) return structure_from_json(entry);
    throw std::runtime_error("no fixture structure " + name);
}

double energy(const Structure& s) { return calculator().compute(s).energy; }

}  // namespace

TEST_CASE("forces are minus the finite-difference gradient of the energy") {
    for (const Structure& s0 : {fixture_structure("bto_5atom_cubic"), fixture_structure("bto_40atom_triclinic"),
                                skewed_small_cell(fixture_structure("bto_5atom_cubic"))}) {
        const GapPrediction p = calculator().compute_with_gradients(s0);
        const double worst = max_force_fd_error(energy, s0, p.forces, s0.size() > 10 ? 7 : 1);
        CAPTURE(s0.size());
        // The energy carries ~1e-11 eV of round-off (cancelling kernel terms), so the stencil itself is only
        // good to ~1e-7 eV/Å here; a wrong sign or a missing term shows up at 1e-3 and above.
        CHECK(worst < 1e-6);
        // Newton's third law: no net force on a periodic system.
        CHECK(p.forces.colwise().sum().cwiseAbs().maxCoeff() < 1e-10);
    }
}

TEST_CASE("virial is minus the finite-difference strain derivative (triclinic and sub-cutoff cells)") {
    for (const Structure& s0 : {fixture_structure("bto_5atom_cubic"), fixture_structure("bto_40atom_triclinic"),
                                skewed_small_cell(fixture_structure("bto_5atom_cubic"))}) {
        const GapPrediction p = calculator().compute_with_gradients(s0);
        Eigen::Matrix3d fd;
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b)
                fd(a, b) = -derivative(
                    [&](double h) {
                        Eigen::Matrix3d eps = Eigen::Matrix3d::Zero();
                        eps(a, b) = h;
                        return energy(strained(s0, eps));
                    },
                    1e-5);
        CAPTURE(s0.size());
        CHECK((fd - p.virial).cwiseAbs().maxCoeff() < 1e-6);
        CHECK((p.virial - p.virial.transpose()).cwiseAbs().maxCoeff() < 1e-10);
    }
}

TEST_CASE("rotation, translation and permutation invariance") {
    const Structure s0 = fixture_structure("bto_40atom_triclinic");
    const GapPrediction p0 = calculator().compute_with_gradients(s0);
    std::mt19937 rng(7);
    std::normal_distribution<double> g;

    SUBCASE("rotation: energy invariant, forces and virial rotate") {
        for (int trial = 0; trial < 3; ++trial) {
            const Eigen::Matrix3d R = Eigen::Quaterniond(g(rng), g(rng), g(rng), g(rng)).normalized().toRotationMatrix();
            Structure s = s0;
            s.positions = s0.positions * R.transpose();
            s.cell = s0.cell * R.transpose();
            const GapPrediction p = calculator().compute_with_gradients(s);
            CHECK(std::abs(p.energy - p0.energy) < 1e-9);
            CHECK((p.forces - p0.forces * R.transpose()).cwiseAbs().maxCoeff() < 1e-9);
            CHECK((p.virial - R * p0.virial * R.transpose()).cwiseAbs().maxCoeff() < 1e-9);
        }
    }
    SUBCASE("translation and lattice-vector shifts of single atoms") {
        Structure s = s0;
        for (int i = 0; i < static_cast<int>(s.size()); ++i) {
            s.positions.row(i) += Eigen::RowVector3d(0.37, -1.1, 2.3);
            s.positions.row(i) += (i % 3 - 1) * s.cell.row(i % 3);  // unwrapped positions
        }
        const GapPrediction p = calculator().compute_with_gradients(s);
        CHECK(std::abs(p.energy - p0.energy) < 1e-9);
        CHECK((p.forces - p0.forces).cwiseAbs().maxCoeff() < 1e-9);
        CHECK((p.virial - p0.virial).cwiseAbs().maxCoeff() < 1e-9);
    }
    SUBCASE("permutation of same-species atoms") {
        std::vector<int> order(s0.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
        std::shuffle(order.begin(), order.end(), rng);
        const Structure s = testing::permuted(s0, order);
        const GapPrediction p = calculator().compute_with_gradients(s);
        CHECK(std::abs(p.energy - p0.energy) < 1e-9);
        for (std::size_t i = 0; i < order.size(); ++i)
            CHECK((p.forces.row(i) - p0.forces.row(order[i])).cwiseAbs().maxCoeff() < 1e-9);
    }
}

#ifdef _OPENMP
TEST_CASE("one and two threads give the same numbers to round-off") {
    const Structure s = fixture_structure("bto_135atom_cubic");
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const GapPrediction one = calculator().compute_with_gradients(s);
    omp_set_num_threads(2);
    const GapPrediction two = calculator().compute_with_gradients(s);
    omp_set_num_threads(saved);
    CHECK(std::abs(one.energy - two.energy) / s.size() < 1e-12);
    CHECK((one.forces - two.forces).cwiseAbs().maxCoeff() < 1e-10);
    CHECK((one.virial - two.virial).cwiseAbs().maxCoeff() < 1e-10);
}
#endif

TEST_CASE("an atom of a species the model does not know is a clear error") {
    Structure s = fixture_structure("bto_5atom_cubic");
    s.numbers[0] = 38;  // Sr
    CHECK_THROWS_WITH_AS(calculator().compute_with_gradients(s), doctest::Contains("atomic number 38"), std::invalid_argument);
}
