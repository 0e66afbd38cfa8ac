#include "models/descriptors/neighbour_list.hpp"

#include <doctest/doctest.h>
#include <Eigen/Geometry>
#include <Eigen/LU>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef GAPD_TEST_DATA_DIR
#define GAPD_TEST_DATA_DIR "tests/data"  // standalone builds run from the repository root
#endif

using gapd::Matrix3N;
using gapd::NeighbourList;
using gapd::Structure;
using gapd::build_neighbour_list;

namespace {

struct Entry {
    int j;
    Eigen::RowVector3d v;
};
using Entries = std::vector<std::vector<Entry>>;  // per centre

Entries entries_of(const NeighbourList& nl) {
    REQUIRE(!nl.offsets.empty());
    const std::size_t n = nl.offsets.size() - 1;
    REQUIRE(nl.offsets.front() == 0);
    REQUIRE(nl.offsets.back() == nl.size());
    REQUIRE(static_cast<std::size_t>(nl.vectors.rows()) == nl.size());
    Entries out(n);
    for (std::size_t i = 0; i < n; ++i) {
        REQUIRE(nl.offsets[i] <= nl.offsets[i + 1]);
        for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e)
            out[i].push_back({nl.neighbour[e], nl.vectors.row(e)});
    }
    return out;
}

// O(N^2 x images) reference: for every pair, every lattice translation that can reach within the cutoff given
// the pair's actual fractional separation (positions need not be wrapped).
Entries brute_force(const Structure& s, double cutoff) {
    const int n = static_cast<int>(s.size());
    Entries out(n);
    Eigen::Matrix3d inverse = Eigen::Matrix3d::Identity();
    if (s.any_periodic()) inverse = s.cell.inverse();  // callers give full-rank cells when anything is periodic
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            const Eigen::RowVector3d d = s.positions.row(j) - s.positions.row(i);
            const Eigen::RowVector3d df = d * inverse;
            std::array<int, 3> lo{}, hi{};
            for (int k = 0; k < 3; ++k) {
                if (!s.pbc[k]) continue;
                const double reach = cutoff * inverse.col(k).norm();
                lo[k] = static_cast<int>(std::floor(-df[k] - reach)) - 1;
                hi[k] = static_cast<int>(std::ceil(-df[k] + reach)) + 1;
            }
            for (int a = lo[0]; a <= hi[0]; ++a)
                for (int b = lo[1]; b <= hi[1]; ++b)
                    for (int c = lo[2]; c <= hi[2]; ++c) {
                        if (i == j && a == 0 && b == 0 && c == 0) continue;
                        const Eigen::RowVector3d t = a * s.cell.row(0) + b * s.cell.row(1) + c * s.cell.row(2);
                        const Eigen::RowVector3d v = (s.positions.row(j) + t) - s.positions.row(i);
                        if (v.squaredNorm() <= cutoff * cutoff) out[i].push_back({j, v});
                    }
        }
    return out;
}

// Same multiset of (j, r_ij) for every centre, vectors within tol. Returns the largest vector difference.
double check_same_entries(const Entries& got, const Entries& want, double tol) {
    REQUIRE(got.size() == want.size());
    double max_diff = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        REQUIRE(got[i].size() == want[i].size());
        std::vector<bool> used(want[i].size(), false);
        for (const Entry& g : got[i]) {
            std::size_t best = want[i].size();
            double best_diff = tol;
            for (std::size_t w = 0; w < want[i].size(); ++w) {
                if (used[w] || want[i][w].j != g.j) continue;
                const double diff = (want[i][w].v - g.v).cwiseAbs().maxCoeff();
                if (diff <= best_diff) {
                    best_diff = diff;
                    best = w;
                }
            }
            CAPTURE(g.j);
            CAPTURE(g.v);
            REQUIRE(best < want[i].size());
            used[best] = true;
            max_diff = std::max(max_diff, best_diff);
        }
    }
    return max_diff;
}

