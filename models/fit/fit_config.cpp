#include "models/fit/fit_config.hpp"

#include "models/core/closest_name.hpp"
#include "models/core/regular_file.hpp"
#include "models/core/text_excerpt.hpp"
#include "models/core/elements.hpp"
#include "models/formats/yaml_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <type_traits>

namespace gapd {

namespace {

template <class T>
std::string type_name(const T&) {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    else if constexpr (std::is_integral_v<T>) return "an integer";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else if constexpr (std::is_same_v<T, std::string>) return "text";
    else return "a list";
}

class Reader {
public:
    explicit Reader(std::string path) : path_(std::move(path)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw std::runtime_error(path_ + ": key " + quote_excerpt(key) + ": " + what);
    }

    // Rejects keys of `node` (a mapping) that are not in `allowed`.
    void check_keys(const YAML::Node& node, const std::string& where, const std::set<std::string>& allowed) const {
        if (!node.IsMap()) fail(where, "must be a mapping");
        for (const auto& kv : node) {
            const std::string key = kv.first.as<std::string>();
            if (!allowed.count(key)) {
                std::string list;
                for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                fail(where.empty() ? key : where + "." + key,
                     "unknown key" + did_you_mean(key, {allowed.begin(), allowed.end()}) + " (allowed here: " + list +
                         ")");
            }
        }
    }

    template <class T>
    void get(const YAML::Node& node, const std::string& name, const std::string& where, T& value) const {
        if (!node[name]) return;
        const YAML::Node v = node[name];
        // yaml-cpp reads `yes`/`on` as a bool and `"3"` as a number; only the spelling the type wants is taken.
        const bool bool_mismatch = std::is_same_v<T, bool> != is_yaml_boolean(v) && v.IsScalar();
        try {
            if (is_yaml_null(v) || bool_mismatch) throw YAML::Exception(v.Mark(), "type");
            value = v.as<T>();
        } catch (const YAML::Exception&) {
            fail(where + name, "expects " + type_name(value) + ", got " +
                                   (v.IsScalar() ? quote_excerpt(v.Scalar()) : v.IsSequence() ? "a list" : "a mapping"));
        }
    }

    int species(const std::string& symbol, const std::string& key) const {
        try {
            return atomic_number(symbol);
        } catch (const std::exception&) {
            fail(key, "unknown chemical symbol " + quote_excerpt(symbol));
        }
    }

    SparseSelection selection(const std::string& name, const std::string& key) const {
        try {
            return parse_sparse_selection(name);
        } catch (const std::exception& e) {
            fail(key, e.what());
        }
    }

    // {symbol: count >= 1} into counts (cleared first).
    void species_counts(const YAML::Node& node, const std::string& key, std::map<int, int>& counts) const {
        if (!node.IsMap()) fail(key, "must map chemical symbols to counts, e.g. {O: 500}");
        counts.clear();
        for (const auto& kv : node) {
            const std::string sym = kv.first.as<std::string>();
            int n = 0;
            try {
                n = kv.second.as<int>();
            } catch (const YAML::Exception&) {
                fail(key + "." + sym, "must be an integer");
            }
            if (n < 1) fail(key + "." + sym, "must be >= 1");
            counts[species(sym, key + "." + sym)] = n;
        }
    }

