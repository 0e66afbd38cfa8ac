#include "models/formats/native_model_schema.hpp"

#include "models/core/text_excerpt.hpp"
#include "models/descriptors/lambda1_features.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace gapd {

namespace {

using nlohmann::json;

// Changes the meaning of the sparse points: files with a feature selection list it in required_features, so that
// older readers refuse them.
constexpr const char* kFeatureSelection = "feature_selection";
// Per-feature scales of a selection (librascal's coefficient_subselection): an older reader would normalize
// the features without them.
constexpr const char* kFeatureScales = "feature_scales";
constexpr const char* kLambda1Descriptor = "spherical_covariants_lambda1";

const char* cutoff_name(CutoffKind kind) { return kind == CutoffKind::ShiftedCosine ? "ShiftedCosine" : "RadialScaling"; }

json soap_json(const SoapHypers& h, const char* descriptor) {
    return {
        {"descriptor", descriptor},
        {"radial_basis", "GTO"},
        {"gaussian_density", "Constant"},
        {"max_radial", h.max_radial},
        {"max_angular", h.max_angular},
        {"gaussian_sigma", h.gaussian_sigma},
        {"normalize", h.normalize},
        {"cutoff_function",
         {{"type", cutoff_name(h.cutoff.kind)},
          {"cutoff", h.cutoff.cutoff},
          {"smooth_width", h.cutoff.smooth_width},
          {"rate", h.cutoff.rate},
          {"scale", h.cutoff.scale},
          {"exponent", h.cutoff.exponent}}},
        {"librascal_spline_accuracy", h.librascal_spline_accuracy},
        {"species", h.species},
    };
}

json dipole_json(const DipoleModel& model) {
    json baseline = json::object();
    for (const auto& [z, v] : model.baseline) baseline[std::to_string(z)] = {v.x(), v.y(), v.z()};
    json sets = json::array();
    for (const DipoleSparseSet& s : model.sparse) {
        const std::string z = std::to_string(s.species);
        json set = {{"species", s.species}, {"points", "dipole_points_" + z}, {"weights", "dipole_weights_" + z}};
        if (model.kernel == DipoleKernel::LinearTimesScalar) set["scalar_points"] = "dipole_scalar_points_" + z;
        sets.push_back(set);
    }
    const CellDipoleRoles& c = model.cell_roles;
    return {
        {"type", "sagpr_dipole"},
        {"description", model.description},
        {"soap", soap_json(model.hypers, kLambda1Descriptor)},
        {"inversion_symmetry", model.inversion_symmetry},
        {"kernel", model.kernel == DipoleKernel::Linear ? "Linear" : "LinearTimesScalar"},
        {"zeta", model.zeta},
        {"baseline", baseline},
        {"cell_roles",
         {{"b_site", c.b_site}, {"a_site", c.a_site}, {"oxygen", c.oxygen}, {"o_shell", c.o_shell}, {"a_shell", c.a_shell}}},
        {"sparse_sets", sets},
    };
}

// `p`: the header path of the section ("soap", "dipole.soap"); `descriptor`: the feature kind it must name.
SoapHypers read_hypers(const HeaderFields& r, const json& soap, const std::string& p, const char* descriptor) {
    r.expect(r.member(soap, p, "descriptor"), p + ".descriptor", descriptor);
    r.expect(r.member(soap, p, "radial_basis"), p + ".radial_basis", "GTO");
    r.expect(r.member(soap, p, "gaussian_density"), p + ".gaussian_density", "Constant");
    SoapHypers h;
    const std::int64_t nmax = r.integer(r.member(soap, p, "max_radial"), p + ".max_radial");
    const std::int64_t lmax = r.integer(r.member(soap, p, "max_angular"), p + ".max_angular");
    if (nmax < 1 || nmax > 100) r.fail(p + ".max_radial", "must be in 1..100");
    if (lmax < 0 || lmax > 100) r.fail(p + ".max_angular", "must be in 0..100");
    h.max_radial = static_cast<int>(nmax);
    h.max_angular = static_cast<int>(lmax);
    h.gaussian_sigma = r.number(r.member(soap, p, "gaussian_sigma"), p + ".gaussian_sigma");
    if (!(h.gaussian_sigma > 0)) r.fail(p + ".gaussian_sigma", "must be positive");
    h.normalize = r.boolean(r.member(soap, p, "normalize"), p + ".normalize");
    const json& cutoff = r.member(soap, p, "cutoff_function");
    const std::string kind = r.string(r.member(cutoff, p + ".cutoff_function", "type"), p + ".cutoff_function.type");
    if (kind == "ShiftedCosine")
        h.cutoff.kind = CutoffKind::ShiftedCosine;
    else if (kind == "RadialScaling")
        h.cutoff.kind = CutoffKind::RadialScaling;
    else
        r.fail(p + ".cutoff_function.type", "expected \"ShiftedCosine\" or \"RadialScaling\", got \"" + kind + "\"");
    auto cutoff_number = [&](const char* key) {
        return r.number(r.member(cutoff, p + ".cutoff_function", key), p + ".cutoff_function." + key);
    };
    h.cutoff.cutoff = cutoff_number("cutoff");
    h.cutoff.smooth_width = cutoff_number("smooth_width");
    h.cutoff.rate = cutoff_number("rate");
    h.cutoff.scale = cutoff_number("scale");
    h.cutoff.exponent = cutoff_number("exponent");
    if (!(h.cutoff.cutoff > 0)) r.fail(p + ".cutoff_function.cutoff", "must be positive");
    if (!(h.cutoff.smooth_width >= 0 && h.cutoff.smooth_width <= h.cutoff.cutoff))
        r.fail(p + ".cutoff_function.smooth_width", "must be in [0, cutoff]");
    h.librascal_spline_accuracy =
        r.number(r.member(soap, p, "librascal_spline_accuracy"), p + ".librascal_spline_accuracy");
    if (h.librascal_spline_accuracy < 0) r.fail(p + ".librascal_spline_accuracy", "must be >= 0");
    const json& species = r.member(soap, p, "species");
    if (!species.is_array() || species.empty()) r.fail(p + ".species", "expected a non-empty array");
    for (const json& z : species) {
        const std::int64_t value = r.integer(z, p + ".species");
        if (value < 1 || value > 1000 || (!h.species.empty() && value <= h.species.back()))
            r.fail(p + ".species", "must be sorted atomic numbers without repeats");
        h.species.push_back(static_cast<int>(value));
    }
    // power_spectrum_size() is an int: refuse hypers whose feature count would overflow it.
    const std::int64_t ns = static_cast<std::int64_t>(h.species.size());
    const std::int64_t features = ns * (ns + 1) / 2 * nmax * nmax * (lmax + 1);
    if (features > std::numeric_limits<int>::max())
        r.fail(p, std::to_string(ns) + " species with max_radial " + std::to_string(nmax) + " and max_angular " +
                           std::to_string(lmax) + " give " + std::to_string(features) +
                           " features per environment, more than gapd supports");
    return h;
}

int atomic_number_key(const HeaderFields& r, const std::string& key, const std::string& field) {
    std::size_t used = 0;
    int z = 0;
    try {
        z = std::stoi(key, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != key.size() || z < 1 || z > 118) r.fail(field, "key must be an atomic number");
    return z;
}

// The "dipole" section (docs/model_format.md): an SA-GPR lambda=1 model with its own hypers and arrays.
DipoleModel read_dipole_section(NativeFileReader& file, const json& d) {
    const HeaderFields& r = file.fields();
    DipoleModel m;
    r.expect(r.member(d, "dipole", "type"), "dipole.type", "sagpr_dipole");
    if (d.contains("description")) m.description = r.string(d["description"], "dipole.description");
    m.hypers = read_hypers(r, r.member(d, "dipole", "soap"), "dipole.soap", kLambda1Descriptor);
    m.inversion_symmetry = r.boolean(r.member(d, "dipole", "inversion_symmetry"), "dipole.inversion_symmetry");
    const std::string kernel = r.string(r.member(d, "dipole", "kernel"), "dipole.kernel");
    if (kernel == "Linear")
        m.kernel = DipoleKernel::Linear;
    else if (kernel == "LinearTimesScalar")
        m.kernel = DipoleKernel::LinearTimesScalar;
    else
        r.fail("dipole.kernel", "expected \"Linear\" or \"LinearTimesScalar\", got \"" + kernel + "\"");
    const std::int64_t zeta = r.integer(r.member(d, "dipole", "zeta"), "dipole.zeta");
    if (zeta < 1 || zeta > 1000) r.fail("dipole.zeta", "must be a positive integer");
    m.zeta = static_cast<int>(zeta);
    const bool scalar = m.kernel == DipoleKernel::LinearTimesScalar;

    const json& baseline = r.member(d, "dipole", "baseline");
    if (!baseline.is_object()) r.fail("dipole.baseline", "expected an object");
    for (const auto& item : baseline.items()) {
        const std::string field = "dipole.baseline." + excerpt(item.key());
        const int z = atomic_number_key(r, item.key(), field);
        if (!std::binary_search(m.hypers.species.begin(), m.hypers.species.end(), z))
            r.fail(field, "species not in dipole.soap.species");
        if (!item.value().is_array() || item.value().size() != 3) r.fail(field, "expected 3 numbers");
        for (int a = 0; a < 3; ++a) m.baseline[z][a] = r.number(item.value()[a], field);
    }

    const json& roles = r.member(d, "dipole", "cell_roles");
    auto role = [&](const char* key) {
        const std::string field = std::string("dipole.cell_roles.") + key;
        const std::int64_t z = r.integer(r.member(roles, "dipole.cell_roles", key), field);
        if (z < 1 || z > 118) r.fail(field, "must be an atomic number");
        return static_cast<int>(z);
    };
    auto shell = [&](const char* key) {
        const std::string field = std::string("dipole.cell_roles.") + key;
        const double x = r.number(r.member(roles, "dipole.cell_roles", key), field);
        if (!(x > 0)) r.fail(field, "must be positive");
        return x;
    };
    m.cell_roles = {role("b_site"), role("a_site"), role("oxygen"), shell("o_shell"), shell("a_shell")};

    // lambda=1 features are at most 6x the power spectrum: refuse sizes that would overflow an int.
    const std::int64_t ns = static_cast<std::int64_t>(m.hypers.species.size());
    const std::int64_t bound = ns * (ns + 1) / 2 * m.hypers.max_radial * m.hypers.max_radial *
                               (2 * m.hypers.max_angular + 2) * 3;
    if (bound > std::numeric_limits<int>::max()) r.fail("dipole.soap", "too many lambda=1 features per environment");
    const auto cols = static_cast<std::uint64_t>(Lambda1Features(m.hypers, m.inversion_symmetry).size());
    const auto dim = static_cast<std::uint64_t>(power_spectrum_size(m.hypers));

    const json& sets = r.member(d, "dipole", "sparse_sets");
    if (!sets.is_array()) r.fail("dipole.sparse_sets", "expected an array");
    for (std::size_t i = 0; i < sets.size(); ++i) {
        const std::string field = "dipole.sparse_sets[" + std::to_string(i) + "]";
        DipoleSparseSet s;
        const std::int64_t z = r.integer(r.member(sets[i], field, "species"), field + ".species");
        if (!std::binary_search(m.hypers.species.begin(), m.hypers.species.end(), z))
            r.fail(field + ".species", std::to_string(z) + " is not in dipole.soap.species");
        if (!m.sparse.empty() && z <= m.sparse.back().species)
            r.fail(field + ".species", "sparse sets must be sorted by species, without repeats");
        s.species = static_cast<int>(z);
        const json& weights_name = r.member(sets[i], field, "weights");
        const std::vector<std::uint64_t>* weights_shape = file.shape_of(r.string(weights_name, field + ".weights"));
        if (weights_shape == nullptr || weights_shape->size() != 2)
            r.fail(field + ".weights", "must name a 2-D array in the directory");
        const std::uint64_t rows = (*weights_shape)[0];
        file.load(weights_name, field + ".weights", {rows, 3}, [&] {
            s.weights.resize(static_cast<Eigen::Index>(rows), 3);
            return s.weights.data();
        });
        file.load(r.member(sets[i], field, "points"), field + ".points", {rows, cols}, [&] {
            s.points.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
            return s.points.data();
        });
        if (scalar) {
            file.load(r.member(sets[i], field, "scalar_points"), field + ".scalar_points", {rows, dim}, [&] {
                s.scalar_points.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(dim));
                return s.scalar_points.data();
            });
        } else if (sets[i].contains("scalar_points")) {
            r.fail(field + ".scalar_points", "only for the LinearTimesScalar kernel");
        }
        m.sparse.push_back(std::move(s));
    }
    return m;
}

}  // namespace