Eigen::Matrix3d random_cell(std::mt19937_64& rng, double min_length, double max_length, double skew) {
    std::uniform_real_distribution<double> length(min_length, max_length), unit(-1.0, 1.0);
    Eigen::Matrix3d cell;
    while (true) {
        // Upper-triangular-ish start, then off-diagonal shear up to `skew` times the lengths, then a rotation.
        for (int k = 0; k < 3; ++k) {
            cell.row(k) = Eigen::RowVector3d::Zero();
            cell(k, k) = length(rng);
            for (int c = 0; c < 3; ++c)
                if (c != k) cell(k, c) = skew * unit(rng) * cell(k, k);
        }
        if (std::abs(cell.determinant()) > 0.02 * cell.row(0).norm() * cell.row(1).norm() * cell.row(2).norm())
            break;
    }
    std::normal_distribution<double> gauss(0.0, 1.0);
    const Eigen::Quaterniond q(gauss(rng), gauss(rng), gauss(rng), gauss(rng));
    return cell * q.normalized().toRotationMatrix().transpose();
}

Structure random_structure(std::mt19937_64& rng, const Eigen::Matrix3d& cell, int n, std::array<bool, 3> pbc) {
    std::uniform_real_distribution<double> frac(0.0, 1.0);
    Structure s;
    s.cell = cell;
    s.pbc = pbc;
    s.positions.resize(n, 3);
    for (int i = 0; i < n; ++i) {
        const Eigen::RowVector3d f(frac(rng), frac(rng), frac(rng));
        s.positions.row(i) = f * cell;
    }
    s.numbers.assign(n, 8);
    return s;
}

// Each entry (i, j, v) has its mirror (j, i, -v).
void check_symmetric(const Entries& e, double tol) {
    for (std::size_t i = 0; i < e.size(); ++i)
        for (const Entry& a : e[i]) {
            bool found = false;
            for (const Entry& b : e[a.j])
                if (b.j == static_cast<int>(i) && (b.v + a.v).cwiseAbs().maxCoeff() <= tol) found = true;
            REQUIRE(found);
        }
}

std::string error_of(const Structure& s, double cutoff) {
    try {
        build_neighbour_list(s, cutoff);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Minimal extxyz reading for the frames of tests/data/librascal/structures.extxyz: Lattice, pbc, species, pos.
std::vector<Structure> read_librascal_frames() {
    std::ifstream in(std::string(GAPD_TEST_DATA_DIR) + "/librascal/structures.extxyz");
    REQUIRE(in.is_open());
    std::vector<Structure> frames;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const int n = std::stoi(line);
        std::string header;
        std::getline(in, header);
        const auto start = header.find("Lattice=\"") + 9;
        std::istringstream lattice(header.substr(start, header.find('"', start) - start));
        Structure s;
        for (int k = 0; k < 3; ++k)
            for (int c = 0; c < 3; ++c) lattice >> s.cell(k, c);
        REQUIRE(contains(header, "pbc=\"T T T\""));
        s.positions.resize(n, 3);
        for (int i = 0; i < n; ++i) {
            std::getline(in, line);
            std::istringstream atom(line);
            std::string species;
            atom >> species >> s.positions(i, 0) >> s.positions(i, 1) >> s.positions(i, 2);
            s.numbers.push_back(species == "Ba" ? 56 : species == "Ti" ? 22 : 8);
        }
        frames.push_back(s);
    }
    return frames;
}

}  // namespace

