// Dipoles served as i-PI extras: the extras in model units and as JSON on the wire (units, layout, key set, finite
// check, acoustic sum rule, round trip through nlohmann::json), the dipole section of the native model file, the
// committed synthetic model, and the force engine in its three modes (GAP, GAP + dipoles, dipole-only).

#include "client_protocol/extras_check.hpp"
#include "client_protocol/frame_conversion.hpp"
#include "models/core/units.hpp"
#include "models/formats/extxyz.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/model_file.hpp"
#include "models/dipoles/dipole_extras.hpp"
#include "server/serve/model_force_engine.hpp"
#include "synthetic_dipole_model.hpp"

#include <Eigen/LU>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string>

using namespace gapd;
using nlohmann::json;

namespace {

const std::string kData = GAPD_TEST_DATA_DIR;
const std::string kSyntheticPath = kData + "/dipole/synthetic_dipole.gapd";
const std::string kStructures = kData + "/librascal/structures.extxyz";

const DipoleCalculator& synthetic_calculator() {
    static const DipoleCalculator c(read_native_model_contents(kSyntheticPath).dipole.value(), RadialMode::Spline);
    return c;
}

// The 40-atom triclinic BaTiO3 fixture (frame 2): every O has 2 Ti neighbours, every Ba 8.
Structure bto40() { return read_extxyz(kStructures).at(2).structure; }

ExtrasSelection everything() { return parse_extras_selection("dipole,polarization,partial_dipoles,cell_dipoles,BEC"); }

// What i-PI receives: the dipole room's extras through the protocol layer's unit conversion.
std::string wire_extras(const ExtrasSelection& selection, const DipoleResults& results, double volume) {
    return extras_json(dipole_extras(selection, results, volume));
}

std::string temp_path(const char* name) { return std::string("/tmp/gapd_test_dipole_extras_") + name; }

}  // namespace

TEST_CASE("extras selection: parsing, names, errors") {
    const ExtrasSelection s = parse_extras_selection("BEC, dipole,cell_dipoles");
    CHECK(s.bec);
    CHECK(s.dipole);
    CHECK(s.cell_dipoles);
    CHECK_FALSE(s.polarization);
    CHECK_FALSE(s.partial_dipoles);
    CHECK(extras_selection_names(s) == "dipole,cell_dipoles,BEC");
    CHECK(extras_selection_names(everything()) == "dipole,polarization,partial_dipoles,cell_dipoles,BEC");
    CHECK_THROWS_WITH_AS(parse_extras_selection("dipole,bec"),
                         "--extras: unknown key 'bec' (known: dipole, polarization, partial_dipoles, cell_dipoles, BEC)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_extras_selection("dipole,dipole"), "--extras: 'dipole' given twice",
                         std::invalid_argument);
    CHECK_THROWS_AS(parse_extras_selection(""), std::invalid_argument);
    CHECK_THROWS_AS(parse_extras_selection("raw"), std::invalid_argument);
}

