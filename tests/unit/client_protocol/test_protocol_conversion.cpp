// Units and the cell convention: wire (Bohr, Hartree, lattice vectors as columns) <-> model (Å, eV, rows).
#include "client_protocol/frame_conversion.hpp"
#include "models/core/units.hpp"

#include <nlohmann/json.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

using namespace gapd;

namespace {

// i-PI's upper-triangular h (columns a, b, c), Bohr, row-major as on the wire.
wire::WireStructure triclinic_structure() {
    wire::WireStructure s;
    s.h = {10.0, -0.9587131702242406, 1.0458689129718977, 0.0, 10.9581416790092, 2.1832394993630193, 0.0, 0.0,
           11.753281393096147};
    s.h_inv.fill(std::numeric_limits<double>::quiet_NaN());  // must be ignored
    s.positions = {0.1, 0.2, 0.3, 1.9, 0.1, 0.25, -0.4, 1.8, 0.35};
    return s;
}

std::string thrown_message(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("protocol units: CODATA 2018 constants and the derived force factor") {
    using namespace units;
    CHECK(kBohrInAngstrom == doctest::Approx(0.52917721).epsilon(1e-8));
    CHECK(kHartreeInEv == doctest::Approx(27.2113862).epsilon(1e-8));
    // Hartree/Bohr in eV/Å, an independent published value (51.42208 V/Å atomic unit of field).
    CHECK(kHartreePerBohrInEvPerAngstrom == doctest::Approx(51.4220675).epsilon(1e-8));
}

TEST_CASE("protocol conversion: wire cell columns become Frame rows, in Å") {
    const auto s = triclinic_structure();
    const Frame f = frame_from_wire(s, true);
    const double B = units::kBohrInAngstrom;
    // Lattice vector j is column j of h.
    for (int j = 0; j < 3; ++j) {
        for (int i = 0; i < 3; ++i) {
            CHECK(f.cell(j, i) == doctest::Approx(s.h[3 * i + j] * B).epsilon(1e-15));
        }
    }
    // Spelled out: a = (10, 0, 0), b = (-0.9587, 10.958, 0), c = (1.0459, 2.1832, 11.753) Bohr.
    CHECK(f.cell(0, 1) == 0.0);
    CHECK(f.cell(0, 2) == 0.0);
    CHECK(f.cell(1, 0) == doctest::Approx(-0.9587131702242406 * B));
    CHECK(f.cell(1, 2) == 0.0);
    CHECK(f.cell(2, 1) == doctest::Approx(2.1832394993630193 * B));
    REQUIRE(f.positions.rows() == 3);
    CHECK(f.positions(1, 0) == doctest::Approx(1.9 * B).epsilon(1e-15));
    CHECK(f.positions(2, 1) == doctest::Approx(1.8 * B).epsilon(1e-15));
    CHECK(f.positions(2, 2) == doctest::Approx(0.35 * B).epsilon(1e-15));
}

TEST_CASE("protocol conversion: frame round trip through the wire") {
    const auto s = triclinic_structure();
    const auto back = frame_to_wire(frame_from_wire(s, true));
    for (int k = 0; k < 9; ++k) CHECK(back.h[k] == doctest::Approx(s.h[k]).epsilon(1e-15));
    REQUIRE(back.positions.size() == s.positions.size());
    for (std::size_t k = 0; k < s.positions.size(); ++k) {
        CHECK(back.positions[k] == doctest::Approx(s.positions[k]).epsilon(1e-15));
    }
    // h^-1 is recomputed from h, as i-PI would send it.
    const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> h(back.h.data()), hi(back.h_inv.data());
    CHECK((h * hi - Eigen::Matrix3d::Identity()).norm() < 1e-14);
}

TEST_CASE("protocol conversion: results go out in Hartree, Hartree/Bohr, row-major virial") {
    ForceResult r;
    r.energy = 2.5;
    r.forces.resize(2, 3);
    r.forces << 1, -2, 3, 0.5, 0, -0.25;
    // Deliberately not symmetric, so that a transposition would show.
    r.virial << 1, 2, 3, 4, 5, 6, 7, 8, 9;
    r.extras.add_vector("dipole", ExtraUnit::Dipole, Eigen::RowVector3d(0.1, 0.2, 0.3));
    const auto w = result_to_wire(r, 2);
    const double H = units::kHartreeInEv, B = units::kBohrInAngstrom;
    CHECK(w.energy == doctest::Approx(2.5 / H).epsilon(1e-15));
    REQUIRE(w.forces.size() == 6);
    CHECK(w.forces[1] == doctest::Approx(-2 * B / H).epsilon(1e-15));
    CHECK(w.forces[3] == doctest::Approx(0.5 * B / H).epsilon(1e-15));
    CHECK(w.forces[5] == doctest::Approx(-0.25 * B / H).epsilon(1e-15));
    for (int k = 0; k < 9; ++k) CHECK(w.virial[k] == doctest::Approx((k + 1) / H).epsilon(1e-15));
    CHECK(w.extras == extras_json(r.extras));

    // Replays send the recorded extras text as it is.
    const auto back = result_from_wire(w);
    CHECK(back.energy == doctest::Approx(r.energy).epsilon(1e-15));
    CHECK((back.forces - r.forces).norm() < 1e-14);
    CHECK((back.virial - r.virial).norm() < 1e-14);
    CHECK(back.extras.empty());
    REQUIRE(back.verbatim_extras.has_value());
    CHECK(*back.verbatim_extras == w.extras);
    CHECK(result_to_wire(back, 2).extras == w.extras);
}

TEST_CASE("protocol conversion: extras go out as a JSON object in atomic units") {
    const double B = units::kBohrInAngstrom;
    Extras extras;
    CHECK(extras_json(extras) == " ");  // none: one space, as i-PI's Fortran driver sends (ASE chokes on "{}")

    RowMatrix rows(2, 3);
    rows << 1, -2, 3, 0.5, 0, -0.25;
    extras.add_vector("dipole", ExtraUnit::Dipole, Eigen::RowVector3d(0.1, 0.2, 0.3));
    extras.add_vector("polarization", ExtraUnit::Polarization, Eigen::RowVector3d(1e-3, 0, -2e-3));
    extras.add_rows("partial_dipoles", ExtraUnit::Dipole, rows);
    extras.add_rows("BEC", ExtraUnit::Charge, rows);
    extras.add_vector("count", ExtraUnit::Dimensionless, Eigen::RowVector2d(7, 0.1));
    const std::string text = extras_json(extras);
    // Keys sorted, no spaces, shortest round-trip numbers.
    CHECK(text.rfind("{\"BEC\":[[1.0,-2.0,3.0],[0.5,0.0,-0.25]],\"count\":[7.0,0.1],\"dipole\":[", 0) == 0);
    const auto j = nlohmann::json::parse(text);
    for (int a = 0; a < 3; ++a) CHECK(j["dipole"][a].get<double>() == Eigen::Vector3d(0.1, 0.2, 0.3)[a] / B);
    CHECK(j["polarization"][0].get<double>() == 1e-3 * units::kBohrSquaredInAngstromSquared);
    CHECK(j["polarization"][0].get<double>() == doctest::Approx(1e-3 * B * B).epsilon(1e-15));
    CHECK(j["partial_dipoles"][1][2].get<double>() == -0.25 / B);
    CHECK(j["BEC"][1][2].get<double>() == -0.25);

    Extras bad;
    RowMatrix nan_rows = rows;
    nan_rows(1, 2) = std::numeric_limits<double>::quiet_NaN();
    bad.add_rows("partial_dipoles", ExtraUnit::Dipole, nan_rows);
    CHECK(thrown_message([&] { extras_json(bad); }) == "extras 'partial_dipoles': non-finite value at row 1, column 2");
    Extras twice;
    twice.add_vector("dipole", ExtraUnit::Dipole, Eigen::RowVector3d(0, 0, 0));
    twice.add_vector("dipole", ExtraUnit::Dipole, Eigen::RowVector3d(0, 0, 0));
    CHECK_THROWS_AS(extras_json(twice), std::logic_error);
}

TEST_CASE("protocol conversion: non-finite and singular input from i-PI is rejected clearly") {
    auto s = triclinic_structure();
    s.positions[4] = std::numeric_limits<double>::quiet_NaN();
    CHECK(thrown_message([&] { frame_from_wire(s, true); }).find("non-finite position (atom 1, y)") !=
          std::string::npos);

    s = triclinic_structure();
    s.h[8] = std::numeric_limits<double>::infinity();
    CHECK(thrown_message([&] { frame_from_wire(s, false); }).find("non-finite cell") != std::string::npos);

    // i-PI's zero placeholder cell (h^-1 infinite): fine for a non-periodic model, an error otherwise.
    s = triclinic_structure();
    s.h.fill(0.0);
    s.h_inv.fill(std::numeric_limits<double>::infinity());
    CHECK_NOTHROW(frame_from_wire(s, false));
    CHECK(thrown_message([&] { frame_from_wire(s, true); }).find("singular cell") != std::string::npos);

    // Flat cell: c in the a-b plane.
    s = triclinic_structure();
    s.h = {10, 0, 5, 0, 10, 5, 0, 0, 0};
    CHECK_THROWS_AS(frame_from_wire(s, true), wire::ProtocolError);
}

TEST_CASE("protocol conversion: results i-PI cannot digest are refused before sending") {
    ForceResult ok;
    ok.forces = Matrix3N::Zero(2, 3);
    CHECK_NOTHROW(result_to_wire(ok, 2));
    CHECK(thrown_message([&] { result_to_wire(ok, 3); }).find("forces for 2 atoms, expected 3") !=
          std::string::npos);

    auto bad = ok;
    bad.energy = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS(result_to_wire(bad, 2));
    bad = ok;
    bad.forces(1, 2) = std::numeric_limits<double>::infinity();
    CHECK_THROWS(result_to_wire(bad, 2));
    bad = ok;
    bad.virial(2, 0) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS(result_to_wire(bad, 2));

    auto r = ok;
    r.verbatim_extras = "{\"raw\": 1}";
    CHECK_THROWS_AS(result_to_wire(r, 2), std::runtime_error);  // extras are checked (extras_check.hpp)
    r = ok;
    r.extras.add_vector("raw", ExtraUnit::Dimensionless, Eigen::RowVector3d(1, 2, 3));
    CHECK_THROWS_AS(result_to_wire(r, 2), std::runtime_error);
    r = ok;
    r.extras.add_vector("dipole", ExtraUnit::Dipole, Eigen::RowVector3d(0, std::numeric_limits<double>::infinity(), 0));
    CHECK(thrown_message([&] { result_to_wire(r, 2); }) == "extras 'dipole': non-finite value at row 0, column 1");
}
