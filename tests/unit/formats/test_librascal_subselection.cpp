// librascal's coefficient_subselection (docs/feature_selection.md, "librascal files"): the mapping onto gapd's
// selection with scales, checked against the definition of librascal's selected features, against librascal's own
// predictions (tests/data/librascal_subselection), through the native file, and the refusal of malformed entries.

#include "librascal_fixtures.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/native_model_file.hpp"
#include "models/gap/gap_calculator.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <vector>

using namespace gapd;
using namespace gapd::testing;
using nlohmann::json;

namespace {

const std::string kSmall = librascal_fixture("model_small_zeta2_exact.json");
const std::string kSubselectionData = std::string(GAPD_TEST_DATA_DIR) + "/librascal_subselection/";

json& cpp_hypers(json& d) { return d["init_params"]["kernel"]["init_params"]["representation"]["data"]["cpp_representation"]; }
json& python_hypers(json& d) { return d["init_params"]["kernel"]["init_params"]["representation"]["init_params"]; }
json& x_train_hypers(json& d) {
    return d["init_params"]["X_train"]["init_params"]["representation"]["data"]["cpp_representation"];
}

struct Entry {
    int a, b, n1, n2, l;
};

// Full-layout index of an entry (librascal's: key blocks (a <= b) in order, then (n1 nmax + n2)(lmax+1) + l).
int full_index(const SoapHypers& h, const Entry& e) {
    int key = 0;
    for (std::size_t i = 0; i < h.species.size(); ++i)
        for (std::size_t j = i; j < h.species.size(); ++j, ++key)
            if (h.species[i] == e.a && h.species[j] == e.b)
                return (key * h.max_radial * h.max_radial + e.n1 * h.max_radial + e.n2) * (h.max_angular + 1) + e.l;
    throw std::logic_error("no such key");
}

// `text` (the small model) turned into a librascal file with this coefficient_subselection: every copy of the
// hypers gets it, and each sparse point keeps the chosen Full-layout entries of its (normalized) original, in
// selection order under librascal's single key [0, 0].
json with_subselection(const std::string& text, const GapModel& original, const std::vector<Entry>& entries) {
    json d = json::parse(text);
    json sel = {{"a", json::array()}, {"b", json::array()}, {"n1", json::array()}, {"n2", json::array()}, {"l", json::array()}};
    for (const Entry& e : entries) {
        sel["a"].push_back(e.a);
        sel["b"].push_back(e.b);
        sel["n1"].push_back(e.n1);
        sel["n2"].push_back(e.n2);
        sel["l"].push_back(e.l);
    }
    cpp_hypers(d)["coefficient_subselection"] = sel;
    python_hypers(d)["coefficient_subselection"] = sel;
    x_train_hypers(d)["coefficient_subselection"] = sel;
    d["init_params"]["X_train"]["init_params"]["representation"]["init_params"]["coefficient_subselection"] = sel;
    json& sp = d["init_params"]["X_train"]["data"]["sparse_points"];
    sp["inner_size"] = entries.size();
    sp["keys"] = json::array({json::array({0, 0})});
    json indices = json::array(), values = json::array();
    for (const SparseSet& s : original.sparse) {
        json idx = json::array(), val = json::array();
        for (Eigen::Index m = 0; m < s.points.rows(); ++m) {
            idx.push_back(m);
            for (const Entry& e : entries) val.push_back(s.points(m, full_index(original.hypers, e)));
        }
        indices.push_back(json::array({s.species, json::array({json::array({json::array({0, 0}), idx})})}));
        values.push_back(json::array({s.species, json::array({json::array({json::array({0, 0}), val})})}));
    }
    sp["indices"] = indices;
    sp["values"] = values;
    return d;
}

// librascal's energy from its definition: features = the chosen Full-layout entries of each centre's power
// spectrum, normalized over them; E = sum_i e0 + sum_m w_m (x_i . t_m)^zeta with t_m the stored entries.
double energy_by_definition(const GapModel& original, const std::vector<Entry>& entries, const Structure& s) {
    const RowMatrix x_full = GapCalculator(original, RadialMode::Exact).features(s);
    double energy = 0.0;
    for (Eigen::Index i = 0; i < x_full.rows(); ++i) {
        const int z = s.numbers[static_cast<std::size_t>(i)];
        energy += original.self_contributions.at(z);
        Eigen::VectorXd q(static_cast<Eigen::Index>(entries.size()));
        for (std::size_t k = 0; k < entries.size(); ++k)
            q(static_cast<Eigen::Index>(k)) = x_full(i, full_index(original.hypers, entries[k]));
        q /= q.norm();
        for (const SparseSet& set : original.sparse) {
            if (set.species != z) continue;
            for (Eigen::Index m = 0; m < set.points.rows(); ++m) {
                double t_dot = 0.0;
                for (std::size_t k = 0; k < entries.size(); ++k)
                    t_dot += q(static_cast<Eigen::Index>(k)) * set.points(m, full_index(original.hypers, entries[k]));
                energy += set.weights(m) * std::pow(t_dot, original.zeta);
            }
        }
    }
    return energy;
}

Structure fixture_structure(const std::string& name) {
    const json reference = read_json(librascal_fixture("predictions_small_zeta2_exact.json"));
    for (const auto& entry : reference.at("structures"))
        if (entry.at("name") == name) return structure_from_json(entry);
    throw std::runtime_error("no fixture structure " + name);
}

}  // namespace