TEST_CASE("extras JSON: key set, units, layout, acoustic sum rule, full precision") {
    const DipoleCalculator& calc = synthetic_calculator();
    const Structure s = bto40();
    const Eigen::Index n = static_cast<Eigen::Index>(s.size());
    const ExtrasSelection all = everything();
    const DipoleResults r = compute_dipole_results(calc, s, all, calc.model().cell_roles);
    const double volume = std::abs(s.cell.determinant());
    const Extras model_units = dipole_extras(all, r, volume);
    REQUIRE(model_units.arrays.size() == 5);
    CHECK(model_units.find("dipole")->unit == ExtraUnit::Dipole);
    CHECK(model_units.find("dipole")->values == r.prediction.total.transpose());
    CHECK(model_units.find("polarization")->unit == ExtraUnit::Polarization);
    CHECK(model_units.find("polarization")->values == (r.prediction.total / volume).transpose());
    CHECK(model_units.find("partial_dipoles")->values == r.prediction.partial);
    CHECK(model_units.find("cell_dipoles")->values == r.cells->dipoles);
    CHECK(model_units.find("BEC")->unit == ExtraUnit::Charge);
    CHECK(model_units.find("BEC")->values == r.prediction.born_charges);
    const std::string text = extras_json(model_units);
    check_extras_for_ipi(text);
    const json j = json::parse(text);
    REQUIRE(j.is_object());
    std::set<std::string> keys;
    for (const auto& item : j.items()) keys.insert(item.key());
    CHECK(keys == std::set<std::string>{"dipole", "polarization", "partial_dipoles", "cell_dipoles", "BEC"});

    const double bohr = units::kBohrInAngstrom;
    const Eigen::Vector3d& m = r.prediction.total;
    REQUIRE(m.norm() > 1e-3);  // a non-trivial dipole, so the unit checks below can fail
    for (int a = 0; a < 3; ++a) {
        // Shortest round-trip printing: the parsed number is the double gapd computed, bit for bit.
        CHECK(j["dipole"][a].get<double>() == m[a] / bohr);
        CHECK(j["polarization"][a].get<double>() == doctest::Approx(m[a] * bohr * bohr / volume).epsilon(1e-14));
    }
    REQUIRE(j["partial_dipoles"].size() == static_cast<std::size_t>(n));
    Eigen::Vector3d sum_partial = Eigen::Vector3d::Zero();
    for (Eigen::Index i = 0; i < n; ++i) {
        REQUIRE(j["partial_dipoles"][i].size() == 3);
        for (int a = 0; a < 3; ++a) {
            CHECK(j["partial_dipoles"][i][a].get<double>() == r.prediction.partial(i, a) / bohr);
            sum_partial[a] += j["partial_dipoles"][i][a].get<double>();
        }
    }
    CHECK((sum_partial - m / bohr).norm() < 1e-12);

    // Cell dipoles: one per Ti (8 in this cell), ascending atom index, summing to M.
    REQUIRE(r.cells.has_value());
    CHECK(r.cells->centres.size() == 8);
    REQUIRE(j["cell_dipoles"].size() == 8);
    Eigen::Vector3d sum_cells = Eigen::Vector3d::Zero();
    for (const json& row : j["cell_dipoles"])
        for (int a = 0; a < 3; ++a) sum_cells[a] += row[a].get<double>();
    CHECK((sum_cells - m / bohr).norm() < 1e-12);

    // BEC: (3N, 3), BEC[3i+b][a] = dM_a/dr_{i,b} in e (no unit conversion), acoustic sum rule as i-PI checks it
    // (mean over atoms of each 3x3 block within 1e-8).
    REQUIRE(j["BEC"].size() == static_cast<std::size_t>(3 * n));
    Eigen::Matrix3d asr = Eigen::Matrix3d::Zero();
    double largest = 0;
    for (Eigen::Index i = 0; i < n; ++i)
        for (int b = 0; b < 3; ++b) {
            REQUIRE(j["BEC"][3 * i + b].size() == 3);
            for (int a = 0; a < 3; ++a) {
                const double z = j["BEC"][3 * i + b][a].get<double>();
                CHECK(z == r.prediction.born_charges(3 * i + b, a));
                asr(b, a) += z;
                largest = std::max(largest, std::abs(z));
            }
        }
    CHECK(largest > 1e-3);
    CHECK((asr / static_cast<double>(n)).cwiseAbs().maxCoeff() < 1e-8);
    CHECK(asr.cwiseAbs().maxCoeff() < 1e-12);

    // Finite differences of the JSON dipole along one coordinate reproduce the BEC column layout.
    const double h = 1e-5;
    for (const auto& [atom, b] : {std::pair<int, int>{3, 0}, {17, 2}}) {
        Structure plus = s, minus = s;
        plus.positions(atom, b) += h;
        minus.positions(atom, b) -= h;
        const ExtrasSelection dip = parse_extras_selection("dipole");
        const json jp = json::parse(wire_extras(dip, compute_dipole_results(calc, plus, dip, {}), volume));
        const json jm = json::parse(wire_extras(dip, compute_dipole_results(calc, minus, dip, {}), volume));
        for (int a = 0; a < 3; ++a) {
            const double fd = (jp["dipole"][a].get<double>() - jm["dipole"][a].get<double>()) * bohr / (2 * h);
            CHECK(fd == doctest::Approx(r.prediction.born_charges(3 * atom + b, a)).epsilon(1e-6).scale(1e-6));
        }
    }
}

