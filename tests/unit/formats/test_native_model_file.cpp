#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/model_file.hpp"
#include "native_file_bytes.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

using namespace gapd;
using namespace gapd::testing;

namespace {

const std::string kData = std::string(GAPD_TEST_DATA_DIR) + "/librascal/";
const std::string kReaderScript = std::string(GAPD_TEST_DATA_DIR) + "/../../scripts/read_gapd_model.py";
const std::string kPaperModel = std::string(GAPD_SHARED_DIR) + "/reference/librascal/paper_hypers_M1000_zeta4.json.gz";
const char* kFixtures[] = {"model_small_zeta2_exact.json", "model_small_zeta4_exact.json",
                           "model_small_zeta2_spline1e-5.json", "model_small_zeta2_shiftedcosine_exact.json",
                           "model_paper_hypers_M24_zeta4_exact.json"};

void check_same_model(const GapModel& a, const GapModel& b) {
    const SoapHypers& x = a.hypers;
    const SoapHypers& y = b.hypers;
    CHECK(x.max_radial == y.max_radial);
    CHECK(x.max_angular == y.max_angular);
    CHECK(x.gaussian_sigma == y.gaussian_sigma);
    CHECK(x.normalize == y.normalize);
    CHECK(x.cutoff.kind == y.cutoff.kind);
    CHECK(x.cutoff.cutoff == y.cutoff.cutoff);
    CHECK(x.cutoff.smooth_width == y.cutoff.smooth_width);
    CHECK(x.cutoff.rate == y.cutoff.rate);
    CHECK(x.cutoff.scale == y.cutoff.scale);
    CHECK(x.cutoff.exponent == y.cutoff.exponent);
    CHECK(x.librascal_spline_accuracy == y.librascal_spline_accuracy);
    CHECK(x.species == y.species);
    CHECK(a.zeta == b.zeta);
    CHECK(a.self_contributions == b.self_contributions);
    CHECK(a.description == b.description);
    REQUIRE(a.sparse.size() == b.sparse.size());
    for (std::size_t s = 0; s < a.sparse.size(); ++s) {
        CHECK(a.sparse[s].species == b.sparse[s].species);
        REQUIRE(a.sparse[s].points.rows() == b.sparse[s].points.rows());
        REQUIRE(a.sparse[s].points.cols() == b.sparse[s].points.cols());
        // Bit-exact: memcmp also distinguishes -0.0 and NaN payloads.
        CHECK(std::memcmp(a.sparse[s].points.data(), b.sparse[s].points.data(),
                          sizeof(double) * static_cast<std::size_t>(a.sparse[s].points.size())) == 0);
        REQUIRE(a.sparse[s].weights.size() == b.sparse[s].weights.size());
        CHECK(std::memcmp(a.sparse[s].weights.data(), b.sparse[s].weights.data(),
                          sizeof(double) * static_cast<std::size_t>(a.sparse[s].weights.size())) == 0);
    }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("native model: round trip of every librascal fixture") {
    TempDir dir("gapd_native_test");
    for (const char* name : kFixtures) {
        CAPTURE(name);
        const GapModel original = read_librascal_model(kData + name);
        const std::string path = dir.file(std::string(name) + ".gapd");
        write_native_model(path, original);
        CHECK(is_native_model_file(path));
        CHECK(!is_native_model_file(kData + name));
        check_same_model(read_native_model(path), original);
        check_same_model(read_model_file(path), original);
        check_same_model(read_model_file(kData + name), original);
    }
    CHECK(!is_native_model_file(dir.file("does_not_exist")));
}

TEST_CASE("native model: byte layout") {
    TempDir dir("gapd_native_test");
    const GapModel model = read_librascal_model(kData + "model_small_zeta2_exact.json");
    const std::string path = dir.file("m.gapd");
    write_native_model(path, model);
    const std::string bytes = read_bytes(path);
    CHECK(bytes.substr(0, 8) == "GAPDMODL");
    CHECK(le(bytes, 8, 4) == 1);
    const std::uint64_t header_size = le(bytes, 12, 8);
    CHECK((24 + header_size) % 64 == 0);
    const nlohmann::json header = header_of(bytes);
    CHECK(header["format"] == "gapd-model");
    CHECK(header["required_features"] == nlohmann::json::array());
    CHECK(header["potential"]["zeta"] == 2);
    CHECK(header["soap"]["species"] == nlohmann::json({8, 22, 56}));
    REQUIRE(header["arrays"].size() == 6);
    std::uint64_t end = 0;
    for (const auto& a : header["arrays"]) {
        CHECK(a["dtype"] == "<f8");
        CHECK(a["offset"].get<std::uint64_t>() % 64 == 0);
        CHECK(a["offset"].get<std::uint64_t>() >= 24 + header_size);
        end = a["offset"].get<std::uint64_t>() + a["nbytes"].get<std::uint64_t>();
    }
    CHECK(end == bytes.size());
    const auto& points = header["arrays"][2];  // sparse_points_22
    CHECK(points["name"] == "sparse_points_22");
    CHECK(points["shape"] == nlohmann::json({20, 384}));
    double first = 0;
    std::memcpy(&first, bytes.data() + points["offset"].get<std::size_t>(), 8);
    CHECK(first == model.sparse[1].points(0, 0));
}

TEST_CASE("native model: damaged and incompatible files") {
    TempDir dir("gapd_native_test");
    const GapModel model = read_librascal_model(kData + "model_small_zeta2_exact.json");
    const std::string good_path = dir.file("good.gapd");
    write_native_model(good_path, model);
    const std::string good = read_bytes(good_path);
    const std::string path = dir.file("bad.gapd");
    const nlohmann::json header = header_of(good);
    auto error_for = [&](const std::string& bytes) {
        write_bytes(path, bytes);
        return error_of([&] { read_native_model(path); });
    };

    SUBCASE("truncation") {
        CHECK(error_for(good.substr(0, 10)) ==
              path + ": truncated: 10 bytes, shorter than the 24-byte prefix of a gapd model file");
        CHECK(error_for(good.substr(0, 500)) ==
              path + ": truncated: the header needs " + std::to_string(le(good, 12, 8)) +
                  " bytes after the prefix, the file has 476");
        CHECK(error_for(good.substr(0, good.size() - 1)) ==
              path + ": truncated: array 'weights_56' ends at byte " + std::to_string(good.size()) +
                  ", the file has " + std::to_string(good.size() - 1) + " bytes");
    }
    SUBCASE("flipped byte in an array") {
        std::string bytes = good;
        const std::size_t at = header["arrays"][2]["offset"].get<std::size_t>() + 1000;
        bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
        CHECK(error_for(bytes) == path + ": array 'sparse_points_22': checksum mismatch (file corrupted)");
    }
    SUBCASE("flipped byte in the header") {
        std::string bytes = good;
        bytes[100] = static_cast<char>(bytes[100] ^ 0x01);
        CHECK(error_for(bytes) == path + ": header checksum mismatch (file corrupted)");
    }
    SUBCASE("magic and version") {
        std::string bytes = good;
        bytes[0] = 'X';
        CHECK(error_for(bytes) == path + ": not a gapd native model file (the first 8 bytes are not GAPDMODL)");
        bytes = good;
        put_le(bytes, 8, 2, 4);
        CHECK(error_for(bytes) == path + ": model format version 2 is newer than this gapd supports (version 1); "
                                         "use a newer gapd");
    }
    SUBCASE("header contents") {
        nlohmann::json h = header;
        h["required_features"] = {"float16_points"};
        CHECK(error_for(with_header(good, h)) ==
              path + ": header field 'required_features': this gapd does not support [\"float16_points\"]; use a "
                     "newer gapd");

        // Feature selection (docs/feature_selection.md): bad indices name the field.
        h = header;
        h["required_features"] = {"feature_selection"};
        h["potential"]["selected_features"] = {2, 2, 3};
        CHECK(error_for(with_header(good, h)) == path + ": header field 'potential.selected_features': feature "
                                                        "selection: index 2 is repeated");
        h["potential"]["selected_features"] = {0, 1 << 30};
        CHECK(error_for(with_header(good, h)).find("index 1073741824 (entry 1) is outside the") != std::string::npos);
        h["potential"]["selected_features"] = {0, 5, 7};
        CHECK(error_for(with_header(good, h)) == "(no error)");

        h = header;  // optional additions are ignored
        h["dipole"] = {{"type", "sa_gpr_lambda1"}, {"note", "not read by the energy model"}};
        h["soap"]["comment"] = "extra key";
        check_same_model(read_native_model((write_bytes(path, with_header(good, h)), path)), model);

        h = header;
        h["arrays"][0]["dtype"] = "<f4";
        CHECK(error_for(with_header(good, h)) ==
              path + ": array 'sparse_points_8': dtype '<f4' is not supported (expected '<f8')");

        h = header;
        h["soap"]["max_radial"] = 5;
        CHECK(error_for(with_header(good, h)) ==
              path + ": array 'sparse_points_8': shape 20 x 384 does not match the hypers (expected 20 x 600)");

        h = header;
        h["potential"].erase("zeta");
        CHECK(error_for(with_header(good, h)) == path + ": missing header field 'potential.zeta'");

        h = header;
        h["potential"]["zeta"] = 2.5;
        CHECK(error_for(with_header(good, h)) == path + ": header field 'potential.zeta': expected an integer, got 2.5");

        h = header;
        h["arrays"][5]["offset"] = (good.size() + 63) / 64 * 64;
        const std::string beyond = with_header(good, h);
        CHECK(error_for(beyond) == path + ": truncated: array 'weights_56' ends at byte " +
                                       std::to_string(header_of(beyond)["arrays"][5]["offset"].get<std::uint64_t>() + 160) +
                                       ", the file has " + std::to_string(beyond.size()) + " bytes");

        h = header;
        h["arrays"][5]["offset"] = header["arrays"][5]["offset"].get<std::uint64_t>() + 8;
        CHECK(error_for(with_header(good, h)) ==
              path + ": header field 'arrays[5] ('weights_56').offset': must be 64-byte aligned and after the header");

        h = header;
        h["potential"]["sparse_sets"][1]["points"] = "nope";
        CHECK(error_for(with_header(good, h)) == path + ": header field 'potential.sparse_sets[1].points': names "
                                                        "array 'nope', which is not in the directory");

        h = header;
        h["soap"]["cutoff_function"]["type"] = "Step";
        CHECK(error_for(with_header(good, h)) ==
              path + ": header field 'soap.cutoff_function.type': expected \"ShiftedCosine\" or \"RadialScaling\", "
                     "got \"Step\"");
    }
    SUBCASE("inconsistent models are not written") {
        GapModel broken = model;
        broken.sparse[1].weights.resize(19);
        CHECK(error_of([&] { write_native_model(path, broken); }) ==
              "write_native_model: sparse set of species 22: points 20 x 384, weights 19, expected M x 384 and M");
        CHECK(!std::filesystem::exists(path));
    }
}

TEST_CASE("native model: the Python reader (numpy only) agrees") {
    if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: /usr/bin/python3 cannot import numpy");
        return;
    }
    TempDir dir("gapd_native_test");
    const std::string source = kData + "model_small_zeta2_exact.json";
    const std::string path = dir.file("m.gapd");
    write_native_model(path, read_librascal_model(source));
    // Rebuilds gapd's feature layout from the librascal JSON independently of the C++ reader and compares
    // every array bit for bit with what read_gapd_model.py returns.
    const std::string script = dir.file("compare.py");
    write_bytes(script,
                "import json, sys, numpy as np\n"
                "sys.path.insert(0, sys.argv[1])\n"
                "from read_gapd_model import read_gapd_model\n"
                "m = read_gapd_model(sys.argv[2])\n"
                "d = json.load(open(sys.argv[3]))['init_params']\n"
                "sp = d['X_train']['data']['sparse_points']\n"
                "cpp = d['kernel']['init_params']['representation']['data']['cpp_representation']\n"
                "nmax, lmax = cpp['max_radial'], cpp['max_angular']\n"
                "inner = nmax * nmax * (lmax + 1)\n"
                "species = sorted(set(sp['center_species']) | {z for k in sp['keys'] for z in k})\n"
                "keys = [(a, b) for i, a in enumerate(species) for b in species[i:]]\n"
                "counts = dict(sp['counters'])\n"
                "indices = {s: {tuple(k): v for k, v in kv} for s, kv in sp['indices']}\n"
                "ok = m['species'] == species and m['zeta'] == d['kernel']['init_params']['zeta']\n"
                "ok &= m['soap']['max_radial'] == nmax and m['soap']['max_angular'] == lmax\n"
                "ok &= m['self_contributions'] == {int(z): e for z, e in d['self_contributions'].items()}\n"
                "w = np.array(d['weights'][1])\n"
                "offset = 0\n"
                "for s in sp['center_species']:\n"
                "    x = np.zeros((counts[s], len(keys) * inner))\n"
                "    for k, vals in sp['values'][[e[0] for e in sp['values']].index(s)][1]:\n"
                "        block = np.array(vals).reshape(-1, inner)\n"
                "        for row, i in enumerate(indices[s][tuple(k)]):\n"
                "            x[i, keys.index(tuple(k)) * inner:(keys.index(tuple(k)) + 1) * inner] = block[row]\n"
                "    ok &= np.array_equal(m['sparse'][s]['points'], x)\n"
                "    ok &= np.array_equal(m['sparse'][s]['weights'], w[offset:offset + counts[s]])\n"
                "    offset += counts[s]\n"
                "sys.exit(0 if ok and offset == len(w) else 1)\n");
    const std::string scripts_dir = std::filesystem::path(kReaderScript).parent_path().string();
    CHECK(std::system(("/usr/bin/python3 " + script + " " + scripts_dir + " " + path + " " + source).c_str()) == 0);
    // The command-line summary runs; a damaged file makes it fail.
    CHECK(std::system(("/usr/bin/python3 " + kReaderScript + " " + path + " >/dev/null").c_str()) == 0);
    std::string bytes = read_bytes(path);
    bytes[bytes.size() - 3] = static_cast<char>(bytes[bytes.size() - 3] ^ 0x10);
    write_bytes(path, bytes);
    CHECK(std::system(("/usr/bin/python3 " + kReaderScript + " " + path + " >/dev/null 2>&1").c_str()) != 0);
}

TEST_CASE("native model: paper-size model timings") {
    if (!std::filesystem::exists(kPaperModel)) {
        MESSAGE("skipped: " << kPaperModel << " not found");
        return;
    }
    TempDir dir("gapd_native_test");
    auto start = std::chrono::steady_clock::now();
    const GapModel model = read_librascal_model(kPaperModel);
    const double t_json = seconds_since(start);
    const std::string path = dir.file("paper.gapd");
    start = std::chrono::steady_clock::now();
    write_native_model(path, model);
    const double t_write = seconds_since(start);
    start = std::chrono::steady_clock::now();
    const GapModel back = read_native_model(path);
    const double t_read = seconds_since(start);
    MESSAGE("paper-size model: librascal json.gz read " << t_json << " s, native write " << t_write
                                                         << " s, native read " << t_read << " s ("
                                                         << std::filesystem::file_size(path) / 1e6 << " MB)");
    check_same_model(back, model);
}
