// i-PI's xyz comment line (`# CELL(abcABC): ...`): the cell and units i-PI itself would read, so that
// `gapd predict` on an i-PI xyz file computes the same periodic structure as on the equivalent extxyz.

#include "models/core/units.hpp"
#include "models/formats/extxyz.hpp"
#include "models/formats/ipi_xyz_comment.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace gapd;
using namespace gapd::testing;

namespace {
double angle_deg(const Eigen::Vector3d& u, const Eigen::Vector3d& v) {
    return std::acos(u.dot(v) / (u.norm() * v.norm())) * 180.0 / 3.14159265358979323846;
}
}  // namespace

TEST_CASE("i-PI CELL(abcABC): lengths and angles as given, a along x, b in the xy plane") {
    const auto c = parse_ipi_xyz_comment("# CELL(abcABC): 4.0 5.0 6.0 80.0 95.0 110.0 cell{angstrom} positions{angstrom}");
    REQUIRE(c);
    const Eigen::Matrix3d& h = c->cell;
    CHECK(h.row(0).norm() == doctest::Approx(4.0).epsilon(1e-14));
    CHECK(h.row(1).norm() == doctest::Approx(5.0).epsilon(1e-14));
    CHECK(h.row(2).norm() == doctest::Approx(6.0).epsilon(1e-14));
    CHECK(angle_deg(h.row(1), h.row(2)) == doctest::Approx(80.0).epsilon(1e-12));
    CHECK(angle_deg(h.row(0), h.row(2)) == doctest::Approx(95.0).epsilon(1e-12));
    CHECK(angle_deg(h.row(0), h.row(1)) == doctest::Approx(110.0).epsilon(1e-12));
    CHECK(h(0, 1) == 0.0);
    CHECK(h(0, 2) == 0.0);
    CHECK(h(1, 2) == 0.0);
    CHECK(c->position_scale == 1.0);
}

TEST_CASE("i-PI comment units: atomic units without a hint (as i-PI reads xyz), {angstrom} and friends") {
    auto c = parse_ipi_xyz_comment("# CELL(abcABC): 10 10 10 90 90 90 Step: 0 Bead: 0");
    REQUIRE(c);
    CHECK(c->cell(0, 0) == doctest::Approx(10 * units::kBohrInAngstrom).epsilon(1e-15));
    CHECK(c->position_scale == units::kBohrInAngstrom);
    c = parse_ipi_xyz_comment("# CELL(abcABC): 8 8 8 90 90 90 cell{atomic_unit} positions{angstrom}");
    REQUIRE(c);
    CHECK(c->cell(2, 2) == doctest::Approx(8 * units::kBohrInAngstrom).epsilon(1e-15));
    CHECK(c->position_scale == 1.0);
    c = parse_ipi_xyz_comment("# CELL(abcABC): 0.8 0.8 0.8 90 90 90 cell{nanometer} x_centroid{nanometer}");
    REQUIRE(c);
    CHECK(c->cell(1, 1) == doctest::Approx(8.0).epsilon(1e-15));
    CHECK(c->position_scale == 10.0);
}

TEST_CASE("i-PI CELL(H) lists lattice vectors as columns, CELL(GENH) as rows") {
    auto c = parse_ipi_xyz_comment("# CELL(H): 4 1 0 0 5 0 0 0 6 cell{angstrom} positions{angstrom}");
    REQUIRE(c);
    CHECK(c->cell.row(1).transpose().isApprox(Eigen::Vector3d(1, 5, 0)));
    c = parse_ipi_xyz_comment("# CELL[GENH]: 4 1 0 0 5 0 0 0 6 cell{angstrom} positions{angstrom}");
    REQUIRE(c);
    CHECK(c->cell.row(0).transpose().isApprox(Eigen::Vector3d(4, 1, 0)));
}

TEST_CASE("not an i-PI comment, and i-PI comments gapd must not guess at") {
    CHECK(!parse_ipi_xyz_comment("Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3"));
    CHECK(!parse_ipi_xyz_comment("a free-text comment mentioning a CELL"));
    auto error = [](const char* text) { return error_of([&] { parse_ipi_xyz_comment(text); }); };
    CHECK(error("# CELL(abcABC): 4 4 90 90 90") == "i-PI comment: CELL(abcABC) needs 6 numbers, found 5");
    CHECK(error("# CELL(abcABC): 4 4 4 90 90 90 cell{furlong}").find("cell{furlong}: unknown length unit") !=
          std::string::npos);
    CHECK(error("# CELL(abcABC): 4 4 4 90 90 90 forces{piconewton}") ==
          "i-PI comment: this is an i-PI 'forces' trajectory, not positions");
    CHECK(error("# CELL(H): 1 0 0 0 1 0 0 0 0") == "i-PI comment: CELL(H) describes a cell without volume");
    CHECK(error("# CELL(XYZ): 1 2 3") == "i-PI comment: unknown cell format CELL(XYZ)");
}

TEST_CASE("read_extxyz on an i-PI xyz file: the periodic structure of the equivalent extxyz, no junk info keys") {
    TempDir dir;
    write_bytes(dir.file("ipi.xyz"),
                "2\n# CELL(abcABC): 4.0 4.0 4.0 90.0 90.0 90.0 cell{angstrom} positions{angstrom}\n"
                "Ba 0.0 0.0 0.0\nTi 2.0 2.1 1.9\n"
                "2\n# CELL(abcABC): 7.5589045 7.5589045 7.5589045 90 90 90 Step: 10\nBa 0 0 0\nTi 3.7 3.8 3.75\n");
    write_bytes(dir.file("ase.extxyz"),
                "2\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3\nBa 0.0 0.0 0.0\nTi 2.0 2.1 1.9\n");
    const auto ipi = read_extxyz(dir.file("ipi.xyz"));
    const auto ase = read_extxyz(dir.file("ase.extxyz"));
    REQUIRE(ipi.size() == 2);
    CHECK(ipi[0].structure.cell.isApprox(ase[0].structure.cell, 1e-15));
    CHECK(ipi[0].structure.positions == ase[0].structure.positions);
    CHECK(ipi[0].structure.pbc == std::array<bool, 3>{true, true, true});
    CHECK(ipi[0].info.empty());
    CHECK(ipi[0].periodicity_given);
    CHECK(ipi[1].structure.positions(1, 0) == doctest::Approx(3.7 * units::kBohrInAngstrom).epsilon(1e-15));
    require_periodicity_given(ipi, dir.file("ipi.xyz"));
}

TEST_CASE("a frame that says nothing about periodicity is refused by name; pbc=\"F F F\" means a cluster") {
    TempDir dir;
    write_bytes(dir.file("mixed.xyz"),
                "1\nLattice=\"4 0 0 0 4 0 0 0 4\"\nO 0 0 0\n1\npbc=\"F F F\"\nO 0 0 0\n1\nplain comment\nO 0 0 0\n");
    const auto frames = read_extxyz(dir.file("mixed.xyz"));
    CHECK(frames[0].periodicity_given);
    CHECK(frames[1].periodicity_given);
    CHECK(!frames[2].periodicity_given);
    const std::string e = error_of([&] { require_periodicity_given(frames, dir.file("mixed.xyz")); });
    CHECK(e.find(dir.file("mixed.xyz") + ": frame 2 (0-based) has no cell") == 0);
    CHECK(e.find("--clusters") != std::string::npos);
}