TEST_CASE("extras JSON: only the selected keys; non-finite numbers are an error") {
    const DipoleCalculator& calc = synthetic_calculator();
    const Structure s = bto40();
    const ExtrasSelection dip = parse_extras_selection("dipole");
    DipoleResults r = compute_dipole_results(calc, s, dip, calc.model().cell_roles);
    CHECK(r.prediction.born_charges.size() == 0);
    CHECK_FALSE(r.cells.has_value());
    const json j = json::parse(wire_extras(dip, r, 1.0));
    CHECK(j.size() == 1);
    CHECK(j["dipole"].size() == 3);

    r.prediction.total[1] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH_AS(wire_extras(dip, r, 1.0), "extras 'dipole': non-finite value at row 0, column 1",
                         std::runtime_error);
    const ExtrasSelection partial = parse_extras_selection("partial_dipoles");
    r.prediction.partial(5, 2) = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH_AS(wire_extras(partial, r, 1.0),
                         "extras 'partial_dipoles': non-finite value at row 5, column 2", std::runtime_error);
    CHECK_THROWS_AS(wire_extras(parse_extras_selection("polarization"), r, 0.0), std::runtime_error);
}

TEST_CASE("cell dipoles: template check at start-up, shell failure at the first request") {
    const DipoleCalculator& calc = synthetic_calculator();
    const ExtrasSelection cells = parse_extras_selection("cell_dipoles");
    const CellDipoleRoles roles = calc.model().cell_roles;
    CHECK_NOTHROW(check_dipole_template(calc, {56, 22, 8, 8, 8}, cells, roles, "init.xyz"));
    CHECK_THROWS_WITH_AS(check_dipole_template(calc, {56, 22, 8, 1}, cells, roles, "init.xyz"),
                         "init.xyz: atom 3 has atomic number 1, which the dipole model does not know (model species: 8 22 56)",
                         std::invalid_argument);
    CellDipoleRoles swapped = roles;
    swapped.b_site = 20;
    CHECK_THROWS_AS(check_dipole_template(calc, {56, 22, 8}, cells, swapped, "init.xyz"), std::invalid_argument);
    CHECK_NOTHROW(check_dipole_template(calc, {56, 22, 8}, parse_extras_selection("dipole"), swapped, "init.xyz"));
    // Shells too small for the structure: a clear error naming the atom.
    CellDipoleRoles tight = roles;
    tight.o_shell = 1.0;
    CHECK_THROWS_AS(compute_dipole_results(calc, bto40(), cells, tight), std::invalid_argument);
}