TEST_CASE("neighbour list: 5-atom 4 Å BaTiO3 cell (first frame of structures.extxyz)") {
    // Positions copied from tests/data/librascal/structures.extxyz, frame bto_5atom_cubic.
    Structure s;
    s.cell = 4.0 * Eigen::Matrix3d::Identity();
    s.positions.resize(5, 3);
    s.positions << 0.10288569, 0.16419200, 0.11467195,  // Ba
        1.90268205, 1.86071999, 2.00671964,              // Ti
        2.08613509, 2.05091868, 0.18102856,              // O
        2.07508435, 0.06397596, 1.92686775,              // O
        3.88922830, 2.14844056, 2.00489124;              // O
    s.numbers = {56, 22, 8, 8, 8};
    const NeighbourList nl = build_neighbour_list(s, 5.5);
    // 250 entries (30 of them self images at +-4 Å along x, y, z), counted independently with a plain triple
    // loop over translations; librascal's |r|^2 <= rc^2 convention.
    CHECK(nl.size() == 250);
    std::size_t self_images = 0;
    for (int i = 0; i < 5; ++i)
        for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e)
            if (nl.neighbour[e] == i) {
                ++self_images;
                CHECK(nl.vectors.row(e).norm() == doctest::Approx(4.0).epsilon(1e-14));
            }
    CHECK(self_images == 30);
    const Entries got = entries_of(nl);
    CHECK(check_same_entries(got, brute_force(s, 5.5), 1e-12) < 1e-12);
    check_symmetric(got, 1e-12);
    CHECK(build_neighbour_list(s, 5.0).size() == 224);
}

TEST_CASE("neighbour list: all frames of structures.extxyz against brute force") {
    for (const Structure& s : read_librascal_frames()) {
        CAPTURE(s.size());
        for (double rc : {5.0, 5.5}) {
            const double diff = check_same_entries(entries_of(build_neighbour_list(s, rc)), brute_force(s, rc), 1e-11);
            CHECK(diff < 1e-11);
        }
    }
}

TEST_CASE("neighbour list: self images of a single atom in a 2 Å cube") {
    // Lattice points n != 0 with |2n| <= 5.5, i.e. |n|^2 <= 7: 6 + 12 + 8 + 6 + 24 + 24 = 80.
    Structure s;
    s.cell = 2.0 * Eigen::Matrix3d::Identity();
    s.positions = Matrix3N::Constant(1, 3, 0.3);
    s.numbers = {1};
    const NeighbourList nl = build_neighbour_list(s, 5.5);
    CHECK(nl.size() == 80);
    for (std::size_t e = 0; e < nl.size(); ++e) CHECK(nl.neighbour[e] == 0);
}

TEST_CASE("neighbour list: |r_ij| == cutoff is included") {
    // The +-4 Å self images are exactly at the cutoff (4^2 == 16 exactly in floating point).
    Structure s;
    s.cell = 4.0 * Eigen::Matrix3d::Identity();
    s.positions = Matrix3N::Zero(1, 3);
    s.numbers = {1};
    CHECK(build_neighbour_list(s, 4.0).size() == 6);
    CHECK(build_neighbour_list(s, std::nextafter(4.0, 0.0)).size() == 0);
}

TEST_CASE("neighbour list: random triclinic cells against brute force") {
    std::mt19937_64 rng(2024);
    struct Case {
        double min_length, max_length, skew, cutoff;
        int atoms;
    };
    const Case cases[] = {
        {6.0, 10.0, 0.3, 5.5, 30},  // ordinary triclinic
        {6.0, 10.0, 1.5, 5.5, 20},  // very skewed
        {3.0, 5.0, 0.5, 5.5, 8},    // shorter than the cutoff
        {2.0, 2.2, 0.4, 5.5, 3},    // much shorter than the cutoff: hundreds of images
        {1.0, 12.0, 2.0, 4.0, 12},  // lengths spread over an order of magnitude, strongly sheared
        {8.0, 9.0, 0.1, 2.5, 60},   // many bins
    };
    for (const Case& c : cases)
        for (int rep = 0; rep < 6; ++rep) {
            CAPTURE(c.min_length);
            CAPTURE(c.skew);
            CAPTURE(rep);
            Eigen::Matrix3d cell = random_cell(rng, c.min_length, c.max_length, c.skew);
            if (rep % 2 == 1) cell.row(0).swap(cell.row(1));  // left-handed
            const Structure s = random_structure(rng, cell, c.atoms, {{true, true, true}});
            const NeighbourList nl = build_neighbour_list(s, c.cutoff);
            const Entries got = entries_of(nl);
            CHECK(check_same_entries(got, brute_force(s, c.cutoff), 1e-11) < 1e-11);
            check_symmetric(got, 1e-11);
        }
}

