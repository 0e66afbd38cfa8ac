// Ti-centred unit-cell dipoles: the 5-atom cell gives M, supercells match an index-arithmetic reference and
// sum to M, and mis-assigned atoms are clear errors.

#include "lambda1_fixtures.hpp"
#include "models/dipoles/cell_dipoles.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace gapd;
using namespace gapd::testing;

namespace {

// Cubic ABO3 supercell, atoms of cell (i, j, k) at index 5 * ((i*n + j)*n + k) + {A, B, O_z, O_y, O_x};
// A at the corner, B at the centre, O at the face centres, each displaced by up to `jiggle` Å.
Structure perovskite(int n, int a_site, double lattice, double jiggle, unsigned seed) {
    const double basis[5][3] = {{0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    const int numbers[5] = {a_site, 22, 8, 8, 8};
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-jiggle, jiggle);
    Structure s;
    s.cell = Eigen::Matrix3d::Identity() * lattice * n;
    s.positions.resize(5 * n * n * n, 3);
    for (int i = 0, k = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
            for (int l = 0; l < n; ++l)
                for (int b = 0; b < 5; ++b, ++k) {
                    s.numbers.push_back(numbers[b]);
                    const int cell[3] = {i, j, l};
                    for (int a = 0; a < 3; ++a) s.positions(k, a) = lattice * (cell[a] + basis[b][a]) + u(rng);
                }
    return s;
}

Matrix3N random_dipoles(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g;
    Matrix3N m(n, 3);
    for (std::size_t i = 0; i < n; ++i)
        for (int a = 0; a < 3; ++a) m(i, a) = g(rng);
    return m;
}

}  // namespace

TEST_CASE("5-atom cell: the Ti sees two images of each O and eight of the Ba, so its cell dipole is M") {
    Structure s = perovskite(1, 56, 4.0, 0.1, 1);
    s.positions.row(3) += s.cell.row(1);  // unwrapped positions change nothing
    const Matrix3N mu = random_dipoles(5, 2);
    const CellDipoles cells = compute_cell_dipoles(s, mu, CellDipoleRoles{});
    REQUIRE(cells.centres == std::vector<int>{1});
    CHECK((cells.dipoles.row(0) - mu.colwise().sum()).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("supercells: each Ti gets its own cell's O and Ba shares (index arithmetic), and the sum is M") {
    for (int n : {2, 3}) {
        CAPTURE(n);
        const Structure s = perovskite(n, 56, 4.0, 0.15, 3 + n);
        const Matrix3N mu = random_dipoles(s.size(), 4 + n);
        const CellDipoles cells = compute_cell_dipoles(s, mu, CellDipoleRoles{});
        REQUIRE(static_cast<int>(cells.centres.size()) == n * n * n);
        auto index = [n](int i, int j, int l, int b) {
            return 5 * ((((i % n) * n + (j % n)) * n) + (l % n)) + b;
        };
        double dev = 0.0;
        for (int i = 0, c = 0; i < n; ++i)
            for (int j = 0; j < n; ++j)
                for (int l = 0; l < n; ++l, ++c) {
                    CHECK(cells.centres[c] == index(i, j, l, 1));
                    Eigen::RowVector3d expected = mu.row(index(i, j, l, 1));
                    // O at the faces: own cell's three plus the next cell's along each axis.
                    expected += 0.5 * (mu.row(index(i, j, l, 2)) + mu.row(index(i, j, l + 1, 2)));
                    expected += 0.5 * (mu.row(index(i, j, l, 3)) + mu.row(index(i, j + 1, l, 3)));
                    expected += 0.5 * (mu.row(index(i, j, l, 4)) + mu.row(index(i + 1, j, l, 4)));
                    for (int di = 0; di < 2; ++di)
                        for (int dj = 0; dj < 2; ++dj)
                            for (int dl = 0; dl < 2; ++dl)
                                expected += 0.125 * mu.row(index(i + di, j + dj, l + dl, 0));
                    dev = std::max(dev, (cells.dipoles.row(c) - expected).cwiseAbs().maxCoeff());
                }
        CHECK(dev < 1e-14);
        CHECK((cells.dipoles.colwise().sum() - mu.colwise().sum()).cwiseAbs().maxCoeff() < 1e-12);
    }
}

TEST_CASE("cell dipoles of the distorted triclinic fixture and of another A site sum to M") {
    const Structure s = structure_from_json(read_lambda1_fixture("small_invTrue").at("structures").at("bto_40atom_triclinic"));
    const Matrix3N mu = random_dipoles(s.size(), 9);
    const CellDipoles cells = compute_cell_dipoles(s, mu, CellDipoleRoles{});
    CHECK(cells.centres.size() == 8);
    CHECK((cells.dipoles.colwise().sum() - mu.colwise().sum()).cwiseAbs().maxCoeff() < 1e-12);

    CellDipoleRoles strontium;
    strontium.a_site = 38;
    const Structure sto = perovskite(2, 38, 3.9, 0.1, 5);
    const Matrix3N mu2 = random_dipoles(sto.size(), 6);
    const CellDipoles c2 = compute_cell_dipoles(sto, mu2, strontium);
    CHECK((c2.dipoles.colwise().sum() - mu2.colwise().sum()).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("cell dipoles: wrong shells, unknown species and bad input are errors naming the atom") {
    const Structure s = perovskite(2, 56, 4.0, 0.05, 7);
    const Matrix3N mu = random_dipoles(s.size(), 8);
    CellDipoleRoles roles;
    roles.o_shell = 1.5;
    CHECK_THROWS_WITH_AS(compute_cell_dipoles(s, mu, roles), doctest::Contains("O atom 2 (Z=8) is within 1.5 Å of 0"),
                         std::invalid_argument);
    roles = CellDipoleRoles{};
    roles.a_shell = 3.0;
    CHECK_THROWS_WITH_AS(compute_cell_dipoles(s, mu, roles), doctest::Contains("A-site atom 0 (Z=56)"),
                         std::invalid_argument);
    roles = CellDipoleRoles{};
    roles.o_shell = 4.6;  // reaches the second B-O shell at sqrt(1.25) a = 4.47 Å: 10 B-site images per O
    CHECK_THROWS_WITH_AS(compute_cell_dipoles(s, mu, roles), doctest::Contains("of 10 B-site (Z=22) images, expected 2"),
                         std::invalid_argument);
    Structure strange = s;
    strange.numbers[7] = 38;
    CHECK_THROWS_WITH_AS(compute_cell_dipoles(strange, mu, CellDipoleRoles{}), doctest::Contains("atom 7 has atomic number 38"),
                         std::invalid_argument);
    CHECK_THROWS_AS(compute_cell_dipoles(s, random_dipoles(3, 1), CellDipoleRoles{}), std::invalid_argument);
    roles = CellDipoleRoles{};
    roles.a_shell = 0.0;
    CHECK_THROWS_AS(compute_cell_dipoles(s, mu, roles), std::invalid_argument);
}
