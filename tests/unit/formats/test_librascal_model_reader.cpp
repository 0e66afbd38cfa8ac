#include "models/formats/librascal_model_reader.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

using namespace gapd;
using namespace gapd::testing;

namespace {

const std::string kData = std::string(GAPD_TEST_DATA_DIR) + "/librascal/";
const std::string kPaperModel = std::string(GAPD_SHARED_DIR) + "/reference/librascal/paper_hypers_M1000_zeta4.json.gz";

void check_unit_norms(const GapModel& model) {
    for (const SparseSet& s : model.sparse) {
        for (Eigen::Index m = 0; m < s.points.rows(); ++m) {
            // Plain loop: GCC 12 warns falsely inside Eigen's AVX-512 reduction with -march=native.
            double sum = 0;
            for (Eigen::Index j = 0; j < s.points.cols(); ++j) sum += s.points(m, j) * s.points(m, j);
            CHECK(std::fabs(std::sqrt(sum) - 1.0) < 1e-12);
        }
    }
}

std::vector<Eigen::Index> sparse_counts(const GapModel& model) {
    std::vector<Eigen::Index> counts;
    for (const SparseSet& s : model.sparse) counts.push_back(s.points.rows());
    return counts;
}

}  // namespace

// The reader's error for the model JSON `text` after `edit` changed its parsed document (written to `path`).
template <class Edit>
std::string error_after_edit(const std::string& text, const std::string& path, Edit&& edit) {
    auto doc = nlohmann::json::parse(text);
    edit(doc);
    write_bytes(path, doc.dump());
    return error_of([&] { read_librascal_model(path); });
}

TEST_CASE("librascal reader: small models") {
    const GapModel m = read_librascal_model(kData + "model_small_zeta2_exact.json");
    const SoapHypers& h = m.hypers;
    CHECK(h.max_radial == 4);
    CHECK(h.max_angular == 3);
    CHECK(h.gaussian_sigma == 0.5);
    CHECK(h.normalize);
    CHECK(h.cutoff.kind == CutoffKind::RadialScaling);
    CHECK(h.cutoff.cutoff == 5.0);
    CHECK(h.cutoff.smooth_width == 0.5);
    CHECK(h.cutoff.rate == 1.0);
    CHECK(h.cutoff.scale == 3.5);
    CHECK(h.cutoff.exponent == 4.0);
    CHECK(h.librascal_spline_accuracy == 0.0);
    CHECK(h.species == std::vector<int>{8, 22, 56});
    CHECK(power_spectrum_size(h) == 6 * 64);
    CHECK(m.zeta == 2);
    CHECK(m.self_contributions == std::map<int, double>{{8, -2.0}, {22, -5.0}, {56, -3.0}});
    REQUIRE(m.sparse.size() == 3);
    CHECK(m.sparse[0].species == 8);
    CHECK(m.sparse[1].species == 22);
    CHECK(m.sparse[2].species == 56);
    CHECK(sparse_counts(m) == std::vector<Eigen::Index>{20, 20, 20});
    Eigen::Index nweights = 0;
    for (const SparseSet& s : m.sparse) {
        CHECK(s.points.cols() == 384);
        nweights += s.weights.size();
    }
    CHECK(nweights == 60);
    check_unit_norms(m);
    // weights[0] of the file (python repr).
    CHECK(m.sparse[0].weights[0] == -40.47538059164524);
    CHECK(m.description.find("KRR potential model") != std::string::npos);

    const GapModel z4 = read_librascal_model(kData + "model_small_zeta4_exact.json");
    CHECK(z4.zeta == 4);
    check_unit_norms(z4);

    const GapModel spline = read_librascal_model(kData + "model_small_zeta2_spline1e-5.json");
    CHECK(spline.hypers.librascal_spline_accuracy == 1e-5);
    CHECK(sparse_counts(spline) == std::vector<Eigen::Index>{20, 20, 20});

    const GapModel cosine = read_librascal_model(kData + "model_small_zeta2_shiftedcosine_exact.json");
    CHECK(cosine.hypers.cutoff.kind == CutoffKind::ShiftedCosine);
    CHECK(cosine.hypers.cutoff.cutoff == 5.0);
    CHECK(cosine.hypers.cutoff.smooth_width == 0.5);
    check_unit_norms(cosine);
}

