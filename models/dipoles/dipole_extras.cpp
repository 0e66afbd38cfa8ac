#include "models/dipoles/dipole_extras.hpp"

#include "models/descriptors/species_map.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

namespace gapd {

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

namespace {

DipoleResults dipole_results(const DipoleCalculator& calculator, const Structure& s, const ExtrasSelection& selection,
                             const CellDipoleRoles& roles, const NeighbourList* nl,
                             const DipoleComputeOptions& options) {
    DipoleResults r;
    if (nl)
        r.prediction = selection.bec ? calculator.compute_with_gradients(s, *nl, options)
                                     : calculator.compute(s, *nl, options);
    else
        r.prediction = selection.bec ? calculator.compute_with_gradients(s, options) : calculator.compute(s, options);
    if (selection.cell_dipoles) {
        if (nl && cell_dipoles_can_use(calculator.cutoff(), roles))
            r.cells = compute_cell_dipoles(s, r.prediction.partial, roles, *nl, calculator.cutoff());
        else
            r.cells = compute_cell_dipoles(s, r.prediction.partial, roles);
    }
    return r;
}

}  // namespace

DipoleResults compute_dipole_results(const DipoleCalculator& calculator, const Structure& s,
                                     const ExtrasSelection& selection, const CellDipoleRoles& roles,
                                     const DipoleComputeOptions& options) {
    return dipole_results(calculator, s, selection, roles, nullptr, options);
}

DipoleResults compute_dipole_results(const DipoleCalculator& calculator, const Structure& s,
                                     const ExtrasSelection& selection, const CellDipoleRoles& roles,
                                     const NeighbourList& nl, const DipoleComputeOptions& options) {
    return dipole_results(calculator, s, selection, roles, &nl, options);
}

Extras dipole_extras(const ExtrasSelection& selection, const DipoleResults& results, double volume) {
    const DipolePrediction& p = results.prediction;
    Extras out;
    if (selection.dipole) out.add_vector("dipole", ExtraUnit::Dipole, p.total.transpose());
    if (selection.polarization) {
        if (!(volume > 0)) throw std::runtime_error("extras 'polarization': the cell volume is not positive");
        out.add_vector("polarization", ExtraUnit::Polarization, (p.total / volume).transpose());
    }
    if (selection.partial_dipoles) out.add_rows("partial_dipoles", ExtraUnit::Dipole, p.partial);
    if (selection.cell_dipoles) {
        if (!results.cells) throw std::logic_error("dipole_extras: cell dipoles selected but not computed");
        out.add_rows("cell_dipoles", ExtraUnit::Dipole, results.cells->dipoles);
    }
    if (selection.bec) {
        if (p.born_charges.rows() != 3 * p.partial.rows())
            throw std::logic_error("dipole_extras: BEC selected but not computed");
        out.add_rows("BEC", ExtraUnit::Charge, p.born_charges);
    }
    return out;
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