TEST_CASE("neighbour list: unwrapped positions give the same entries") {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> shift(-40, 40);
    for (double min_length : {2.0, 4.0, 7.0}) {
        CAPTURE(min_length);
        const Structure s = random_structure(rng, random_cell(rng, min_length, min_length + 3.0, 0.6), 10,
                                             {{true, true, true}});
        Structure moved = s;
        for (Eigen::Index i = 0; i < moved.positions.rows(); ++i) {
            const Eigen::RowVector3d t(shift(rng), shift(rng), shift(rng));
            moved.positions.row(i) += t * s.cell;
        }
        const Entries reference = entries_of(build_neighbour_list(s, 5.5));
        const Entries got = entries_of(build_neighbour_list(moved, 5.5));
        // Translations of up to 40 cells cost ~1e-13 Å of rounding.
        CHECK(check_same_entries(got, reference, 1e-10) < 1e-10);
        CHECK(check_same_entries(got, brute_force(moved, 5.5), 1e-10) < 1e-10);
    }
}

TEST_CASE("neighbour list: atoms exactly on the cell boundary") {
    std::mt19937_64 rng(11);
    const double fractions[][3] = {{0.0, 0.3, 0.6}, {1.0, 0.7, 0.2}, {0.25, 1.0, 0.0}, {0.5, 0.5, 1.0},
                                   {1.0, 1.0, 0.5}, {0.0, 0.0, 0.0}, {0.75, 0.0, 1.0}, {-0.0, 0.9, 0.35}};
    for (double length : {2.5, 4.0, 9.0}) {
        for (double skew : {0.0, 0.5}) {
            CAPTURE(length);
            CAPTURE(skew);
            const Eigen::Matrix3d cell = skew == 0.0 ? Eigen::Matrix3d(length * Eigen::Matrix3d::Identity())
                                                     : random_cell(rng, length, length * 1.2, skew);
            Structure s;
            s.cell = cell;
            s.positions.resize(8, 3);
            for (int i = 0; i < 8; ++i)
                s.positions.row(i) = Eigen::RowVector3d(fractions[i][0], fractions[i][1], fractions[i][2]) * cell;
            s.numbers.assign(8, 22);
            CHECK(check_same_entries(entries_of(build_neighbour_list(s, 5.5)), brute_force(s, 5.5), 1e-11) < 1e-11);
        }
    }
}