const std::vector<std::string>& native_model_features() {
    static const std::vector<std::string> features{kFeatureSelection, kFeatureScales};
    return features;
}

json native_model_header(const ModelFileContents& contents) {
    json header = {{"required_features", json::array()}};
    if (contents.gap) {
        const GapModel& model = *contents.gap;
        json self = json::object();
        for (const auto& [z, e] : model.self_contributions) self[std::to_string(z)] = e;
        json sets = json::array();
        for (const SparseSet& s : model.sparse) {
            const std::string z = std::to_string(s.species);
            sets.push_back({{"species", s.species}, {"points", "sparse_points_" + z}, {"weights", "weights_" + z}});
        }
        header["description"] = model.description;
        header["soap"] = soap_json(model.hypers, "power_spectrum");
        header["potential"] = {
            {"type", "sparse_gap"}, {"zeta", model.zeta}, {"self_contributions", self}, {"sparse_sets", sets}};
        if (!model.selected_features.empty()) {
            header["required_features"] = json::array({kFeatureSelection});
            header["potential"]["selected_features"] = model.selected_features;
        }
        if (!model.selected_feature_scales.empty()) {
            header["required_features"].push_back(kFeatureScales);
            header["potential"]["selected_feature_scales"] = model.selected_feature_scales;
        }
    } else if (contents.dipole) {
        header["description"] = contents.dipole->description;
    }
    if (contents.dipole) header["dipole"] = dipole_json(*contents.dipole);
    return header;
}