TEST_CASE("librascal reader: feature layout matches the file's blocks") {
    // Independent of the reader's bookkeeping: pick blocks straight out of the JSON.
    const std::string path = kData + "model_small_zeta2_exact.json";
    const auto doc = nlohmann::json::parse(read_bytes(path));
    const GapModel m = read_librascal_model(path);
    const auto& sp = doc["init_params"]["X_train"]["data"]["sparse_points"];
    const int inner = sp["inner_size"].get<int>();
    const std::vector<std::pair<int, int>> keys = {{8, 8}, {8, 22}, {8, 56}, {22, 22}, {22, 56}, {56, 56}};
    for (const auto& species_entry : sp["values"]) {
        const auto& species = species_entry[0];
        const auto& per_key = species_entry[1];
        const SparseSet* set = nullptr;
        for (const SparseSet& s : m.sparse)
            if (s.species == species.get<int>()) set = &s;
        REQUIRE(set != nullptr);
        for (const auto& key_entry : per_key) {
            const auto& key = key_entry[0];
            const auto& values = key_entry[1];
            const std::pair<int, int> k{key[0].get<int>(), key[1].get<int>()};
            const auto position = std::find(keys.begin(), keys.end(), k) - keys.begin();
            const auto& indices = [&]() -> const nlohmann::json& {
                for (const auto& entry : sp["indices"])
                    if (entry[0] == species)
                        for (const auto& key_indices : entry[1])
                            if (key_indices[0] == key) return key_indices[1];
                throw std::runtime_error("no indices");
            }();
            for (std::size_t b = 0; b < indices.size(); ++b)
                for (int j = 0; j < inner; j += 7)
                    CHECK(set->points(indices[b].get<int>(), position * inner + j) ==
                          values[b * inner + static_cast<std::size_t>(j)].get<double>());
        }
    }
    // Weights: species ascending, then within-species index.
    const auto& weights = doc["init_params"]["weights"][1];
    CHECK(m.sparse[1].weights[3] == weights[23].get<double>());
    CHECK(m.sparse[2].weights[19] == weights[59].get<double>());
}

TEST_CASE("librascal reader: paper hypers, M = 24") {
    const GapModel m = read_librascal_model(kData + "model_paper_hypers_M24_zeta4_exact.json");
    CHECK(m.hypers.max_radial == 8);
    CHECK(m.hypers.max_angular == 6);
    CHECK(m.hypers.cutoff.cutoff == 5.5);
    CHECK(m.zeta == 4);
    CHECK(power_spectrum_size(m.hypers) == 2688);
    CHECK(sparse_counts(m) == std::vector<Eigen::Index>{8, 8, 8});
    check_unit_norms(m);
}

TEST_CASE("librascal reader: paper-size model (M = 1000, gzip)") {
    if (!std::filesystem::exists(kPaperModel)) {
        MESSAGE("skipped: " << kPaperModel << " not found");
        return;
    }
    const auto start = std::chrono::steady_clock::now();
    const GapModel m = read_librascal_model(kPaperModel);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("paper-size librascal model (json.gz) read in " << seconds << " s");
    CHECK(sparse_counts(m) == std::vector<Eigen::Index>{500, 250, 250});
    CHECK(m.zeta == 4);
    CHECK(m.hypers.librascal_spline_accuracy == 1e-5);
    CHECK(power_spectrum_size(m.hypers) == 2688);
    check_unit_norms(m);
}

TEST_CASE("librascal reader: gzip and plain files give the same model") {
    TempDir dir("gapd_librascal_test");
    const std::string plain = kData + "model_small_zeta2_exact.json";
    const std::string packed = dir.file("model.json.gz");
    write_bytes(packed, gzip(read_bytes(plain)));
    const GapModel a = read_librascal_model(plain);
    const GapModel b = read_librascal_model(packed);
    for (std::size_t s = 0; s < 3; ++s) {
        CHECK(a.sparse[s].points == b.sparse[s].points);
        CHECK(a.sparse[s].weights == b.sparse[s].weights);
    }
}