TEST_CASE("neighbour list: non-periodic directions") {
    std::mt19937_64 rng(5);
    const std::array<bool, 3> patterns[] = {{{true, true, false}}, {{false, true, true}}, {{true, false, false}},
                                            {{false, true, false}}, {{false, false, false}}};
    for (const auto& pbc : patterns)
        for (double min_length : {2.5, 6.0}) {
            CAPTURE(pbc[0]);
            CAPTURE(pbc[1]);
            CAPTURE(pbc[2]);
            CAPTURE(min_length);
            const Structure s = random_structure(rng, random_cell(rng, min_length, min_length + 5.0, 0.5), 15, pbc);
            CHECK(check_same_entries(entries_of(build_neighbour_list(s, 5.5)), brute_force(s, 5.5), 1e-11) < 1e-11);

            // The cell rows of non-periodic directions are ignored: zeroing them changes nothing.
            Structure zeroed = s;
            for (int k = 0; k < 3; ++k)
                if (!pbc[k]) zeroed.cell.row(k).setZero();
            CHECK(check_same_entries(entries_of(build_neighbour_list(zeroed, 5.5)),
                                     entries_of(build_neighbour_list(s, 5.5)), 1e-12) < 1e-12);
        }

    // Extents much larger than the cutoff along the non-periodic directions (several bins along them): a slab
    // with 40 Å of vacuum range, a wire, and a cluster.
    for (const auto& pbc : {std::array<bool, 3>{{true, true, false}}, std::array<bool, 3>{{false, true, false}},
                            std::array<bool, 3>{{false, false, false}}}) {
        Eigen::Matrix3d cell = random_cell(rng, 7.0, 9.0, 0.3);
        for (int k = 0; k < 3; ++k)
            if (!pbc[k]) cell.row(k) *= 40.0 / cell.row(k).norm();
        Structure s = random_structure(rng, cell, 150, pbc);
        s.positions.rowwise() += Eigen::RowVector3d(-250.0, 130.0, 77.0);  // far from the origin
        CHECK(check_same_entries(entries_of(build_neighbour_list(s, 5.5)), brute_force(s, 5.5), 1e-11) < 1e-11);
    }

    // A molecule far from the origin with a zero cell: no images at all.
    Structure molecule;
    molecule.pbc = {{false, false, false}};
    molecule.positions.resize(3, 3);
    molecule.positions << 1000.0, -50.0, 3.0, 1000.9, -50.0, 3.0, 1000.0, -49.2, 3.4;
    molecule.numbers = {8, 1, 1};
    const NeighbourList nl = build_neighbour_list(molecule, 1.0);
    CHECK(nl.size() == 4);  // O-H twice each way; H-H is 1.25 Å apart
    CHECK(nl.offsets == std::vector<std::size_t>{0, 2, 3, 4});
    CHECK(check_same_entries(entries_of(nl), brute_force(molecule, 1.0), 1e-12) < 1e-12);

    // Coplanar atoms with a non-periodic normal direction (zero extent along it).
    Structure sheet;
    sheet.cell << 3.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0;
    sheet.pbc = {{true, true, false}};
    sheet.positions.resize(2, 3);
    sheet.positions << 0.0, 0.0, 1.0, 1.5, 1.5, 1.0;
    sheet.numbers = {6, 6};
    Structure sheet_with_cell = sheet;
    sheet_with_cell.cell(2, 2) = 10.0;
    CHECK(check_same_entries(entries_of(build_neighbour_list(sheet, 5.5)), brute_force(sheet_with_cell, 5.5),
                             1e-12) < 1e-12);
}

