// validate(DipoleModel): a consistent model passes; each rule, broken on its own, gives one line naming the problem.

#include "validation_error.hpp"
#include "models/descriptors/lambda1_features.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/dipoles/dipole_model.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>

using namespace gapd;

namespace {

DipoleModel small_dipole_model(DipoleKernel kernel) {
    DipoleModel m;
    m.hypers.max_radial = 2;
    m.hypers.max_angular = 2;
    m.kernel = kernel;
    const int Q3 = Lambda1Features(m.hypers, m.inversion_symmetry).size(), D = power_spectrum_size(m.hypers);
    for (int z : m.hypers.species) {
        DipoleSparseSet s;
        s.species = z;
        s.points = RowMatrix::Random(2, Q3);
        s.weights = RowMatrix::Random(2, 3);
        if (kernel == DipoleKernel::LinearTimesScalar) s.scalar_points = RowMatrix::Random(2, D);
        m.sparse.push_back(s);
    }
    return m;
}

std::string error_of(const DipoleModel& m) { return testing::validation_error(m); }

}  // namespace

TEST_CASE("validate(DipoleModel): one rule broken at a time") {
    CHECK(error_of(small_dipole_model(DipoleKernel::Linear)).empty());
    CHECK(error_of(small_dipole_model(DipoleKernel::LinearTimesScalar)).empty());
    using Case = std::pair<std::function<void(DipoleModel&)>, std::string>;
    const std::vector<Case> linear = {
        {[](DipoleModel& m) { m.hypers.species = {22, 8, 56}; }, "hypers.species must be non-empty, sorted"},
        {[](DipoleModel& m) { m.zeta = 0; }, "zeta must be a positive integer, got 0"},
        {[](DipoleModel& m) { m.sparse[2].species = 38; }, "sparse set of species 38: species missing from the hypers"},
        {[](DipoleModel& m) { m.sparse.push_back(m.sparse[0]); }, "sparse set of species 8: more than one set"},
        {[](DipoleModel& m) { std::swap(m.sparse[0], m.sparse[1]); }, "sparse set of species 8: out of order"},
        {[](DipoleModel& m) { m.sparse[1].weights.conservativeResize(2, 2); }, "sparse set of species 22: points 2 x"},
        {[](DipoleModel& m) { m.sparse[1].points.conservativeResize(2, 6); }, "sparse set of species 22: points 2 x 6"},
        {[](DipoleModel& m) { m.sparse[0].scalar_points = RowMatrix::Zero(2, 1); },
         "sparse set of species 8: scalar points given, but the kernel is linear"},
        {[](DipoleModel& m) { m.baseline[38] = Eigen::Vector3d::Zero(); }, "baseline for species 38, missing"},
        {[](DipoleModel& m) { m.cell_roles.oxygen = 0; }, "cell roles: 0 is not an atomic number"},
        {[](DipoleModel& m) { m.cell_roles.a_shell = 0.0; }, "cell roles: the shells must be positive"},
        {[](DipoleModel& m) { m.hypers.max_angular = 0; }, "lambda=1 features need max_angular"},
        {[](DipoleModel& m) { m.kernel = DipoleKernel::LinearTimesScalar; }, "sparse set of species 8: scalar points 0 x 0"},
    };
    for (const auto& [breaks, message] : linear) {
        DipoleModel m = small_dipole_model(DipoleKernel::Linear);
        breaks(m);
        const std::string e = error_of(m);
        CAPTURE(e);
        CHECK(e.rfind("dipole model: " + message, 0) == 0);
        CHECK(e.find('\n') == std::string::npos);
    }
    DipoleModel m = small_dipole_model(DipoleKernel::LinearTimesScalar);
    m.sparse[2].scalar_points.conservativeResize(1, m.sparse[2].scalar_points.cols());
    CHECK(error_of(m).rfind("dipole model: sparse set of species 56: scalar points 1 x", 0) == 0);
}
