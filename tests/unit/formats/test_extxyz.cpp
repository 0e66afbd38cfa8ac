#include "models/core/atomic_file_write.hpp"
#include "models/formats/extxyz.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

using namespace gapd;
using namespace gapd::testing;

namespace {

const std::string kStructures = std::string(GAPD_TEST_DATA_DIR) + "/librascal/structures.extxyz";

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class A, class B>
bool same_bits(const A& a, const B& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
    for (Eigen::Index i = 0; i < a.rows(); ++i)
        for (Eigen::Index j = 0; j < a.cols(); ++j)
            if (!same_bits(a(i, j), b(i, j))) return false;
    return true;
}

bool python_has(const std::string& modules) {
    return std::system(("/usr/bin/python3 -c 'import " + modules + "' >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace

TEST_CASE("extxyz: periodic table") {
    CHECK(atomic_number("H") == 1);
    CHECK(atomic_number("O") == 8);
    CHECK(atomic_number("Ti") == 22);
    CHECK(atomic_number("Ba") == 56);
    CHECK(atomic_number("Fm") == 100);
    CHECK(atomic_number("Og") == 118);
    for (int z = 1; z <= 118; ++z) CHECK(atomic_number(chemical_symbol(z)) == z);
    CHECK(error_of([] { atomic_number("BA"); }) == "unknown chemical symbol 'BA'");
    CHECK(error_of([] { atomic_number("ba"); }) == "unknown chemical symbol 'ba'");
    CHECK(error_of([] { chemical_symbol(0); }) == "no chemical element with atomic number 0");
    CHECK(error_of([] { chemical_symbol(119); }) == "no chemical element with atomic number 119");
}

TEST_CASE("extxyz: reads the librascal test structures") {
    const auto frames = read_extxyz(kStructures);
    REQUIRE(frames.size() == 5);
    const char* names[] = {"bto_5atom_cubic", "bto_40atom_cubic", "bto_40atom_triclinic", "bto_135atom_cubic",
                           "bto_40atom_atoms_on_boundary"};
    const std::size_t natoms[] = {5, 40, 40, 135, 40};
    for (std::size_t f = 0; f < 5; ++f) {
        CHECK(frames[f].info.at("name") == names[f]);
        CHECK(frames[f].structure.size() == natoms[f]);
        CHECK(frames[f].structure.positions.rows() == static_cast<Eigen::Index>(natoms[f]));
        CHECK(frames[f].symbols.size() == natoms[f]);
        CHECK(frames[f].structure.pbc == std::array<bool, 3>{{true, true, true}});
        CHECK(frames[f].info.size() == 1);
        CHECK(frames[f].arrays.empty());
    }
    const Structure& s0 = frames[0].structure;
    CHECK(s0.cell == Eigen::Matrix3d::Identity() * 4.0);
    CHECK(s0.numbers == std::vector<int>{56, 22, 8, 8, 8});
    CHECK(frames[0].symbols[0] == "Ba");
    CHECK(s0.positions(0, 0) == 0.10288569);
    CHECK(s0.positions(4, 2) == 2.00489124);
    // Triclinic: rows are lattice vectors.
    Eigen::Matrix3d tri;
    tri << 8.0, 0.0, 0.0, 0.9, 7.9, 0.0, -0.5, 0.7, 8.1;
    CHECK(frames[2].structure.cell == tri);
}

TEST_CASE("extxyz: write then read is bit-exact") {
    TempDir dir("gapd_extxyz_test");
    auto frames = read_extxyz(kStructures);
    frames[0].info["comment"] = "two words and \"quotes\" and a back\\slash";
    frames[0].info["energy"] = "-1.2345678901234567";
    RowMatrix forces(5, 3);
    forces << 1.0 / 3.0, -2.0 / 7.0, 1e-300, 5e300, -0.0, 0.1, 0.2, 0.30000000000000004, 123456789.123456789,
        std::nextafter(1.0, 2.0), -std::numeric_limits<double>::denorm_min(), 7.0, 8.0, 9.0, 10.0;
    frames[0].arrays["forces"] = forces;
    frames[0].arrays["charge"] = RowMatrix::Constant(5, 1, -0.125);
    frames[0].structure.positions(1, 0) = std::nextafter(1.9, 0.0);
    frames[2].structure.pbc = {{true, false, true}};
    ExtxyzFrame molecule;  // non-periodic, no cell
    molecule.structure.pbc = {{false, false, false}};
    molecule.structure.numbers = {1, 1, 8};
    molecule.structure.positions.resize(3, 3);
    molecule.structure.positions << 0.0, 0.0, 0.0, 0.7, 0.7, 0.0, -0.7, 0.7, 1e-17;
    frames.push_back(molecule);

    const std::string path = dir.file("round_trip.extxyz");
    write_extxyz(path, frames);
    const auto back = read_extxyz(path);
    REQUIRE(back.size() == frames.size());
    for (std::size_t f = 0; f < frames.size(); ++f) {
        CAPTURE(f);
        CHECK(same_bits(back[f].structure.positions, frames[f].structure.positions));
        CHECK(same_bits(back[f].structure.cell, frames[f].structure.cell));
        CHECK(back[f].structure.pbc == frames[f].structure.pbc);
        CHECK(back[f].structure.numbers == frames[f].structure.numbers);
        CHECK(back[f].info == frames[f].info);
        REQUIRE(back[f].arrays.size() == frames[f].arrays.size());
        for (const auto& [name, array] : frames[f].arrays) CHECK(same_bits(back[f].arrays.at(name), array));
    }
    CHECK(back.back().structure.cell.isZero(0.0));
    CHECK(back[0].symbols == std::vector<std::string>{"Ba", "Ti", "O", "O", "O"});
    CHECK(info_double(back[0], "energy", path, 0) == -1.2345678901234567);
    // Nothing but the file itself is left in the directory (the temporary was renamed).
    CHECK(dir.listing().size() == 1);
}

TEST_CASE("extxyz: comment line and Properties variants") {
    TempDir dir("gapd_extxyz_test");
    const std::string path = dir.file("variants.extxyz");
    write_bytes(path,
               // Properties before Lattice, bare flag, braces, escaped quote, spaces around '=', Z column,
               // integer and logical columns, an extra string column.
               "3\n"
               "Properties=species:S:1:pos:R:3:Z:I:1:tags:I:1:fixed:L:1:label:S:1 is_relaxed "
               "Lattice=\"5 0 0  0 6 0  0 0 7\" note={a b} quote=\"say \\\"hi\\\"\" energy = -3.5 "
               "stress=\"1 2 3 4 5 6 7 8 9\"\n"
               "O  0.0 0.0 0.0  8 1 T first\n"
               "Ti +1.5 -2.5 3e-1 22 -4 F second\n"
               "Ba 1 2 3 56 0 True third\n"
               // Only Z, no species; pbc given without a Lattice; CRLF line ends.
               "2\r\n"
               "Properties=Z:I:1:pos:R:3 pbc=\"F T F\"\r\n"
               "1 0 0 0\r\n"
               "6 1 1 1\r\n"
               // Plain XYZ: free-text comment, default Properties, no Lattice -> not periodic.
               "1\n"
               "just a comment\n"
               "He 0 0 0\n"
               "\n\n");
    const auto frames = read_extxyz(path);
    REQUIRE(frames.size() == 3);

    const ExtxyzFrame& a = frames[0];
    Eigen::Matrix3d cell = Eigen::Vector3d(5, 6, 7).asDiagonal();
    CHECK(a.structure.cell == cell);
    CHECK(a.structure.pbc == std::array<bool, 3>{{true, true, true}});
    CHECK(a.structure.numbers == std::vector<int>{8, 22, 56});
    CHECK(a.info.at("is_relaxed") == "T");
    CHECK(a.info.at("note") == "a b");
    CHECK(a.info.at("quote") == "say \"hi\"");
    CHECK(info_double(a, "energy", path, 0) == -3.5);
    CHECK(info_doubles(a, "stress", path, 0) == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(a.info.count("Lattice") == 0);
    CHECK(a.info.count("Properties") == 0);
    CHECK(a.structure.positions(1, 0) == 1.5);
    CHECK(a.structure.positions(1, 2) == 0.3);
    REQUIRE(a.arrays.size() == 1);  // Z, L and extra S columns are not kept
    CHECK(a.arrays.at("tags").cols() == 1);
    CHECK(a.arrays.at("tags")(1, 0) == -4.0);

    const ExtxyzFrame& b = frames[1];
    CHECK(b.structure.numbers == std::vector<int>{1, 6});
    CHECK(b.symbols == std::vector<std::string>{"H", "C"});
    CHECK(b.structure.pbc == std::array<bool, 3>{{false, true, false}});
    CHECK(b.structure.cell.isZero(0.0));
    CHECK(b.structure.positions(1, 2) == 1.0);

    const ExtxyzFrame& c = frames[2];
    CHECK(c.structure.numbers == std::vector<int>{2});
    CHECK(!c.structure.any_periodic());
    CHECK(c.info.at("just") == "T");
}

TEST_CASE("extxyz: errors name file, frame and problem") {
    TempDir dir("gapd_extxyz_test");
    const std::string path = dir.file("bad.extxyz");
    const std::string good = "1\nLattice=\"4 0 0 0 4 0 0 0 4\"\nO 0 0 0\n";
    auto error_for = [&](const std::string& text) {
        write_bytes(path, text);
        return error_of([&] { read_extxyz(path); });
    };
    CHECK(error_for(good + "2\nProperties=species:S:1:pos:R:3\nO 0 0 0\n") ==
          path + ": frame 1 (0-based), truncated frame: file ends after 1 of 2 atom lines");
    CHECK(error_for(good + "2\n") == path + ": frame 1 (0-based), truncated frame: file ends before the comment line");
    CHECK(error_for(good + "1000000000000\n\nO 0 0 0\n") ==
          path + ": frame 1 (0-based), truncated frame: 1000000000000 atoms announced, only 8 bytes left in the file");
    CHECK(error_for(good + "1\n\nO 0 0.1.2 0\n") == path + ": frame 1 (0-based), line 6: bad number '0.1.2' in column 'pos'");
    CHECK(error_for(good + "1\n\nXx 0 0 0\n") == path + ": frame 1 (0-based), line 6: unknown chemical symbol 'Xx'");
    CHECK(error_for("1\nProperties=species:S:1:position:R:3\nO 0 0 0\n") ==
          path + ": frame 0 (0-based), missing 'pos' in Properties");
    CHECK(error_for(good + "1\n\nO 0 nan 0\n") == path + ": frame 1 (0-based), line 6: non-finite position 'nan'");
    CHECK(error_for("1\nLattice=\"4 0 0 0 inf 0 0 0 4\"\nO 0 0 0\n") ==
          path + ": frame 0 (0-based), non-finite number 'inf' in Lattice");
    CHECK(error_for("1\nLattice=\"4 0 0 0 4 0 0 0\"\nO 0 0 0\n") ==
          path + ": frame 0 (0-based), Lattice needs 9 numbers, got 8");
    CHECK(error_for(good + "x\n") == path + ": frame 1 (0-based), line 4: bad atom count 'x'");
    CHECK(error_for(good + "1\n\nO 0 0\n") ==
          path + ": frame 1 (0-based), line 6: expected 4 columns (Properties), found 3");
    CHECK(error_for("1\nname=\"open\nO 0 0 0\n") == path + ": frame 0 (0-based), unterminated \" in comment line");
    CHECK(error_for("1\npbc=\"T T\"\nO 0 0 0\n") == path + ": frame 0 (0-based), pbc='T T' is not three of T/F");
    CHECK(error_for("1\nProperties=species:S:1:pos:X:3\nO 0 0 0\n") ==
          path + ": frame 0 (0-based), bad Properties entry 'pos:X:3' (want name:S|R|I|L:count)");
    CHECK(error_for("1\nProperties=species:S:1:pos:R:3:Z:I:1\nO 0 0 0 22\n") ==
          path + ": frame 0 (0-based), atom 0: Z=22 disagrees with species 'O'");
    CHECK(error_for(good + "\n1\n\nO 0 0 0\n") ==
          path + ": frame 1 (0-based), line 4: empty line where the atom count should be");
    CHECK(error_of([&] { read_extxyz(dir.file("missing.extxyz")); }) ==
          dir.file("missing.extxyz") + ": cannot open: No such file or directory");

    ExtxyzFrame frame = read_extxyz(kStructures)[0];
    CHECK(error_of([&] { info_double(frame, "energy", "f.xyz", 3); }) ==
          "f.xyz: frame 3 (0-based): missing info key 'energy'");
    CHECK(error_of([&] { info_double(frame, "name", "f.xyz", 3); }) ==
          "f.xyz: frame 3 (0-based): info key 'name' is not a finite number: 'bto_5atom_cubic'");
    frame.info["stress"] = "1 2";
    CHECK(error_of([&] { info_double(frame, "stress", "f.xyz", 0); }) ==
          "f.xyz: frame 0 (0-based): info key 'stress' should be one number, has 2");

    frame.arrays["forces"] = RowMatrix::Zero(4, 3);
    CHECK(error_of([&] { write_extxyz(dir.file("out.extxyz"), {frame}); }) ==
          "write_extxyz: frame 0 (0-based): array 'forces' is 4 x 3 for 5 atoms");
    CHECK(!std::filesystem::exists(dir.file("out.extxyz")));
}

TEST_CASE("write_file_atomically: replaces the target only on success") {
    TempDir dir("gapd_extxyz_test");
    const std::string path = dir.file("target.txt");
    write_file_atomically(path, [](std::ostream& out) { out << "first"; });
    CHECK(read_bytes(path) == "first");
    CHECK_THROWS_WITH(write_file_atomically(path,
                                            [](std::ostream& out) {
                                                out << "partial";
                                                throw std::runtime_error("writer failed");
                                            }),
                      "writer failed");
    CHECK(read_bytes(path) == "first");
    CHECK(dir.listing().size() == 1);
    const std::string nowhere = dir.file("no/such/dir/x.txt");
    const std::string error = error_of([&] { write_file_atomically(nowhere, [](std::ostream&) {}); });
    CHECK(error.rfind("cannot write '" + nowhere + "': cannot create", 0) == 0);
}

TEST_CASE("extxyz: 1000 frames of 40 atoms read well under a second") {
    TempDir dir("gapd_extxyz_test");
    const ExtxyzFrame base = read_extxyz(kStructures)[1];
    std::vector<ExtxyzFrame> frames(1000, base);
    for (std::size_t f = 0; f < frames.size(); ++f) {
        frames[f].structure.positions.array() += 1e-3 * static_cast<double>(f) / 3.0;
        frames[f].arrays["forces"] = frames[f].structure.positions * 0.1;
        frames[f].info["energy"] = std::to_string(-1.0 * static_cast<double>(f));
    }
    const std::string path = dir.file("many.extxyz");
    write_extxyz(path, frames);
    const auto start = std::chrono::steady_clock::now();
    const auto back = read_extxyz(path);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("read 1000 frames x 40 atoms in " << seconds << " s");
    CHECK(back.size() == 1000);
    CHECK(same_bits(back[999].arrays.at("forces"), frames[999].arrays.at("forces")));
    CHECK(seconds < 0.5);
}

TEST_CASE("extxyz: ASE compatibility in both directions") {
    if (!python_has("ase, numpy")) {
        MESSAGE("skipped: /usr/bin/python3 cannot import ase and numpy");
        return;
    }
    TempDir dir("gapd_extxyz_test");

    SUBCASE("gapd reads what ase.io.write writes") {
        const std::string script = dir.file("ase_write.py");
        const std::string path = dir.file("from_ase.extxyz");
        write_bytes(script,
                   "import sys\n"
                   "import numpy as np\n"
                   "from ase import Atoms\n"
                   "from ase.calculators.singlepoint import SinglePointCalculator\n"
                   "from ase.io import write\n"
                   "a = Atoms('BaTiO3', positions=[[0.1, 0.2, 0.3], [2, 2, 2], [2, 2, 0], [2, 0, 2], [0, 2, 2]],\n"
                   "          cell=[[4.0, 0, 0], [0.1, 4.0, 0], [0, 0.2, 4.1]], pbc=[True, True, False])\n"
                   "a.info['name'] = 'ase frame'\n"
                   "a.calc = SinglePointCalculator(a, energy=-1.2345678901234567,\n"
                   "    forces=np.arange(15.0).reshape(5, 3) * 0.1 + 1 / 3,\n"
                   "    stress=np.array([1e-3, 2e-3, 3e-3, 4e-4, 5e-4, 6e-4]))\n"
                   "b = Atoms('H2O', positions=[[0, 0, 0], [0.7, 0.7, 0], [-0.7, 0.7, 0]])\n"
                   "write(sys.argv[1], [a, b], format='extxyz')\n");
        REQUIRE(std::system(("/usr/bin/python3 " + script + " " + path).c_str()) == 0);
        const auto frames = read_extxyz(path);
        REQUIRE(frames.size() == 2);
        const ExtxyzFrame& a = frames[0];
        Eigen::Matrix3d cell;
        cell << 4.0, 0, 0, 0.1, 4.0, 0, 0, 0.2, 4.1;
        CHECK(a.structure.cell == cell);
        CHECK(a.structure.pbc == std::array<bool, 3>{{true, true, false}});
        CHECK(a.structure.numbers == std::vector<int>{56, 22, 8, 8, 8});
        CHECK(a.info.at("name") == "ase frame");
        CHECK(info_double(a, "energy", path, 0) == -1.2345678901234567);
        // ASE writes the stress as a full 3x3 matrix (Voigt xx yy zz yz xz xy -> rows).
        const auto stress = info_doubles(a, "stress", path, 0);
        const std::vector<double> expected_stress = {1e-3, 6e-4, 5e-4, 6e-4, 2e-3, 4e-4, 5e-4, 4e-4, 3e-3};
        REQUIRE(stress.size() == 9);
        for (int k = 0; k < 9; ++k) CHECK(stress[k] == doctest::Approx(expected_stress[k]).epsilon(1e-12));
        const RowMatrix& forces = a.arrays.at("forces");  // ASE writes per-atom columns with 8 decimals
        for (int i = 0; i < 5; ++i)
            for (int k = 0; k < 3; ++k) CHECK(std::fabs(forces(i, k) - ((3 * i + k) * 0.1 + 1.0 / 3.0)) < 1e-8);
        CHECK(a.structure.positions(0, 2) == 0.3);
        const ExtxyzFrame& b = frames[1];
        CHECK(b.structure.numbers == std::vector<int>{1, 1, 8});
        CHECK(!b.structure.any_periodic());
        CHECK(b.structure.positions(2, 0) == -0.7);
    }

    SUBCASE("ase.io.read reads what gapd writes") {
        std::vector<ExtxyzFrame> frames = read_extxyz(kStructures);
        frames.resize(3);
        ExtxyzFrame& f = frames[2];  // triclinic
        f.structure.pbc = {{true, true, false}};
        f.structure.positions(0, 0) = 1.0 / 3.0;
        f.info["energy"] = "-123.45678901234567";
        f.info["stress"] = "0.1 0.2 0.3 0.2 0.5 0.6 0.3 0.6 0.9";
        f.info["comment"] = "several words";
        f.arrays["forces"] = f.structure.positions * (1.0 / 7.0);
        const std::string path = dir.file("from_gapd.extxyz");
        const std::string json_path = dir.file("ase_view.json");
        write_extxyz(path, frames);
        const std::string script = dir.file("ase_read.py");
        write_bytes(script,
                   "import json, sys\n"
                   "from ase.io import read\n"
                   "frames = read(sys.argv[1], index=':')\n"
                   "out = []\n"
                   "for a in frames:\n"
                   "    d = {'numbers': a.numbers.tolist(), 'positions': a.positions.tolist(),\n"
                   "         'cell': a.cell.array.tolist(), 'pbc': a.pbc.tolist(),\n"
                   "         'info': {k: str(v) for k, v in a.info.items()}}\n"
                   "    if a.calc is not None:\n"
                   "        d['energy'] = a.get_potential_energy()\n"
                   "        d['forces'] = a.get_forces().tolist()\n"
                   "        d['stress'] = a.get_stress(voigt=False).tolist()\n"
                   "    out.append(d)\n"
                   "json.dump(out, open(sys.argv[2], 'w'))\n");
        REQUIRE(std::system(("/usr/bin/python3 " + script + " " + path + " " + json_path).c_str()) == 0);
        const auto view = nlohmann::json::parse(read_bytes(json_path));
        REQUIRE(view.size() == 3);
        for (std::size_t k = 0; k < 3; ++k) {
            CAPTURE(k);
            const Structure& s = frames[k].structure;
            CHECK(view[k]["numbers"].get<std::vector<int>>() == s.numbers);
            for (Eigen::Index i = 0; i < static_cast<Eigen::Index>(s.size()); ++i)
                for (int c = 0; c < 3; ++c) CHECK(view[k]["positions"][i][c].get<double>() == s.positions(i, c));
            for (int r = 0; r < 3; ++r)
                for (int c = 0; c < 3; ++c) CHECK(view[k]["cell"][r][c].get<double>() == s.cell(r, c));
            CHECK(view[k]["pbc"].get<std::vector<bool>>() ==
                  std::vector<bool>{s.pbc[0], s.pbc[1], s.pbc[2]});
            CHECK(view[k]["info"]["name"] == frames[k].info.at("name"));
        }
        CHECK(view[2]["info"]["comment"] == "several words");
        CHECK(view[2]["energy"].get<double>() == -123.45678901234567);
        const RowMatrix& forces = f.arrays.at("forces");
        for (Eigen::Index i = 0; i < forces.rows(); ++i)
            for (int c = 0; c < 3; ++c) CHECK(view[2]["forces"][i][c].get<double>() == forces(i, c));
        CHECK(view[2]["stress"][1][2].get<double>() == 0.6);
        CHECK(view[2]["stress"][2][2].get<double>() == 0.9);
        CHECK(view[0].count("energy") == 0);
    }
}