// n x n x n cells of a distorted 4 Å perovskite (5 n^3 atoms), slightly triclinic, unwrapped by a few atoms.
Structure perovskite_supercell(int n) {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> noise(0.0, 0.1);
    const double base[5][3] = {{0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    Structure s;
    s.cell = 4.0 * n * Eigen::Matrix3d::Identity();
    s.cell(1, 0) = 1.3;
    s.positions.resize(5 * n * n * n, 3);
    int a = 0;
    for (int x = 0; x < n; ++x)
        for (int y = 0; y < n; ++y)
            for (int z = 0; z < n; ++z)
                for (const auto& b : base) {
                    const Eigen::RowVector3d f((x + b[0]) / n, (y + b[1]) / n, (z + b[2]) / n);
                    s.positions.row(a) = f * s.cell + Eigen::RowVector3d(noise(rng), noise(rng), noise(rng));
                    if (a % 17 == 0) s.positions.row(a) -= s.cell.row(a % 3);
                    s.numbers.push_back(a % 5 == 0 ? 56 : a % 5 == 1 ? 22 : 8);
                    ++a;
                }
    return s;
}

TEST_CASE("neighbour list: perovskite supercell against brute force, deterministic") {
    const Structure s = perovskite_supercell(4);  // 320 atoms
    const NeighbourList nl = build_neighbour_list(s, 5.5);
    CHECK(check_same_entries(entries_of(nl), brute_force(s, 5.5), 1e-11) < 1e-11);
    const NeighbourList again = build_neighbour_list(s, 5.5);
    CHECK(again.offsets == nl.offsets);
    CHECK(again.neighbour == nl.neighbour);
    CHECK((again.vectors.array() == nl.vectors.array()).all());
    CHECK(nl.memory_bytes() >= nl.size() * (sizeof(int) + 3 * sizeof(double)));
}

#ifdef _OPENMP
TEST_CASE("neighbour list: the parallel scan gives the serial list entry for entry, and the serial error") {
    // 8640 atoms: enough for 4 blocks of centres (models/descriptors/neighbour_list.cpp: parallel_blocks, from
    // 2048 centres per block). The serial list itself is checked against brute force above.
    Structure s = perovskite_supercell(12);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const NeighbourList serial = build_neighbour_list(s, 5.5);
    for (int threads : {2, 3, 4}) {
        CAPTURE(threads);
        omp_set_num_threads(threads);
        const NeighbourList parallel = build_neighbour_list(s, 5.5);
        CHECK(parallel.offsets == serial.offsets);
        CHECK(parallel.neighbour == serial.neighbour);
        CHECK((parallel.vectors.array() == serial.vectors.array()).all());
    }
    // Two overlapping pairs, in different blocks: every thread count names the lower centre first.
    s.positions.row(8001) = s.positions.row(8000);
    s.positions.row(11) = s.positions.row(10);
    std::string serial_message;
    omp_set_num_threads(1);
    try {
        build_neighbour_list(s, 5.5);
    } catch (const std::invalid_argument& e) {
        serial_message = e.what();
    }
    CHECK(serial_message.find("atoms 10 and 11 overlap") != std::string::npos);
    for (int threads : {2, 4}) {
        omp_set_num_threads(threads);
        std::string message;
        try {
            build_neighbour_list(s, 5.5);
        } catch (const std::invalid_argument& e) {
            message = e.what();
        }
        CHECK(message == serial_message);
    }
    omp_set_num_threads(saved);
}
#endif

TEST_CASE("neighbour list: empty structure") {
    Structure s;
    s.cell = 5.0 * Eigen::Matrix3d::Identity();
    const NeighbourList nl = build_neighbour_list(s, 3.0);
    CHECK(nl.size() == 0);
    CHECK(nl.offsets == std::vector<std::size_t>{0});
}

TEST_CASE("neighbour list: invalid input is rejected with a clear message") {
    Structure s;
    s.cell = 5.0 * Eigen::Matrix3d::Identity();
    s.positions.resize(3, 3);
    s.positions << 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 0.5, 4.0;
    s.numbers = {8, 8, 8};
    REQUIRE(error_of(s, 3.0).empty());

    for (double bad : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()})
        CHECK(contains(error_of(s, bad), "cutoff"));

    Structure t = s;
    t.positions(1, 2) = std::nan("");
    CHECK(contains(error_of(t, 3.0), "atom 1 has a non-finite position"));

    t = s;
    t.numbers.pop_back();
    CHECK(contains(error_of(t, 3.0), "3 positions but 2 atomic numbers"));

    t = s;
    t.cell(2, 0) = std::numeric_limits<double>::infinity();
    CHECK(contains(error_of(t, 3.0), "non-finite"));

    t = s;
    t.cell.row(2) = 2.0 * t.cell.row(0);
    CHECK(contains(error_of(t, 3.0), "singular"));

    t = s;
    t.cell.row(1).setZero();
    CHECK(contains(error_of(t, 3.0), "lattice vector 1"));

    t = s;
    t.pbc = {{true, true, false}};
    t.cell.row(1) = 3.0 * t.cell.row(0);
    CHECK(contains(error_of(t, 3.0), "parallel"));

    t = s;
    t.positions.row(2) = t.positions.row(0) + Eigen::RowVector3d(3e-7, 0.0, 0.0);
    CHECK(contains(error_of(t, 3.0), "atoms 0 and 2 overlap"));

    // Overlap through a periodic image: fractional 0 and 1 are the same point.
    t = s;
    t.positions.row(1) = t.cell.row(0);
    CHECK(contains(error_of(t, 3.0), "atoms 0 and 1 overlap"));

    // A lattice far thinner than the cutoff in two directions would need ~1e8 images: refused, not allocated.
    t = s;
    t.cell = Eigen::Matrix3d(Eigen::Vector3d(1e-3, 1e-3, 10.0).asDiagonal());
    t.positions.resize(1, 3);
    t.positions << 0.0, 0.0, 1.0;
    t.numbers = {8};
    CHECK(contains(error_of(t, 5.0), "too thin"));
}
