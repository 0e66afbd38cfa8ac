#include "models/fit_config.hpp"

#include "models/extxyz.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>
#include <stdexcept>

namespace gapd {

namespace {

class Reader {
public:
    explicit Reader(std::string path) : path_(std::move(path)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw std::runtime_error(path_ + ": key '" + key + "': " + what);
    }

    // Rejects keys of `node` (a mapping) that are not in `allowed`.
    void check_keys(const YAML::Node& node, const std::string& where, const std::set<std::string>& allowed) const {
        if (!node.IsMap()) fail(where, "must be a mapping");
        for (const auto& kv : node) {
            const std::string key = kv.first.as<std::string>();
            if (!allowed.count(key)) {
                std::string list;
                for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                fail(where.empty() ? key : where + "." + key, "unknown key (allowed here: " + list + ")");
            }
        }
    }

    template <class T>
    void get(const YAML::Node& node, const std::string& name, const std::string& where, T& value) const {
        if (!node[name]) return;
        try {
            value = node[name].as<T>();
        } catch (const YAML::Exception&) {
            fail(where + name, "has the wrong type");
        }
    }

    int species(const std::string& symbol, const std::string& key) const {
        try {
            return atomic_number(symbol);
        } catch (const std::exception&) {
            fail(key, "unknown chemical symbol '" + symbol + "'");
        }
    }

private:
    std::string path_;
};

}  // namespace

FitConfig read_fit_config(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw std::runtime_error(path + ": cannot read YAML config: " + e.what());
    }
    const Reader r(path);
    FitConfig c;
    r.check_keys(root, "", {"training_files", "output", "report", "description", "keys", "threads", "soap", "gap",
                            "validation"});
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

    if (const YAML::Node s = root["soap"]) {
        r.check_keys(s, "soap", {"cutoff", "max_radial", "max_angular", "gaussian_sigma", "cutoff_function",
                                 "smooth_width", "rate", "scale", "exponent", "normalize", "radial"});
        r.get(s, "cutoff", "soap.", c.soap.cutoff.cutoff);
        r.get(s, "max_radial", "soap.", c.soap.max_radial);
        r.get(s, "max_angular", "soap.", c.soap.max_angular);
        r.get(s, "gaussian_sigma", "soap.", c.soap.gaussian_sigma);
        r.get(s, "smooth_width", "soap.", c.soap.cutoff.smooth_width);
        r.get(s, "rate", "soap.", c.soap.cutoff.rate);
        r.get(s, "scale", "soap.", c.soap.cutoff.scale);
        r.get(s, "exponent", "soap.", c.soap.cutoff.exponent);
        r.get(s, "normalize", "soap.", c.soap.normalize);
        std::string kind = "RadialScaling", radial = "spline";
        r.get(s, "cutoff_function", "soap.", kind);
        if (kind == "RadialScaling") c.soap.cutoff.kind = CutoffKind::RadialScaling;
        else if (kind == "ShiftedCosine") c.soap.cutoff.kind = CutoffKind::ShiftedCosine;
        else r.fail("soap.cutoff_function", "must be RadialScaling or ShiftedCosine");
        r.get(s, "radial", "soap.", radial);
        if (radial == "spline") c.radial = RadialMode::Spline;
        else if (radial == "exact") c.radial = RadialMode::Exact;
        else r.fail("soap.radial", "must be spline or exact");
    }
    if (c.soap.max_radial < 1 || c.soap.max_radial > 32) r.fail("soap.max_radial", "must be in 1..32");
    if (c.soap.max_angular < 0) r.fail("soap.max_angular", "must be >= 0");
    if (!(c.soap.cutoff.cutoff > 0) || !(c.soap.gaussian_sigma > 0) || !(c.soap.cutoff.smooth_width >= 0) ||
        c.soap.cutoff.smooth_width > c.soap.cutoff.cutoff)
        r.fail("soap", "cutoff and gaussian_sigma must be > 0, 0 <= smooth_width <= cutoff");

    if (const YAML::Node g = root["gap"]) {
        r.check_keys(g, "gap", {"zeta", "sparse_points", "sparse_environments", "selection", "baseline", "delta",
                                "sigma_energy", "sigma_forces", "sigma_virial", "jitter", "fit_forces",
                                "fit_virial", "feature_selection"});
        r.get(g, "zeta", "gap.", c.zeta);
        if (c.zeta < 1) r.fail("gap.zeta", "must be a positive integer");
        if (const YAML::Node sp = g["sparse_points"]) {
            if (!sp.IsMap()) r.fail("gap.sparse_points", "must map chemical symbols to counts, e.g. {O: 500}");
            c.sparse_points.clear();
            for (const auto& kv : sp) {
                const std::string sym = kv.first.as<std::string>();
                int n = 0;
                try {
                    n = kv.second.as<int>();
                } catch (const YAML::Exception&) {
                    r.fail("gap.sparse_points." + sym, "must be an integer");
                }
                if (n < 1) r.fail("gap.sparse_points." + sym, "must be >= 1");
                c.sparse_points[r.species(sym, "gap.sparse_points." + sym)] = n;
            }
        }
        if (const YAML::Node se = g["sparse_environments"]) {
            if (!se.IsSequence()) r.fail("gap.sparse_environments", "must be a list of [frame, atom] pairs");
            for (const auto& e : se) {
                if (!e.IsSequence() || e.size() != 2) r.fail("gap.sparse_environments", "entries must be [frame, atom]");
                c.sparse_environments.emplace_back(e[0].as<int>(), e[1].as<int>());
            }
        }
        if (const YAML::Node fs = g["feature_selection"]) {
            if (!fs.IsMap()) r.fail("gap.feature_selection", "must be a map, e.g. {count: 600}");
            r.check_keys(fs, "gap.feature_selection", {"count"});
            r.get(fs, "count", "gap.feature_selection.", c.feature_selection_count);
            if (c.feature_selection_count < 1) r.fail("gap.feature_selection.count", "must be >= 1");
        }
        std::string selection = "fps";
        r.get(g, "selection", "gap.", selection);
        if (selection != "fps") r.fail("gap.selection", "only 'fps' (farthest-point sampling) is implemented");
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
    return c;
}

}  // namespace gapd