TEST_CASE("librascal coefficient_subselection: every Full entry, in any order, is the unselected model") {
    const std::string text = read_bytes(kSmall);
    const GapModel original = read_librascal_model(kSmall);
    const SoapHypers& h = original.hypers;
    std::vector<Entry> all;
    for (std::size_t i = 0; i < h.species.size(); ++i)
        for (std::size_t j = i; j < h.species.size(); ++j)
            for (int n1 = 0; n1 < h.max_radial; ++n1)
                for (int n2 = 0; n2 < h.max_radial; ++n2)
                    for (int l = 0; l <= h.max_angular; ++l) all.push_back({h.species[i], h.species[j], n1, n2, l});
    TempDir dir("gapd_subselection_all");
    const Structure s = fixture_structure("bto_40atom_triclinic");
    const GapPrediction reference = GapCalculator(original, RadialMode::Exact).compute_with_gradients(s);
    for (bool reversed : {false, true}) {
        CAPTURE(reversed);
        std::vector<Entry> entries = all;
        if (reversed) std::reverse(entries.begin(), entries.end());
        write_bytes(dir.file("all.json"), with_subselection(text, original, entries).dump());
        const GapModel m = read_librascal_model(dir.file("all.json"));
        // Both copies of every a = b off-diagonal pair: scale 1 everywhere, so a plain selection of all features.
        CHECK(m.selected_features.size() == static_cast<std::size_t>(power_spectrum_size(h, PowerSpectrumLayout::Compressed)));
        CHECK(m.selected_feature_scales.empty());
        const GapPrediction p = GapCalculator(m, RadialMode::Exact).compute_with_gradients(s);
        CHECK(std::abs(p.energy - reference.energy) < 1e-10);
        CHECK((p.forces - reference.forces).cwiseAbs().maxCoeff() < 1e-10);
        CHECK((p.virial - reference.virial).cwiseAbs().maxCoeff() < 1e-10);
    }
}