    // [[frame, atom], ...]
    void environments(const YAML::Node& node, const std::string& key, std::vector<std::pair<int, int>>& out) const {
        if (!node.IsSequence()) fail(key, "must be a list of [frame, atom] pairs");
        for (const auto& e : node) {
            if (!e.IsSequence() || e.size() != 2) fail(key, "entries must be [frame, atom]");
            try {
                out.emplace_back(e[0].as<int>(), e[1].as<int>());
            } catch (const YAML::Exception&) {
                fail(key, "entries must be [frame, atom] integers");
            }
        }
    }

private:
    std::string path_;
};

// The SOAP hyperparameter keys of the mapping `s` (absent: defaults kept) at `section` (docs/fitting.md); `radial` is only accepted where non-null.
void read_soap(const Reader& r, const YAML::Node& s, const std::string& section, SoapHypers& h, RadialMode* radial_mode) {
    const std::string p = section + ".";
    if (s) {
        std::set<std::string> allowed{"cutoff", "max_radial", "max_angular", "gaussian_sigma", "cutoff_function",
                                      "smooth_width", "rate", "scale", "exponent", "normalize"};
        if (radial_mode) allowed.insert("radial");
        r.check_keys(s, section, allowed);
        r.get(s, "cutoff", p, h.cutoff.cutoff);
        r.get(s, "max_radial", p, h.max_radial);
        r.get(s, "max_angular", p, h.max_angular);
        r.get(s, "gaussian_sigma", p, h.gaussian_sigma);
        r.get(s, "smooth_width", p, h.cutoff.smooth_width);
        r.get(s, "rate", p, h.cutoff.rate);
        r.get(s, "scale", p, h.cutoff.scale);
        r.get(s, "exponent", p, h.cutoff.exponent);
        r.get(s, "normalize", p, h.normalize);
        std::string kind = "RadialScaling", radial = "spline";
        r.get(s, "cutoff_function", p, kind);
        if (kind == "RadialScaling") h.cutoff.kind = CutoffKind::RadialScaling;
        else if (kind == "ShiftedCosine") h.cutoff.kind = CutoffKind::ShiftedCosine;
        else r.fail(p + "cutoff_function", "must be RadialScaling or ShiftedCosine");
        if (radial_mode) {
            r.get(s, "radial", p, radial);
            if (radial == "spline") *radial_mode = RadialMode::Spline;
            else if (radial == "exact") *radial_mode = RadialMode::Exact;
            else r.fail(p + "radial", "must be spline or exact");
        }
    }
    if (h.max_radial < 1 || h.max_radial > 32) r.fail(p + "max_radial", "must be in 1..32");
    if (h.max_angular < 0) r.fail(p + "max_angular", "must be >= 0");
    if (!(h.cutoff.cutoff > 0) || !(h.gaussian_sigma > 0) || !(h.cutoff.smooth_width >= 0) ||
        h.cutoff.smooth_width > h.cutoff.cutoff)
        r.fail(section, "cutoff and gaussian_sigma must be > 0, 0 <= smooth_width <= cutoff");
}

// The `dipoles:` section (models/fit/dipole_fit_config.hpp).
DipoleFitConfig read_dipoles_section(const Reader& r, const YAML::Node& d, SparseSelection selection) {
    DipoleFitConfig c;
    c.selection = selection;
    r.check_keys(d, "dipoles", {"key", "soap", "inversion_symmetry", "kernel", "zeta", "sparse_points",
                                "sparse_environments", "selection", "delta", "sigma", "jitter", "unwrapping"});
    r.get(d, "key", "dipoles.", c.key);
    if (c.key.empty()) r.fail("dipoles.key", "must not be empty");
    read_soap(r, d["soap"], "dipoles.soap", c.soap, nullptr);
    if (c.soap.max_angular < 1) r.fail("dipoles.soap.max_angular", "must be >= 1 for lambda=1 features");
    r.get(d, "inversion_symmetry", "dipoles.", c.inversion_symmetry);
    std::string kernel = "Linear";
    r.get(d, "kernel", "dipoles.", kernel);
    if (kernel == "Linear") c.kernel = DipoleKernel::Linear;
    else if (kernel == "LinearTimesScalar") c.kernel = DipoleKernel::LinearTimesScalar;
    else r.fail("dipoles.kernel", "must be Linear or LinearTimesScalar");
    r.get(d, "zeta", "dipoles.", c.zeta);
    if (c.zeta < 1) r.fail("dipoles.zeta", "must be a positive integer");
    if (d["sparse_points"]) r.species_counts(d["sparse_points"], "dipoles.sparse_points", c.sparse_points);
    if (d["sparse_environments"]) r.environments(d["sparse_environments"], "dipoles.sparse_environments", c.sparse_environments);
    if (d["selection"]) {
        std::string name;
        r.get(d, "selection", "dipoles.", name);
        c.selection = r.selection(name, "dipoles.selection");
    }
    r.get(d, "delta", "dipoles.", c.delta);
    r.get(d, "sigma", "dipoles.", c.sigma);
    r.get(d, "jitter", "dipoles.", c.jitter);
    if (!(c.delta > 0) || !(c.sigma > 0) || !(c.jitter >= 0))
        r.fail("dipoles", "delta and sigma must be > 0, jitter >= 0");
    if (const YAML::Node u = d["unwrapping"]) {
        r.check_keys(u, "dipoles.unwrapping", {"enabled", "born_charges", "reference_key", "roles"});
        r.get(u, "enabled", "dipoles.unwrapping.", c.unwrapping.enabled);
        r.get(u, "reference_key", "dipoles.unwrapping.", c.unwrapping.reference_key);
        if (const YAML::Node b = u["born_charges"]) {
            if (!b.IsMap()) r.fail("dipoles.unwrapping.born_charges", "must map chemical symbols to charges (e)");
            c.unwrapping.born_charges.clear();
            for (const auto& kv : b) {
                const std::string sym = kv.first.as<std::string>();
                const std::string key = "dipoles.unwrapping.born_charges." + sym;
                try {
                    c.unwrapping.born_charges[r.species(sym, key)] = kv.second.as<double>();
                } catch (const YAML::Exception&) {
                    r.fail(key, "must be a number (e)");
                }
                if (!std::isfinite(c.unwrapping.born_charges[r.species(sym, key)])) r.fail(key, "must be finite");
            }
        }
        if (const YAML::Node ro = u["roles"]) {
            if (!ro.IsSequence() || ro.size() != 3)
                r.fail("dipoles.unwrapping.roles", "must be [B site, A site, oxygen] chemical symbols");
            const std::string k = "dipoles.unwrapping.roles";
            c.unwrapping.roles.b_site = r.species(ro[0].as<std::string>(), k);
            c.unwrapping.roles.a_site = r.species(ro[1].as<std::string>(), k);
            c.unwrapping.roles.oxygen = r.species(ro[2].as<std::string>(), k);
        }
    }
    return c;
}

}  // namespace

FitConfig read_fit_config(const std::string& path) {
    const YAML::Node root = load_yaml_file(path);
    const Reader r(path);
    FitConfig c;
    r.check_keys(root, "", {"training_files", "output", "report", "description", "keys", "threads", "soap", "gap",
                            "validation", "sparse_selection", "dipoles"});
    const auto base = std::filesystem::path(path).parent_path();
    auto resolve = [&](const std::string& p) { return (base / p).lexically_normal().string(); };

    if (!root["training_files"]) r.fail("training_files", "required (one extxyz file or a list)");
    std::vector<std::string> files;
    if (root["training_files"].IsScalar())
        files.push_back(root["training_files"].as<std::string>());
    else
        r.get(root, "training_files", "", files);
    if (files.empty()) r.fail("training_files", "no files given");
    for (const auto& f : files) c.training_files.push_back(resolve(f));
    r.get(root, "output", "", c.output);
    c.output = resolve(c.output);
    r.get(root, "report", "", c.report);
    c.report = c.report.empty() ? c.output + ".report" : resolve(c.report);
    r.get(root, "description", "", c.description);
    r.get(root, "threads", "", c.threads);
    if (c.threads < 0) r.fail("threads", "must be >= 0");

    if (const YAML::Node k = root["keys"]) {
        r.check_keys(k, "keys", {"energy", "forces", "stress", "virial"});
        r.get(k, "energy", "keys.", c.keys.energy);
        r.get(k, "forces", "keys.", c.keys.forces);
        r.get(k, "stress", "keys.", c.keys.stress);
        r.get(k, "virial", "keys.", c.keys.virial);
    }

    read_soap(r, root["soap"], "soap", c.soap, &c.radial);
    std::string selection = "fps";
    r.get(root, "sparse_selection", "", selection);
    c.selection = c.selection_default = r.selection(selection, "sparse_selection");

    if (const YAML::Node g = root["gap"]) {
        r.check_keys(g, "gap", {"zeta", "sparse_points", "sparse_environments", "selection", "baseline", "delta",
                                "sigma_energy", "sigma_forces", "sigma_virial", "jitter", "fit_forces",
                                "fit_virial", "feature_selection"});
        r.get(g, "zeta", "gap.", c.zeta);
        if (c.zeta < 1) r.fail("gap.zeta", "must be a positive integer");
        if (g["sparse_points"]) r.species_counts(g["sparse_points"], "gap.sparse_points", c.sparse_points);
        if (g["sparse_environments"]) r.environments(g["sparse_environments"], "gap.sparse_environments", c.sparse_environments);
        if (g["selection"]) {
            r.get(g, "selection", "gap.", selection);
            c.selection = r.selection(selection, "gap.selection");
        }
        if (const YAML::Node fs = g["feature_selection"]) {
            if (!fs.IsMap()) r.fail("gap.feature_selection", "must be a map, e.g. {count: 600}");
            r.check_keys(fs, "gap.feature_selection", {"count"});
            r.get(fs, "count", "gap.feature_selection.", c.feature_selection_count);
            if (c.feature_selection_count < 1) r.fail("gap.feature_selection.count", "must be >= 1");
        }
        if (const YAML::Node b = g["baseline"]) {
            if (b.IsScalar()) {
                if (b.as<std::string>() != "least_squares")
                    r.fail("gap.baseline", "must be least_squares or a map {symbol: eV per atom}");
            } else if (b.IsMap()) {
                c.baseline_least_squares = false;
                for (const auto& kv : b) {
                    const std::string sym = kv.first.as<std::string>();
                    try {
                        c.baseline[r.species(sym, "gap.baseline." + sym)] = kv.second.as<double>();
                    } catch (const YAML::Exception&) {
                        r.fail("gap.baseline." + sym, "must be a number (eV per atom)");
                    }
                }
            } else {
                r.fail("gap.baseline", "must be least_squares or a map {symbol: eV per atom}");
            }
        }
        r.get(g, "delta", "gap.", c.delta);
        r.get(g, "sigma_energy", "gap.", c.sigma_energy);
        r.get(g, "sigma_forces", "gap.", c.sigma_forces);
        r.get(g, "sigma_virial", "gap.", c.sigma_virial);
        r.get(g, "jitter", "gap.", c.jitter);
        r.get(g, "fit_forces", "gap.", c.fit_forces);
        r.get(g, "fit_virial", "gap.", c.fit_virial);
        if (!(c.delta > 0) || !(c.sigma_energy > 0) || !(c.sigma_forces > 0) || !(c.sigma_virial > 0) ||
            !(c.jitter >= 0))
            r.fail("gap", "delta and the sigmas must be > 0, jitter >= 0");
    }

    if (const YAML::Node v = root["validation"]) {
        r.check_keys(v, "validation", {"held_out_fraction", "seed", "formula_unit_atoms", "learning_curve"});
        r.get(v, "held_out_fraction", "validation.", c.held_out_fraction);
        r.get(v, "seed", "validation.", c.seed);
        r.get(v, "formula_unit_atoms", "validation.", c.formula_unit_atoms);
        r.get(v, "learning_curve", "validation.", c.learning_curve);
        if (!(c.held_out_fraction >= 0 && c.held_out_fraction < 1))
            r.fail("validation.held_out_fraction", "must be in [0, 1)");
        if (c.formula_unit_atoms < 1) r.fail("validation.formula_unit_atoms", "must be >= 1");
        for (double f : c.learning_curve)
            if (!(f > 0 && f <= 1)) r.fail("validation.learning_curve", "fractions must be in (0, 1]");
    }
    if (const YAML::Node d = root["dipoles"]) c.dipoles = read_dipoles_section(r, d, c.selection_default);
    return c;
}

}  // namespace gapd