std::vector<NativeArray> native_model_arrays(const ModelFileContents& contents) {
    std::vector<NativeArray> arrays;
    auto add_matrix = [&](const std::string& name, const RowMatrix& m) {
        arrays.push_back({name, {static_cast<std::uint64_t>(m.rows()), static_cast<std::uint64_t>(m.cols())}, m.data()});
    };
    if (contents.gap) {
        for (const SparseSet& s : contents.gap->sparse) {
            const std::string z = std::to_string(s.species);
            add_matrix("sparse_points_" + z, s.points);
            arrays.push_back({"weights_" + z, {static_cast<std::uint64_t>(s.points.rows())}, s.weights.data()});
        }
    }
    if (contents.dipole) {
        for (const DipoleSparseSet& s : contents.dipole->sparse) {
            const std::string z = std::to_string(s.species);
            add_matrix("dipole_points_" + z, s.points);
            add_matrix("dipole_weights_" + z, s.weights);
            if (contents.dipole->kernel == DipoleKernel::LinearTimesScalar)
                add_matrix("dipole_scalar_points_" + z, s.scalar_points);
        }
    }
    return arrays;
}

ModelFileContents read_native_model_sections(NativeFileReader& file, bool read_dipole) {
    const HeaderFields& r = file.fields();
    const json& header = file.header();
    const std::string& path = r.path();
    ModelFileContents contents;
    std::string description;
    if (header.contains("description")) description = r.string(header["description"], "description");
    if (!header.contains("potential") && !header.contains("dipole"))
        throw std::runtime_error(path + ": missing header field 'potential' (a GAP) or 'dipole' (a dipole model)");
    if (read_dipole && header.contains("dipole")) contents.dipole = read_dipole_section(file, header["dipole"]);
    if (!header.contains("potential")) return contents;
    GapModel model;
    model.description = description;
    model.hypers = read_hypers(r, r.member(header, "", "soap"), "soap", "power_spectrum");
    const auto dim = static_cast<std::uint64_t>(power_spectrum_size(model.hypers));

    const json& potential = r.member(header, "", "potential");
    r.expect(r.member(potential, "potential", "type"), "potential.type", "sparse_gap");
    const std::int64_t zeta = r.integer(r.member(potential, "potential", "zeta"), "potential.zeta");
    if (zeta < 1 || zeta > 1000) r.fail("potential.zeta", "must be a positive integer");
    model.zeta = static_cast<int>(zeta);
    const json& self = r.member(potential, "potential", "self_contributions");
    if (!self.is_object()) r.fail("potential.self_contributions", "expected an object");
    for (const auto& item : self.items()) {
        const std::string field = "potential.self_contributions." + excerpt(item.key());
        std::size_t used = 0;
        int z = 0;
        try {
            z = std::stoi(item.key(), &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.key().size() || z < 1) r.fail(field, "key must be an atomic number");
        model.self_contributions[z] = r.number(item.value(), field);
    }
    const json& sets = r.member(potential, "potential", "sparse_sets");
    if (!sets.is_array()) r.fail("potential.sparse_sets", "expected an array");
    for (std::size_t i = 0; i < sets.size(); ++i) {
        const std::string field = "potential.sparse_sets[" + std::to_string(i) + "]";
        SparseSet s;
        const std::int64_t z = r.integer(r.member(sets[i], field, "species"), field + ".species");
        if (!std::binary_search(model.hypers.species.begin(), model.hypers.species.end(), z))
            r.fail(field + ".species", std::to_string(z) + " is not in soap.species");
        if (!model.sparse.empty() && z <= model.sparse.back().species)
            r.fail(field + ".species", "sparse sets must be sorted by species, without repeats");
        s.species = static_cast<int>(z);
        // The number of sparse points comes from the weights array; the points must agree with it.
        const json& weights_name = r.member(sets[i], field, "weights");
        const std::vector<std::uint64_t>* weights_shape = file.shape_of(r.string(weights_name, field + ".weights"));
        if (weights_shape == nullptr || weights_shape->size() != 1)
            r.fail(field + ".weights", "must name a 1-D array in the directory");
        const std::uint64_t m = (*weights_shape)[0];
        file.load(weights_name, field + ".weights", {m}, [&] {
            s.weights.resize(static_cast<Eigen::Index>(m));
            return s.weights.data();
        });
        file.load(r.member(sets[i], field, "points"), field + ".points", {m, dim}, [&] {
            s.points.resize(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(dim));
            return s.points.data();
        });
        model.sparse.push_back(std::move(s));
    }
    if (potential.contains("selected_features")) {
        const json& sel = potential["selected_features"];
        if (!sel.is_array() || sel.empty()) r.fail("potential.selected_features", "expected a non-empty array of indices");
        for (const json& v : sel) {
            const std::int64_t idx = r.integer(v, "potential.selected_features");
            if (idx < 0 || idx > std::numeric_limits<int>::max()) r.fail("potential.selected_features", "index out of range");
            model.selected_features.push_back(static_cast<int>(idx));
        }
        try {
            PowerSpectrum(model.hypers, model.selected_features);
        } catch (const std::invalid_argument& e) {
            r.fail("potential.selected_features", e.what());
        }
    }
    if (potential.contains("selected_feature_scales")) {
        const std::string field = "potential.selected_feature_scales";
        const json& scales = potential["selected_feature_scales"];
        if (!scales.is_array() || scales.size() != model.selected_features.size())
            r.fail(field, "expected one number per entry of potential.selected_features");
        for (const json& v : scales) model.selected_feature_scales.push_back(r.number(v, field));
        try {
            PowerSpectrum(model.hypers, model.selected_features, model.selected_feature_scales);
        } catch (const std::invalid_argument& e) {
            r.fail(field, e.what());
        }
    }
    contents.gap = std::move(model);
    return contents;
}

}  // namespace gapd
