// The public C++ API (api/gapd.hpp, libgapd.so): the same numbers as the calculators gapd predict calls, the public
// Born-charge layout, stress = -virial / V, what compute leaves out, and the one-line errors.

#include "models/core/openmp.hpp"
#include "models/dipoles/dipole_extras.hpp"
#include "models/formats/extxyz.hpp"
#include "server/cli/dipole_options.hpp"

#include <gapd/gapd.hpp>

#include <Eigen/LU>
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const std::string kModel = std::string(GAPD_SOURCE_DIR) + "/data/models/batio3_default.gapd";
// The 40-atom triclinic BaTiO3 fixture (frame 2): every O has 2 Ti neighbours, every Ba 8 (cell dipoles work).
const std::string kStructures = std::string(GAPD_TEST_DATA_DIR) + "/librascal/structures.extxyz";

struct View {
    std::vector<double> cell, positions;
    std::vector<int> numbers;
    gapd::AtomsView atoms;
    explicit View(const gapd::Structure& s) : cell(9), positions(s.positions.data(), s.positions.data() + s.positions.size()),
                                              numbers(s.numbers) {
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b) cell[static_cast<std::size_t>(3 * a + b)] = s.cell(a, b);
        atoms.natoms = s.size();
        atoms.positions = positions.data();
        atoms.cell = cell.data();
        atoms.numbers = numbers.data();
        atoms.pbc = s.pbc;
    }
};

// |got - want| <= 1e-12 max|want| (the cell dipoles may sum their images in another order than predict's).
void check_close(const std::vector<double>& got, const double* want, std::size_t n, const char* what) {
    INFO(what);
    REQUIRE(got.size() == n);
    double scale = 0;
    for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(want[i]));
    for (std::size_t i = 0; i < n; ++i) CHECK(std::abs(got[i] - want[i]) <= 1e-12 * scale);
}

}  // namespace

TEST_CASE("api: Model gives what the calculators of gapd predict give") {
    const gapd::Structure s = gapd::read_extxyz(kStructures).at(2).structure;
    const gapd::LoadedModels ref = gapd::load_models(kModel, {}, gapd::RadialMode::Spline);
    const gapd::GapPrediction p = ref.gap->compute_with_gradients(s);
    gapd::ExtrasSelection all;
    all.dipole = all.partial_dipoles = all.cell_dipoles = all.bec = true;
    const gapd::DipoleResults d = gapd::compute_dipole_results(*ref.dipole, s, all, ref.roles);

    const gapd::Model model(kModel);
    CHECK(model.has_gap());
    CHECK(model.has_dipole_model());
    CHECK(model.species() == std::vector<int>{8, 22, 56});
    CHECK(model.cutoff() == doctest::Approx(5.5));
    const View v(s);
    gapd::Quantities q;
    q.partial_dipoles = q.cell_dipoles = q.born_charges = true;
    const gapd::Results r = model.compute_with_gradients(v.atoms, q);

    CHECK(std::abs(r.energy - p.energy) <= 1e-12 * std::abs(p.energy));
    check_close(r.energies, p.atom_energies.data(), s.size(), "energies");
    check_close(r.forces, p.forces.data(), 3 * s.size(), "forces");
    const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> virial = p.virial;
    const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> stress = -p.virial / std::abs(s.cell.determinant());
    check_close({r.virial.begin(), r.virial.end()}, virial.data(), 9, "virial");
    REQUIRE(r.has_stress);
    check_close({r.stress.begin(), r.stress.end()}, stress.data(), 9, "stress");
    REQUIRE(r.has_dipole);
    check_close({r.dipole.begin(), r.dipole.end()}, d.prediction.total.data(), 3, "dipole");
    check_close(r.partial_dipoles, d.prediction.partial.data(), 3 * s.size(), "partial dipoles");
    CHECK(r.cell_dipole_centres == d.cells->centres);
    check_close(r.cell_dipoles, d.cells->dipoles.data(), d.cells->dipoles.size(), "cell dipoles");
    // Public layout [k][a][b] = dM_a/dr_{k,b}; internal row 3k+b, column a.
    std::vector<double> born(9 * s.size());
    for (std::size_t k = 0; k < s.size(); ++k)
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b)
                born[9 * k + static_cast<std::size_t>(3 * a + b)] =
                    d.prediction.born_charges(static_cast<Eigen::Index>(3 * k) + b, a);
    check_close(r.born_charges, born.data(), born.size(), "Born charges");

    SUBCASE("compute: no forces, no stress, the same energy and dipole") {
        const gapd::Results e = model.compute(v.atoms);
        CHECK(e.forces.empty());
        CHECK(!e.has_stress);
        CHECK(e.partial_dipoles.empty());
        CHECK(e.born_charges.empty());
        CHECK(std::abs(e.energy - p.energy) <= 1e-12 * std::abs(p.energy));
        check_close({e.dipole.begin(), e.dipole.end()}, d.prediction.total.data(), 3, "dipole");
    }
    SUBCASE("threads and precision are per model and change nothing but the speed (float64)") {
        gapd::Model m(kModel);
        m.set_threads(1);
        CHECK(m.threads() == 1);
        const gapd::Results one = m.compute_with_gradients(v.atoms);
        CHECK(std::abs(one.energy - r.energy) <= 1e-12 * std::abs(r.energy));
        m.set_precision("float32");
        CHECK(m.precision() == "float32");
        CHECK(std::abs(m.compute(v.atoms).energy - r.energy) / static_cast<double>(s.size()) < 1e-4);
    }
}

TEST_CASE("api: one-line errors") {
    const gapd::Structure s = gapd::read_extxyz(kStructures).at(2).structure;
    View v(s);
    const gapd::Model model(kModel);
    SUBCASE("periodic without a cell") {
        v.atoms.cell = nullptr;
        CHECK_THROWS_WITH_AS(model.compute(v.atoms), "structure: periodic, but no cell given", std::invalid_argument);
    }
    SUBCASE("unknown species") {
        v.numbers[3] = 6;
        CHECK_THROWS_AS(model.compute(v.atoms), std::invalid_argument);
    }
    SUBCASE("options") {
        gapd::ModelOptions o;
        o.precision = "float16";
        CHECK_THROWS_WITH_AS(gapd::Model(kModel, o), "precision must be 'float64' or 'float32' (got 'float16')",
                             std::invalid_argument);
        o = {};
        o.threads = -1;
        CHECK_THROWS_AS(gapd::Model(kModel, o), std::invalid_argument);
        CHECK_THROWS_AS(gapd::Model("no/such/model.gapd"), std::runtime_error);
    }
    SUBCASE("dipole quantities without a dipole model") {
        gapd::ModelOptions o;
        o.dipoles = false;
        const gapd::Model gap_only(kModel, o);
        CHECK(!gap_only.has_dipole_model());
        const gapd::Results r = gap_only.compute(v.atoms);  // the default Quantities work for any model
        CHECK(!r.has_dipole);
        gapd::Quantities q;
        q.born_charges = true;
        CHECK_THROWS_AS(gap_only.compute(v.atoms, q), std::invalid_argument);
    }
}