TEST_CASE("native model file: dipole section alone and with a GAP") {
    // The committed synthetic model is what the generator writes today.
    const ModelFileContents committed = read_native_model_contents(kSyntheticPath);
    CHECK_FALSE(committed.gap.has_value());
    REQUIRE(committed.dipole.has_value());
    const DipoleModel fresh = testing::make_synthetic_dipole_model(kStructures);
    REQUIRE(committed.dipole->sparse.size() == fresh.sparse.size());
    for (std::size_t k = 0; k < fresh.sparse.size(); ++k) {
        CHECK(committed.dipole->sparse[k].species == fresh.sparse[k].species);
        CHECK(committed.dipole->sparse[k].points == fresh.sparse[k].points);
        CHECK(committed.dipole->sparse[k].weights == fresh.sparse[k].weights);
    }
    CHECK_THROWS_WITH_AS(read_native_model(kSyntheticPath),
                         (kSyntheticPath + ": holds only a dipole model, no GAP (header field 'potential' is absent)")
                             .c_str(),
                         std::runtime_error);

    // GAP + dipole (non-linear kernel, baseline, custom roles) in one file round-trip exactly.
    ModelFileContents both;
    both.gap = read_librascal_model(kData + "/librascal/model_small_zeta2_exact.json");
    DipoleModel d = fresh;
    const DipoleCalculator features(d, RadialMode::Spline);
    const Structure s = bto40();
    const RowMatrix scalar = features.scalar_features(s);
    d.kernel = DipoleKernel::LinearTimesScalar;
    d.zeta = 3;
    for (DipoleSparseSet& set : d.sparse) set.scalar_points = scalar.topRows(set.points.rows());
    d.baseline[8] = Eigen::Vector3d(0.1, -0.2, 0.3);
    d.cell_roles.o_shell = 2.7;
    d.cell_roles.b_site = 40;
    both.dipole = d;
    const std::string path = temp_path("both.gapd");
    write_native_model(path, both);
    const ModelFileContents back = read_native_model_contents(path);
    REQUIRE(back.gap.has_value());
    REQUIRE(back.dipole.has_value());
    CHECK(back.gap->zeta == both.gap->zeta);
    CHECK(back.gap->sparse.back().points == both.gap->sparse.back().points);
    CHECK(back.dipole->kernel == DipoleKernel::LinearTimesScalar);
    CHECK(back.dipole->zeta == 3);
    CHECK(back.dipole->baseline.at(8) == d.baseline.at(8));
    CHECK(back.dipole->cell_roles.o_shell == 2.7);
    CHECK(back.dipole->cell_roles.b_site == 40);
    CHECK(back.dipole->hypers.cutoff.cutoff == d.hypers.cutoff.cutoff);
    for (std::size_t k = 0; k < d.sparse.size(); ++k) {
        CHECK(back.dipole->sparse[k].points == d.sparse[k].points);
        CHECK(back.dipole->sparse[k].scalar_points == d.sparse[k].scalar_points);
        CHECK(back.dipole->sparse[k].weights == d.sparse[k].weights);
    }
    // An energy-only reader of the same file gets the same GAP.
    CHECK(read_model_file(path).sparse.front().weights == both.gap->sparse.front().weights);
    std::remove(path.c_str());

    ModelFileContents none;
    CHECK_THROWS_AS(write_native_model(path, none), std::invalid_argument);
}

TEST_CASE("force engine: pure GAP sends one space, dipole-only sends zeros and extras") {
    const Structure s = bto40();
    Frame frame;
    frame.cell = s.cell;
    frame.positions = s.positions;
    const GapCalculator gap(read_librascal_model(kData + "/librascal/model_small_zeta2_exact.json"), RadialMode::Spline);

    ModelForceEngine plain(gap, s.numbers);
    const ForceResult p = plain.compute(frame);
    CHECK(p.extras.empty());
    CHECK(result_to_wire(p, s.size()).extras == " ");
    CHECK(p.forces.cwiseAbs().maxCoeff() > 0);

    const ExtrasSelection sel = parse_extras_selection("dipole,BEC");
    ModelForceEngine with(&gap, s.numbers, DipoleServing{synthetic_calculator(), sel, CellDipoleRoles{}});
    const ForceResult w = with.compute(frame);
    CHECK(w.energy == p.energy);
    CHECK(w.forces == p.forces);
    const std::string w_text = result_to_wire(w, s.size()).extras;
    check_extras_for_ipi(w_text);
    const json jw = json::parse(w_text);
    CHECK(jw.size() == 2);
    CHECK(jw["BEC"].size() == 3 * s.size());

    ModelForceEngine only(nullptr, s.numbers, DipoleServing{synthetic_calculator(), parse_extras_selection("dipole"), {}});
    const ForceResult o = only.compute(frame);
    CHECK(o.energy == 0);
    CHECK(o.virial.isZero(0));
    REQUIRE(o.forces.rows() == static_cast<Eigen::Index>(s.size()));
    CHECK(o.forces.isZero(0));
    CHECK(json::parse(result_to_wire(o, s.size()).extras)["dipole"] == jw["dipole"]);

    CHECK_THROWS_AS(ModelForceEngine(nullptr, s.numbers, std::nullopt), std::invalid_argument);
}