TEST_CASE("librascal reader: corrupted and unsupported files") {
    TempDir dir("gapd_librascal_test");
    const std::string source = kData + "model_small_zeta2_exact.json";
    const std::string text = read_bytes(source);
    const std::string path = dir.file("model.json");

    SUBCASE("truncated JSON") {
        write_bytes(path, text.substr(0, text.size() / 2));
        const std::string e = error_of([&] { read_librascal_model(path); });
        CHECK(e.rfind(path + ": invalid JSON (truncated or corrupted file, or NaN/Infinity, which JSON does not allow): "
                             "parse error at line ",
                      0) == 0);
        CHECK(e.find("unexpected end of input") != std::string::npos);
    }
    SUBCASE("truncated gzip") {
        const std::string bytes = gzip(text);
        write_bytes(path, bytes.substr(0, bytes.size() - 100));
        CHECK(error_of([&] { read_librascal_model(path); }) ==
              path + ": corrupted or truncated gzip data: unexpected end of file");
    }
    SUBCASE("corrupted gzip") {
        std::string bytes = gzip(text);
        for (std::size_t k = 1000; k < 1100; ++k) bytes[k] = static_cast<char>(bytes[k] ^ 0x5a);
        write_bytes(path, bytes);
        const std::string e = error_of([&] { read_librascal_model(path); });
        CHECK(e.rfind(path + ": corrupted or truncated gzip data: ", 0) == 0);
    }
    SUBCASE("NaN in the file") {
        auto doc = nlohmann::json::parse(text);
        std::string broken = doc.dump();
        const auto at = broken.find("-40.47538059164524");
        REQUIRE(at != std::string::npos);
        broken.replace(at, 18, "NaN");
        write_bytes(path, broken);
        CHECK(error_of([&] { read_librascal_model(path); }).find("invalid JSON") != std::string::npos);
        broken.replace(at, 3, "1e999");  // valid JSON syntax, but beyond double
        write_bytes(path, broken);
        CHECK(error_of([&] { read_librascal_model(path); }) ==
              path + ": invalid JSON (truncated or corrupted file, or NaN/Infinity, which JSON does not allow): "
                     "number overflow parsing '1e999'");
    }
    SUBCASE("missing file") {
        CHECK(error_of([&] { read_librascal_model(dir.file("none.json")); }) ==
              dir.file("none.json") + ": cannot open: No such file or directory");
    }

    // Edits of the parsed document, each with the exact error.
    auto error_after = [&](auto&& edit) { return error_after_edit(text, path, edit); };
    const std::string rep = "init_params.kernel.init_params.representation";
    SUBCASE("missing keys") {
        CHECK(error_after([](auto& d) { d["init_params"].erase("weights"); }) ==
              path + ": missing field 'init_params.weights'");
        CHECK(error_after([](auto& d) {
                  d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"].erase(
                      "max_radial");
              }) == path + ": missing field '" + rep + ".data.cpp_representation.max_radial'");
        CHECK(error_after([](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"].erase("values"); }) ==
              path + ": missing field 'init_params.X_train.data.sparse_points.values'");
    }
    SUBCASE("unsupported classes and options") {
        CHECK(error_after([](auto& d) { d["class_name"] = "GPR"; }) ==
              path + ": field 'class_name': expected \"KRR\", got \"GPR\" (not supported by gapd)");
        CHECK(error_after([](auto& d) {
                  d["init_params"]["kernel"]["init_params"]["representation"]["class_name"] = "SphericalCovariants";
              }) == path + ": field '" + rep +
                        ".class_name': expected \"SphericalInvariants\", got \"SphericalCovariants\" (not supported by "
                        "gapd)");
        CHECK(error_after([](auto& d) {
                  d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]
                   ["soap_type"] = "RadialSpectrum";
              }) == path + ": field '" + rep +
                        ".data.cpp_representation.soap_type': expected \"PowerSpectrum\", got \"RadialSpectrum\" (not "
                        "supported by gapd)");
        CHECK(error_after([](auto& d) {
                  d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]
                   ["radial_contribution"]["type"] = "DVR";
              }) == path + ": field '" + rep +
                        ".data.cpp_representation.radial_contribution.type': expected \"GTO\", got \"DVR\" (not "
                        "supported by gapd)");
        CHECK(error_after([](auto& d) {
                  d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]
                   ["gaussian_density"]["type"] = "PerSpecies";
              }) == path + ": field '" + rep +
                        ".data.cpp_representation.gaussian_density.type': expected \"Constant\", got \"PerSpecies\" "
                        "(not supported by gapd)");
        CHECK(error_after([](auto& d) { d["init_params"]["kernel"]["init_params"]["kernel_type"] = "Full"; }) ==
              path + ": field 'init_params.kernel.init_params.kernel_type': expected \"Sparse\", got \"Full\" (not "
                     "supported by gapd)");
        CHECK(error_after([](auto& d) { d["init_params"]["kernel"]["init_params"]["name"] = "Cosine"; }) ==
              path + ": field 'init_params.kernel.init_params.name': expected \"GAP\", got \"Cosine\" (not supported "
                     "by gapd)");
        CHECK(error_after([](auto& d) { d["init_params"]["kernel"]["init_params"]["target_type"] = "Atom"; }) ==
              path + ": field 'init_params.kernel.init_params.target_type': expected \"Structure\", got \"Atom\" (not "
                     "supported by gapd)");
        CHECK(error_after([](auto& d) {
                  d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]
                   ["cutoff_function"]["type"] = "Step";
              }) == path + ": field '" + rep +
                        ".data.cpp_representation.cutoff_function.type': expected \"ShiftedCosine\" or "
                        "\"RadialScaling\", got \"Step\"");
    }
    SUBCASE("non-integer zeta") {
        CHECK(error_after([](auto& d) { d["init_params"]["kernel"]["init_params"]["zeta"] = 2.5; }) ==
              path + ": field 'init_params.kernel.init_params.zeta': must be a positive integer, got 2.5");
        CHECK(error_after([](auto& d) { d["init_params"]["kernel"]["init_params"]["zeta"] = 2.0; }) == "(no error)");
    }
    SUBCASE("weight count") {
        CHECK(error_after([](auto& d) { d["init_params"]["weights"][1].erase(0); }) ==
              path + ": field 'init_params.weights[1]': has 59 weights for 60 sparse points");
    }
    SUBCASE("inner_size") {
        CHECK(error_after([](auto& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["inner_size"] = 48; }) ==
              path + ": field 'init_params.X_train.data.sparse_points.inner_size': is 48 but max_radial^2 "
                     "(max_angular+1) = 64");
        CHECK(error_after([](auto& d) {
                  d["init_params"]["X_train"]["data"]["sparse_points"]["values"][0][1][0][1].erase(0);
              }) == path + ": field 'init_params.X_train.data.sparse_points.values[0][1][0][1]': has 1279 numbers, "
                           "expected 20 sparse points x inner_size 64");
    }
    SUBCASE("sparse point missing from a block gets zeros") {
        // Drop sparse point 5 of O from the (22, 56) block: its features there become zeros.
        const GapModel full = read_librascal_model(source);
        CHECK(error_after([](auto& d) {
                  auto& sp = d["init_params"]["X_train"]["data"]["sparse_points"];
                  auto& idx = sp["indices"][0][1][4][1];
                  auto& val = sp["values"][0][1][4][1];
                  REQUIRE(sp["indices"][0][1][4][0] == nlohmann::json({22, 56}));
                  REQUIRE(idx[5] == 5);
                  idx.erase(5);
                  val.erase(val.begin() + 5 * 64, val.begin() + 6 * 64);
              }) == "(no error)");
        const GapModel partial = read_librascal_model(path);
        CHECK(partial.sparse[0].points.row(5).segment(4 * 64, 64).isZero(0.0));
        CHECK(partial.sparse[0].points.row(5).segment(3 * 64, 64) == full.sparse[0].points.row(5).segment(3 * 64, 64));
        CHECK(partial.sparse[0].points.row(6) == full.sparse[0].points.row(6));
    }
}