TEST_CASE("librascal coefficient_subselection: lone off-diagonal copies and repeats follow librascal's definition") {
    const std::string text = read_bytes(kSmall);
    const GapModel original = read_librascal_model(kSmall);
    // One copy of same-species off-diagonal pairs (scale 1/sqrt2), both copies of one (merged), a repeated entry
    // (merged, scale sqrt2), diagonal and cross-species entries, in no particular order.
    const std::vector<Entry> entries = {{8, 8, 0, 1, 0},   {22, 56, 1, 0, 2}, {8, 8, 2, 2, 1},  {56, 56, 3, 1, 3},
                                        {8, 22, 0, 0, 0},  {8, 8, 1, 0, 0},   {22, 22, 0, 2, 1}, {8, 56, 2, 3, 1},
                                        {22, 56, 1, 0, 2}, {56, 56, 0, 0, 0}, {22, 22, 1, 1, 2}, {8, 8, 3, 0, 3}};
    TempDir dir("gapd_subselection_some");
    write_bytes(dir.file("some.json"), with_subselection(text, original, entries).dump());
    const GapModel m = read_librascal_model(dir.file("some.json"));
    CHECK(m.selected_features.size() == entries.size() - 2);  // two merges
    REQUIRE(m.selected_feature_scales.size() == m.selected_features.size());
    for (const char* name : {"bto_5atom_cubic", "bto_40atom_triclinic"}) {
        CAPTURE(name);
        const Structure s = fixture_structure(name);
        const GapPrediction p = GapCalculator(m, RadialMode::Exact).compute_with_gradients(s);
        CHECK(std::abs(p.energy - energy_by_definition(original, entries, s)) < 1e-10);
    }
    // The native file keeps the scales (and names them in required_features).
    write_native_model(dir.file("some.gapd"), m);
    const GapModel back = read_native_model(dir.file("some.gapd"));
    CHECK(back.selected_feature_scales == m.selected_feature_scales);
    const std::string bytes = read_bytes(dir.file("some.gapd"));
    const auto required = bytes.find("\"required_features\"");
    REQUIRE(required != std::string::npos);
    CHECK(bytes.find("\"feature_scales\"", required) < bytes.find("]", required));
    const Structure s = fixture_structure("bto_40atom_triclinic");
    const GapPrediction a = GapCalculator(m, RadialMode::Exact).compute_with_gradients(s);
    const GapPrediction b = GapCalculator(back, RadialMode::Exact).compute_with_gradients(s);
    CHECK(a.energy == b.energy);
    CHECK(a.forces == b.forces);
}