TEST_CASE("force engine: one neighbour list for a GAP and a dipole model of the same cutoff, same numbers") {
    const Structure s = bto40();
    Frame frame;
    frame.cell = s.cell;
    frame.positions = s.positions;
    const GapCalculator gap(read_librascal_model(kData + "/librascal/model_small_zeta2_exact.json"), RadialMode::Spline);
    const ExtrasSelection all = everything();
    for (const double cutoff : {gap.cutoff(), gap.cutoff() - 0.5}) {
        CAPTURE(cutoff);
        DipoleModel model = synthetic_calculator().model();
        model.hypers.cutoff.cutoff = cutoff;  // equal to the GAP's: the engine shares its list
        const DipoleCalculator dipoles(model, RadialMode::Spline);
        ModelForceEngine engine(&gap, s.numbers, DipoleServing{dipoles, all, model.cell_roles});
        for (int call = 0; call < 2; ++call) {  // the second call reuses the workspaces
            const ForceResult r = engine.compute(frame);
            const GapPrediction alone = gap.compute_with_gradients(s);
            CHECK(r.energy == alone.energy);
            CHECK(r.forces == alone.forces);
            CHECK(r.virial == alone.virial);
            const double volume = std::abs(s.cell.determinant());
            const DipoleResults d = compute_dipole_results(dipoles, s, all, model.cell_roles);
            const Extras expected = dipole_extras(all, d, volume);
            for (const ExtraArray& e : expected.arrays) {
                CAPTURE(e.key);
                REQUIRE(r.extras.find(e.key) != nullptr);
                // Cell dipoles sum the same images from a longer list, in another order.
                const double tolerance = e.key == "cell_dipoles" ? 1e-12 : 0.0;
                CHECK((r.extras.find(e.key)->values - e.values).cwiseAbs().maxCoeff() <= tolerance);
            }
        }
    }
}

TEST_CASE("dipole calculator: a workspace reused across calls and a caller's neighbour list give the same numbers") {
    const DipoleCalculator& calc = synthetic_calculator();
    const Structure s = bto40();
    const DipolePrediction fresh = calc.compute_with_gradients(s);
    DipoleWorkspace workspace;
    DipolePhaseTimes times;
    const NeighbourList nl = build_neighbour_list(s, calc.cutoff());
    for (int call = 0; call < 2; ++call) {
        const DipolePrediction p = calc.compute_with_gradients(s, nl, {&times, &workspace});
        CHECK(p.total == fresh.total);
        CHECK(p.partial == fresh.partial);
        CHECK(p.born_charges == fresh.born_charges);
        for (int a = 0; a < 3; ++a) CHECK(p.strain_derivative[a] == fresh.strain_derivative[a]);
        CHECK(times.total() > 0);
    }
    // Without gradients after a call with them: no Born charges left over from the workspace.
    const DipolePrediction plain = calc.compute(s, nl, {nullptr, &workspace});
    CHECK(plain.total == fresh.total);
    CHECK(plain.born_charges.size() == 0);

    // Cell dipoles on the model's list (longer than the shells) find the same images as on their own list.
    const CellDipoleRoles roles = calc.model().cell_roles;
    REQUIRE(cell_dipoles_can_use(calc.cutoff(), roles));
    const CellDipoles own = compute_cell_dipoles(s, fresh.partial, roles);
    const CellDipoles shared = compute_cell_dipoles(s, fresh.partial, roles, nl, calc.cutoff());
    CHECK(shared.centres == own.centres);
    CHECK((shared.dipoles - own.dipoles).cwiseAbs().maxCoeff() < 1e-14);
    CHECK_THROWS_AS(compute_cell_dipoles(s, fresh.partial, roles, nl, 1.0), std::invalid_argument);
}