TEST_CASE("librascal reader: every hyper gapd does not implement is refused by name") {
    TempDir dir("gapd_librascal_hypers");
    const std::string text = read_bytes(kData + "model_small_zeta2_exact.json");
    const std::string path = dir.file("model.json");
    auto error_after = [&](auto&& edit) { return error_after_edit(text, path, edit); };
    const std::string rep = "init_params.kernel.init_params.representation";
    auto cpp = [](nlohmann::json& d) -> nlohmann::json& {
        return d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"];
    };
    auto python = [](nlohmann::json& d) -> nlohmann::json& {
        return d["init_params"]["kernel"]["init_params"]["representation"]["init_params"];
    };
    struct Case {
        const char* what;
        std::function<void(nlohmann::json&)> edit;
        std::string field, message;
    };
    const std::vector<Case> cases = {
        // Supported (test_librascal_subselection.cpp); malformed ones are refused naming the entry.
        {"coefficient_subselection (malformed)",
         [&](auto& d) {
             cpp(d)["coefficient_subselection"] = {{"a", {8, 8}}, {"b", {8, 22}}, {"n1", {0, 1}}, {"n2", {0, 0}}, {"l", {0, 9}}};
         },
         rep + ".data.cpp_representation.coefficient_subselection.l[1]", "9 outside 0..3"},
        {"coefficient_subselection (python only)",
         [&](auto& d) { python(d)["coefficient_subselection"] = {{"a", {8, 8}}}; },
         rep + ".init_params.coefficient_subselection", "differs from the C++ hypers"},
        {"expansion_by_species_method",
         [&](auto& d) { cpp(d)["expansion_by_species_method"] = "user defined"; },
         rep + ".data.cpp_representation.expansion_by_species_method", "expected \"environment wise\""},
        {"global_species", [&](auto& d) { cpp(d)["global_species"] = {8, 22, 56, 1}; },
         rep + ".data.cpp_representation.global_species", "[8,22,56,1]"},
        {"global_species (python)", [&](auto& d) { python(d)["global_species"] = {1}; },
         rep + ".init_params.global_species", "environment wise"},
        {"inversion_symmetry", [&](auto& d) { cpp(d)["inversion_symmetry"] = false; },
         rep + ".data.cpp_representation.inversion_symmetry", "false is not supported"},
        {"compute_gradients not a bool", [&](auto& d) { cpp(d)["compute_gradients"] = "yes"; },
         rep + ".data.cpp_representation.compute_gradients", "expected true or false"},
        {"unknown representation key", [&](auto& d) { cpp(d)["radial_dimension_reduction"] = 1; },
         rep + ".data.cpp_representation.radial_dimension_reduction", "not supported by gapd (value 1)"},
        {"unknown cutoff function key", [&](auto& d) { cpp(d)["cutoff_function"]["offset"] = 1.0; },
         rep + ".data.cpp_representation.cutoff_function.offset", "not supported"},
        {"unknown spline option", [&](auto& d) { cpp(d)["radial_contribution"]["optimization"] = {{"Spline", {{"accuracy", 1e-5}, {"range", {0, 5}}}}}; },
         rep + ".data.cpp_representation.radial_contribution.optimization.Spline.range", "not supported"},
        {"unknown kernel key", [&](auto& d) { d["init_params"]["kernel"]["init_params"]["normalize"] = true; },
         "init_params.kernel.init_params.normalize", "not supported"},
        {"kernel target_type", [&](auto& d) { d["init_params"]["kernel"]["init_params"]["target_type"] = "Atom"; },
         "init_params.kernel.init_params.target_type", "expected \"Structure\""},
        {"kernel name", [&](auto& d) { d["init_params"]["kernel"]["init_params"]["name"] = "Cosine"; },
         "init_params.kernel.init_params.name", "expected \"GAP\""},
        {"KRR extra key", [&](auto& d) { d["init_params"]["optimization"] = {{"a", 1}}; },
         "init_params.optimization", "not supported"},
        {"energy unit", [&](auto& d) { d["init_params"]["units"]["energy"] = "kcal/mol"; },
         "init_params.units.energy", "expected \"eV\""},
        {"X_train representation differs",
         [&](auto& d) {
             d["init_params"]["X_train"]["init_params"]["representation"]["data"]["cpp_representation"]["max_radial"] = 5;
         },
         "init_params.X_train.init_params.representation", "differs from the kernel's representation"},
    };
    for (const Case& c : cases) {
        const std::string e = error_after(c.edit);
        INFO(c.what << ": " << e);
        CHECK(e.rfind(path + ": field '" + c.field + "'", 0) == 0);
        CHECK(e.find(c.message) != std::string::npos);
    }
    // X_train's copy may differ in compute_gradients only (librascal stores it false there).
    CHECK_NOTHROW(error_after([&](auto& d) { cpp(d)["compute_gradients"] = false; }));
    CHECK(error_after([&](auto& d) { cpp(d)["compute_gradients"] = false; }) == "(no error)");
}
