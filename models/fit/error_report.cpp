#include "models/fit/error_report.hpp"

#include "models/core/elements.hpp"

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <limits>

namespace gapd {

double ErrorStats::rmse() const {
    return count ? std::sqrt(sum_squares / count) : std::numeric_limits<double>::quiet_NaN();
}
double ErrorStats::mae() const { return count ? sum_abs / count : std::numeric_limits<double>::quiet_NaN(); }

void ErrorTable::add(const LabelledFrame& ref, const GapPrediction& p) {
    const double n = static_cast<double>(ref.structure.size());
    ++frames;
    const double de = p.energy - ref.energy;
    energy_per_atom.add(de / n);
    energy_per_formula_unit.add(de / n * formula_unit_atoms);
    if (ref.has_forces && p.forces.rows() == ref.forces.rows())
        for (Eigen::Index i = 0; i < ref.forces.rows(); ++i)
            for (int d = 0; d < 3; ++d) {
                const double e = p.forces(i, d) - ref.forces(i, d);
                forces.add(e);
                forces_by_species[ref.structure.numbers[i]].add(e);
            }
    if (ref.has_virial) {
        static const int comps[6][2] = {{0, 0}, {1, 1}, {2, 2}, {1, 2}, {0, 2}, {0, 1}};
        for (const auto& c : comps) virial_per_atom.add((p.virial(c[0], c[1]) - ref.virial(c[0], c[1])) / n);
    }
}

void ErrorTable::add_dipole(const LabelledFrame& frame, const Eigen::Vector3d& reference, const Eigen::Vector3d& predicted) {
    const double n = static_cast<double>(frame.structure.size());
    ++dipole_frames;
    for (int a = 0; a < 3; ++a) dipole_per_atom.add((predicted[a] - reference[a]) / n);
}

namespace {

nlohmann::json stats_json(const ErrorStats& s) {
    nlohmann::json j{{"count", s.count}};
    if (s.count) {
        j["rmse"] = s.rmse();
        j["mae"] = s.mae();
    } else {
        j["rmse"] = nullptr;
        j["mae"] = nullptr;
    }
    return j;
}

void text_row(std::string& out, const std::string& name, const ErrorStats& s, const char* unit, double scale) {
    char line[160];
    if (s.count)
        std::snprintf(line, sizeof line, "  %-26s %12.4f %12.4f  %-9s %8ld\n", name.c_str(), s.rmse() * scale,
                      s.mae() * scale, unit, s.count);
    else
        std::snprintf(line, sizeof line, "  %-26s %12s %12s  %-9s %8d\n", name.c_str(), "-", "-", unit, 0);
    out += line;
}

}  // namespace

nlohmann::json ErrorTable::to_json() const {
    nlohmann::json j;
    j["frames"] = frames;
    j["formula_unit_atoms"] = formula_unit_atoms;
    j["units"] = {{"energy_per_atom", "eV/atom"}, {"energy_per_formula_unit", "eV/f.u."},
                  {"forces", "eV/Å"}, {"virial_per_atom", "eV/atom"},
                  {"dipole_per_atom", "e*Å/atom"}};
    j["energy_per_atom"] = stats_json(energy_per_atom);
    j["energy_per_formula_unit"] = stats_json(energy_per_formula_unit);
    j["forces"] = stats_json(forces);
    nlohmann::json by = nlohmann::json::object();
    for (const auto& [z, s] : forces_by_species) by[chemical_symbol(z)] = stats_json(s);
    j["forces_by_species"] = by;
    j["virial_per_atom"] = stats_json(virial_per_atom);
    j["dipole_per_atom"] = stats_json(dipole_per_atom);
    j["dipole_frames"] = dipole_frames;
    return j;
}

std::string ErrorTable::to_text(const std::string& title) const {
    std::string out = title + " (" + std::to_string(frames) + " frames)\n";
    char head[160];
    std::snprintf(head, sizeof head, "  %-26s %12s %12s  %-9s %8s\n", "quantity", "RMSE", "MAE", "unit", "count");
    out += head;
    text_row(out, "energy per atom", energy_per_atom, "meV/atom", 1e3);
    text_row(out, "energy per f.u. (" + std::to_string(formula_unit_atoms) + " atoms)", energy_per_formula_unit,
             "meV/f.u.", 1e3);
    text_row(out, "force components", forces, "meV/Å", 1e3);
    for (const auto& [z, s] : forces_by_species) text_row(out, "  forces on " + chemical_symbol(z), s, "meV/Å", 1e3);
    text_row(out, "virial per atom", virial_per_atom, "meV/atom", 1e3);
    if (dipole_per_atom.count) text_row(out, "dipole per atom", dipole_per_atom, "meÅ/atom", 1e3);
    return out;
}

namespace {

std::string rmse_cell(const ErrorStats& s, double scale, int width, int precision) {
    char cell[64];
    if (s.count)
        std::snprintf(cell, sizeof cell, "%*.*f", width, precision, s.rmse() * scale);
    else
        std::snprintf(cell, sizeof cell, "%*s", width, "-");
    return cell;
}

}  // namespace

std::string GroupSummary::header() const {
    char line[400];
    std::snprintf(line, sizeof line, "  %-*s %6s %10s %9s", label_width, "group (RMSE)", "frames", "E meV/at",
                  "F meV/Å");
    std::string out = line;
    for (int z : species) {
        std::snprintf(line, sizeof line, " %8s", ("F " + chemical_symbol(z)).c_str());
        out += line;
    }
    std::snprintf(line, sizeof line, " %10s %13s\n", "V meV/at", "dip meÅ/at (n)");
    return out + line;
}

std::string GroupSummary::row(const std::string& group, const ErrorTable& t) const {
    // The label padded by hand: an info value may be longer than any fixed buffer.
    std::string out = "  " + group + std::string(std::max(0, label_width - static_cast<int>(group.size())), ' ');
    char line[200];
    std::snprintf(line, sizeof line, " %6ld %s %s", t.frames, rmse_cell(t.energy_per_atom, 1e3, 10, 3).c_str(),
                  rmse_cell(t.forces, 1e3, 9, 1).c_str());
    out += line;
    for (int z : species) {
        const auto it = t.forces_by_species.find(z);
        out += " " + (it == t.forces_by_species.end() ? rmse_cell(ErrorStats{}, 1e3, 8, 1)
                                                       : rmse_cell(it->second, 1e3, 8, 1));
    }
    out += " " + rmse_cell(t.virial_per_atom, 1e3, 10, 2);
    if (t.dipole_frames) {
        std::snprintf(line, sizeof line, " %s (%ld)", rmse_cell(t.dipole_per_atom, 1e3, 8, 2).c_str(), t.dipole_frames);
        out += line;
    } else {
        out += "        -";
    }
    return out + "\n";
}

}  // namespace gapd
