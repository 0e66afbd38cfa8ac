// Issue #18: the neighbour list's bounds on work (pairs) and on how far from its cell an atom may be.
#include "models/descriptors/neighbour_list.hpp"

#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <string>

using namespace gapd;

namespace {

constexpr double kBohr = 0.529177210903;  // Å

// n atoms at random in a cube of edge `edge` Å (kept >= 1e-6 Å apart by construction of the grid).
Structure cube(double edge, int n) {
    Structure s;
    s.cell = edge * Eigen::Matrix3d::Identity();
    s.positions.resize(n, 3);
    for (int i = 0; i < n; ++i)
        s.positions.row(i) = Eigen::RowVector3d((i % 4) + 0.5, ((i / 4) % 4) + 0.5, (i / 16) + 0.5) * (edge / 4.0);
    s.numbers.assign(static_cast<std::size_t>(n), 8);
    return s;
}

std::string error_of(const Structure& s, double cutoff, const NeighbourListLimits& limits = {}) {
    try {
        build_neighbour_list(s, cutoff, limits);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The 5-atom BaTiO3 cell of test_neighbour_list.cpp: 250 entries at 5.5 Å.
Structure batio3() {
    Structure s;
    s.cell = 4.0 * Eigen::Matrix3d::Identity();
    s.positions.resize(5, 3);
    s.positions << 0.10288569, 0.16419200, 0.11467195, 1.90268205, 1.86071999, 2.00671964, 2.08613509, 2.05091868,
        0.18102856, 2.07508435, 0.06397596, 1.92686775, 3.88922830, 2.14844056, 2.00489124;
    s.numbers = {56, 22, 8, 8, 8};
    return s;
}

}  // namespace

TEST_CASE("neighbour limits: a 0.1 Bohr or 1 Bohr cell is refused before anything is allocated") {
    for (double edge_bohr : {0.1, 1.0}) {
        CAPTURE(edge_bohr);
        const std::string error = error_of(cube(edge_bohr * kBohr, 40), 5.5);
        CHECK_MESSAGE(contains(error, "far too dense for the cutoff: 40 atoms in a cell with edges ("), error);
        CHECK_MESSAGE(contains(error, "--max-pairs"), error);
        CHECK(error.size() < 600);
    }
}

TEST_CASE("neighbour limits: real densities pass; --max-pairs lowers the total") {
    const Structure s = batio3();
    CHECK(build_neighbour_list(s, 5.5, NeighbourListLimits{}).size() == 250);
    NeighbourListLimits tight;
    tight.max_pairs = 100;
    const std::string error = error_of(s, 5.5, tight);
    CHECK_MESSAGE(contains(error, "5 atoms in a cell with edges (4, 4, 4) Å, volume 64 Å^3"), error);
    CHECK_MESSAGE(contains(error, "100 in all (--max-pairs)"), error);

    // The process-wide limits (set by the CLI) are what the two-argument form uses.
    const NeighbourListLimits saved = neighbour_list_limits();
    set_neighbour_list_limits(tight);
    CHECK_THROWS_AS(build_neighbour_list(s, 5.5), std::invalid_argument);
    set_neighbour_list_limits(saved);
    CHECK(build_neighbour_list(s, 5.5).size() == 250);
}

TEST_CASE("neighbour limits: an atom absurdly many cells away is refused, naming it") {
    const Structure s = batio3();
    const NeighbourList reference = build_neighbour_list(s, 5.5);
    for (double cells : {1e14, 1e15, -1e7}) {
        CAPTURE(cells);
        Structure far = s;
        far.positions.row(3) += cells * far.cell.row(0);
        const std::string error = error_of(far, 5.5);
        CHECK_MESSAGE(contains(error, "atom 3 is "), error);
        CHECK_MESSAGE(contains(error, "cells away along lattice vector 0"), error);
        CHECK_MESSAGE(contains(error, "wrap the positions"), error);
    }
    // Within the bound the image chosen does not matter (to rounding of the shifted position).
    Structure near = s;
    near.positions.row(3) += 1e5 * near.cell.row(1);
    const NeighbourList moved = build_neighbour_list(near, 5.5);
    REQUIRE(moved.size() == reference.size());
    CHECK((moved.vectors - reference.vectors).cwiseAbs().maxCoeff() < 1e-9);
    CHECK(moved.neighbour == reference.neighbour);
}
