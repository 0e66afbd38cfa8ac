// validate(GapModel): a consistent model passes; each rule, broken on its own, gives one line naming the problem.

#include "validation_error.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/gap/gap_model.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>

using namespace gapd;

namespace {

GapModel small_gap_model() {
    GapModel m;
    m.hypers.max_radial = 2;
    m.hypers.max_angular = 1;
    m.hypers.species = {8, 22};
    m.zeta = 2;
    const int D = power_spectrum_size(m.hypers);
    for (int z : {8, 22}) {
        SparseSet s;
        s.species = z;
        s.points = RowMatrix::Random(3, D);
        s.weights = Eigen::VectorXd::Random(3);
        m.sparse.push_back(s);
        m.self_contributions[z] = -1.0;
    }
    return m;
}

std::string error_of(const GapModel& m) { return testing::validation_error(m); }

}  // namespace

TEST_CASE("validate(GapModel): one rule broken at a time") {
    CHECK(error_of(small_gap_model()).empty());
    const std::vector<std::pair<std::function<void(GapModel&)>, std::string>> cases = {
        {[](GapModel& m) { m.hypers.species.clear(); }, "hypers.species must be non-empty, sorted, without repeats"},
        {[](GapModel& m) { m.hypers.species = {22, 8}; }, "hypers.species must be non-empty, sorted, without repeats"},
        {[](GapModel& m) { m.hypers.species = {8, 8, 22}; }, "hypers.species must be non-empty, sorted, without repeats"},
        {[](GapModel& m) { m.zeta = 0; }, "zeta must be a positive integer, got 0"},
        {[](GapModel& m) { std::swap(m.sparse[0], m.sparse[1]); }, "sparse set of species 8 out of order"},
        {[](GapModel& m) { m.sparse[1] = m.sparse[0]; }, "sparse set of species 8 out of order"},
        {[](GapModel& m) { m.sparse[1].species = 56; }, "sparse set of species 56 is not in hypers.species"},
        {[](GapModel& m) { m.sparse[1].weights.resize(2); }, "sparse set of species 22: points 3 x"},
        {[](GapModel& m) { m.sparse[0].points.conservativeResize(3, 5); }, "sparse set of species 8: points 3 x 5"},
        {[](GapModel& m) { m.selected_features = {0, 0}; }, "feature selection: index 0 is repeated"},
        {[](GapModel& m) { m.selected_features = {-1}; }, "feature selection: index -1"},
    };
    for (const auto& [breaks, message] : cases) {
        GapModel m = small_gap_model();
        breaks(m);
        const std::string e = error_of(m);
        CAPTURE(e);
        CHECK(e.rfind("GAP model: " + message, 0) == 0);
        CHECK(e.find('\n') == std::string::npos);
    }
    GapModel m = small_gap_model();
    m.zeta = -3;
    CHECK_THROWS_WITH_AS(validate(m, "m.gapd"), "m.gapd: zeta must be a positive integer, got -3", std::invalid_argument);
}