TEST_CASE("librascal coefficient_subselection: malformed selections are refused naming the key") {
    const std::string text = read_bytes(kSmall);
    const GapModel original = read_librascal_model(kSmall);
    const std::vector<Entry> entries = {{8, 8, 0, 1, 0}, {22, 56, 1, 0, 2}};
    const json good = with_subselection(text, original, entries);
    TempDir dir("gapd_subselection_bad");
    const std::string path = dir.file("bad.json");
    const std::string sel = "init_params.kernel.init_params.representation.data.cpp_representation.coefficient_subselection";
    // Edits of the C++ hypers are copied to the Python-side hypers (which must agree), unless `alone`.
    auto error_after = [&](const std::function<void(json&)>& edit, bool alone = false) {
        json d = good;
        edit(d);
        if (!alone) python_hypers(d)["coefficient_subselection"] = cpp_hypers(d)["coefficient_subselection"];
        write_bytes(path, d.dump());
        return error_of([&] { read_librascal_model(path); });
    };
    struct Case {
        const char* what;
        std::function<void(json&)> edit;
        std::string field, message;
        bool alone = false;
    };
    const std::vector<Case> cases = {
        {"unknown key", [](json& d) { cpp_hypers(d)["coefficient_subselection"]["m"] = {0, 0}; }, sel + ".m",
         "not supported by gapd"},
        {"n1 >= max_radial", [](json& d) { cpp_hypers(d)["coefficient_subselection"]["n1"][1] = 4; }, sel + ".n1[1]",
         "4 outside 0..3"},
        {"l > max_angular", [](json& d) { cpp_hypers(d)["coefficient_subselection"]["l"][0] = 4; }, sel + ".l[0]",
         "4 outside 0..3"},
        {"lengths differ", [](json& d) { cpp_hypers(d)["coefficient_subselection"]["n2"].erase(1); }, sel + ".n2",
         "has 1 entries, 'a' has 2"},
        {"a > b", [](json& d) { cpp_hypers(d)["coefficient_subselection"]["a"][1] = 60; cpp_hypers(d)["coefficient_subselection"]["b"][1] = 22; },
         sel + ".a[1]", "ordered a <= b"},
        {"not an integer", [](json& d) { cpp_hypers(d)["coefficient_subselection"]["l"][0] = 0.5; }, sel + ".l[0]",
         "must be an angular index"},
        {"not a list", [](json& d) { cpp_hypers(d)["coefficient_subselection"]["a"] = 8; }, sel + ".a", "expected an array"},
        {"empty", [](json& d) { for (const char* k : {"a", "b", "n1", "n2", "l"}) cpp_hypers(d)["coefficient_subselection"][k] = json::array(); },
         sel + ".a", "empty selection"},
        {"python copy differs", [](json& d) { python_hypers(d)["coefficient_subselection"]["n1"][0] = 3; },
         "init_params.kernel.init_params.representation.init_params.coefficient_subselection", "differs from the C++",
         true},
        {"X_train copy differs",
         [](json& d) {
             x_train_hypers(d).erase("coefficient_subselection");
             d["init_params"]["X_train"]["init_params"]["representation"]["init_params"].erase("coefficient_subselection");
         },
         "init_params.X_train.init_params.representation", "coefficient_subselection differs from the kernel's"},
        {"inner_size not the selection's", [](json& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["inner_size"] = 3; },
         "init_params.X_train.data.sparse_points.inner_size", "coefficient_subselection has 2"},
        {"key not [0, 0]", [](json& d) { d["init_params"]["X_train"]["data"]["sparse_points"]["keys"][0] = {8, 8}; },
         "init_params.X_train.data.sparse_points.keys[0]", "expected the key [0, 0]"},
    };
    CHECK(error_after([](json&) {}) == "(no error)");
    for (const Case& c : cases) {
        const std::string e = error_after(c.edit, c.alone);
        INFO(c.what << ": " << e);
        CHECK(e.rfind(path + ": field '" + c.field + "'", 0) == 0);
        CHECK(e.find(c.message) != std::string::npos);
        CHECK(e.find('\n') == std::string::npos);
    }
}

TEST_CASE("librascal coefficient_subselection: a feature-sparsified BaTiO3 model gives librascal's numbers") {
    // tests/data/librascal_subselection/README.md: paper hypers, 300 features chosen by FPS in librascal, fitted
    // with librascal; predictions from librascal's ASE calculator on 5-, 40- and 320-atom cells.
    const std::string stem = "paper_hypers_subselection300_zeta4_exact";
    const auto reference = read_json(kSubselectionData + "predictions_" + stem + ".json");
    const GapModel model = read_librascal_model(kSubselectionData + "model_" + stem + ".json.gz");
    CHECK(model.selected_features.size() <= 300);
    CHECK(!model.selected_feature_scales.empty());  // FPS on Full features picks lone off-diagonal copies
    REQUIRE(reference.at("structures").size() == 3);
    for (RadialMode mode : {RadialMode::Exact, RadialMode::Spline}) {
        const GapCalculator calc(model, mode);
        for (const auto& entry : reference.at("structures")) {
            CAPTURE(entry.at("name").get<std::string>());
            CAPTURE(static_cast<int>(mode));
            const Structure s = structure_from_json(entry);
            const GapPrediction p = calc.compute_with_gradients(s);
            CHECK(std::abs(p.energy - entry.at("energy").get<double>()) / static_cast<double>(s.size()) < 1e-8);
            // Cells shorter than the cutoff: librascal's forces miss the self-image terms; the fixture's
            // finite differences of librascal's energy are the reference there.
            const char* force_key = entry.contains("forces_selfimage_corrected") ? "forces_selfimage_corrected" : "forces";
            CHECK((p.forces - matrix_from_json(entry.at(force_key))).cwiseAbs().maxCoeff() < 2e-7);
            CHECK((p.virial - Eigen::Matrix3d(matrix_from_json(entry.at("virial")))).cwiseAbs().maxCoeff() < 1e-6);
        }
    }
}
