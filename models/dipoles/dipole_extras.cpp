#include "models/dipoles/dipole_extras.hpp"

#include "client_protocol/units.hpp"
#include "models/descriptors/species_map.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

namespace gapd {

namespace {

using nlohmann::json;

constexpr double kBohr = units::kBohrInAngstrom;

// Rows of an N x 3 matrix, each divided by `scale`, as [[x, y, z], ...]; throws naming `key` on NaN/inf.
json rows_json(const Matrix3N& m, double scale, const char* key) {
    json out = json::array();
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
        json row = json::array();
        for (int a = 0; a < 3; ++a) {
            const double x = m(i, a) / scale;
            if (!std::isfinite(x))
                throw std::runtime_error(std::string("extras '") + key + "': non-finite value at row " +
                                         std::to_string(i) + ", column " + std::to_string(a));
            row.push_back(x);
        }
        out.push_back(std::move(row));
    }
    return out;
}

json vector_json(const Eigen::Vector3d& v, const char* key) {
    Matrix3N m(1, 3);
    m.row(0) = v.transpose();
    return rows_json(m, 1.0, key)[0];
}

}  // namespace

ExtrasSelection parse_extras_selection(const std::string& list) {
    ExtrasSelection s;
    std::set<std::string> seen;
    std::istringstream in(list);
    std::string key;
    while (std::getline(in, key, ',')) {
        key.erase(0, key.find_first_not_of(" \t"));
        key.erase(key.find_last_not_of(" \t") + 1);
        if (!seen.insert(key).second) throw std::invalid_argument("--extras: '" + key + "' given twice");
        if (key == "dipole")
            s.dipole = true;
        else if (key == "polarization")
            s.polarization = true;
        else if (key == "partial_dipoles")
            s.partial_dipoles = true;
        else if (key == "cell_dipoles")
            s.cell_dipoles = true;
        else if (key == "BEC")
            s.bec = true;
        else
            throw std::invalid_argument("--extras: unknown key '" + key +
                                        "' (known: dipole, polarization, partial_dipoles, cell_dipoles, BEC)");
    }
    if (!s.any()) throw std::invalid_argument("--extras: empty list (known: dipole, polarization, partial_dipoles, "
                                              "cell_dipoles, BEC)");
    return s;
}

std::string extras_selection_names(const ExtrasSelection& s) {
    std::string out;
    auto add = [&](bool on, const char* name) {
        if (on) out += (out.empty() ? "" : ",") + std::string(name);
    };
    add(s.dipole, "dipole");
    add(s.polarization, "polarization");
    add(s.partial_dipoles, "partial_dipoles");
    add(s.cell_dipoles, "cell_dipoles");
    add(s.bec, "BEC");
    return out;
}

DipoleResults compute_dipole_results(const DipoleCalculator& calculator, const Structure& s,
                                     const ExtrasSelection& selection, const CellDipoleRoles& roles,
                                     DipolePhaseTimes* times) {
    DipoleResults r;
    r.prediction = calculator.compute(s, selection.bec, times);
    if (selection.cell_dipoles) r.cells = compute_cell_dipoles(s, r.prediction.partial, roles);
    return r;
}

std::string dipole_extras_json(const ExtrasSelection& selection, const DipoleResults& results, double volume) {
    const DipolePrediction& p = results.prediction;
    json out = json::object();
    if (selection.dipole) out["dipole"] = vector_json(p.total / kBohr, "dipole");
    if (selection.polarization) {
        if (!(volume > 0)) throw std::runtime_error("extras 'polarization': the cell volume is not positive");
        // (M / Bohr) / (V / Bohr^3): e·Bohr over Bohr^3.
        out["polarization"] = vector_json((p.total / kBohr) / (volume / (kBohr * kBohr * kBohr)), "polarization");
    }
    if (selection.partial_dipoles) out["partial_dipoles"] = rows_json(p.partial, kBohr, "partial_dipoles");
    if (selection.cell_dipoles) {
        if (!results.cells) throw std::logic_error("dipole_extras_json: cell dipoles selected but not computed");
        out["cell_dipoles"] = rows_json(results.cells->dipoles, kBohr, "cell_dipoles");
    }
    if (selection.bec) {
        if (p.born_charges.rows() != 3 * p.partial.rows())
            throw std::logic_error("dipole_extras_json: BEC selected but not computed");
        out["BEC"] = rows_json(p.born_charges, 1.0, "BEC");  // e: the same in both unit systems
    }
    return out.dump();
}

void check_dipole_template(const DipoleCalculator& calculator, const std::vector<int>& numbers,
                           const ExtrasSelection& selection, const CellDipoleRoles& roles,
                           const std::string& template_path) {
    try {
        SpeciesMap(calculator.model().hypers.species).indices(numbers, "dipole model");
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(template_path + ": " + e.what());
    }
    const CellDipoleRoles& c = roles;
    for (std::size_t i = 0; i < numbers.size(); ++i) {
        const int z = numbers[i];
        if (selection.cell_dipoles && z != c.b_site && z != c.a_site && z != c.oxygen)
            throw std::invalid_argument(template_path + ": atom " + std::to_string(i) + " (Z = " + std::to_string(z) +
                                        ") is none of the cell-dipole roles (B site " + std::to_string(c.b_site) +
                                        ", A site " + std::to_string(c.a_site) + ", O " + std::to_string(c.oxygen) +
                                        ")");
    }
    if (selection.cell_dipoles && std::count(numbers.begin(), numbers.end(), c.b_site) == 0)
        throw std::invalid_argument(template_path + ": no B-site atom (Z = " + std::to_string(c.b_site) +
                                    ") for cell dipoles");
}

}  // namespace gapd
