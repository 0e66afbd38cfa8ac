#include "server/cli/dipole_options.hpp"

#include "models/core/elements.hpp"
#include "models/formats/model_file.hpp"
#include "server/cli/model_loading.hpp"

#include <CLI/CLI.hpp>

#include <sstream>
#include <stdexcept>
#include <vector>

namespace gapd {

namespace {

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        out.push_back(item);
    }
    return out;
}

// "Ti,Ba,O" or "22,56,8": B site, A site, oxygen.
void apply_cell_roles(const std::string& text, CellDipoleRoles& roles) {
    const std::vector<std::string> items = split_commas(text);
    if (items.size() != 3) throw std::invalid_argument("--cell-roles: expected B,A,O (e.g. Ti,Ba,O), got '" + text + "'");
    int z[3];
    for (int k = 0; k < 3; ++k) {
        try {
            std::size_t used = 0;
            z[k] = std::stoi(items[k], &used);
            if (used != items[k].size()) throw std::invalid_argument(items[k]);
        } catch (const std::exception&) {
            z[k] = atomic_number(items[k]);  // throws for unknown symbols
        }
        if (z[k] < 1 || z[k] > 118) throw std::invalid_argument("--cell-roles: '" + items[k] + "' is not an element");
    }
    roles.b_site = z[0];
    roles.a_site = z[1];
    roles.oxygen = z[2];
}

// "2.6,4.2": B-O and B-A shell radii in Å.
void apply_cell_shells(const std::string& text, CellDipoleRoles& roles) {
    const std::vector<std::string> items = split_commas(text);
    double r[2] = {0, 0};
    bool ok = items.size() == 2;
    for (int k = 0; ok && k < 2; ++k) {
        try {
            std::size_t used = 0;
            r[k] = std::stod(items[k], &used);
            ok = used == items[k].size() && r[k] > 0;
        } catch (const std::exception&) {
            ok = false;
        }
    }
    if (!ok) throw std::invalid_argument("--cell-shells: expected two positive radii O_SHELL,A_SHELL in Å (e.g. "
                                         "2.6,4.2), got '" + text + "'");
    roles.o_shell = r[0];
    roles.a_shell = r[1];
}

}  // namespace

void add_dipole_options(CLI::App* cmd, DipoleOptions& o) {
    cmd->add_option("--dipole-model", o.dipole_model,
                    "gapd native file with an SA-GPR dipole model (its \"dipole\" section); default: the dipole "
                    "section of --model, if any");
    cmd->add_option("--extras", o.extras,
                    "Dipole quantities to compute, comma-separated: dipole, polarization, partial_dipoles, "
                    "cell_dipoles, BEC; 'none' = no dipoles (default: dipole if a dipole model is loaded)");
    cmd->add_flag("--dipole-only", o.dipole_only,
                  "Only dipole quantities: zero energy, forces and virial (for a dipole client beside a separate "
                  "force client)");
    cmd->add_option("--cell-roles", o.cell_roles,
                    "Cell dipoles: B site, A site and oxygen species, e.g. Ti,Ba,O (default: the model's)");
    cmd->add_option("--cell-shells", o.cell_shells,
                    "Cell dipoles: B-O and B-A shell radii in Å, e.g. 2.6,4.2 (default: the model's)");
}

LoadedModels load_models(const std::string& model_path, const DipoleOptions& o, RadialMode mode) {
    LoadedModels out;
    const bool no_dipoles = o.extras == "none";
    if (!no_dipoles && !o.extras.empty()) out.selection = parse_extras_selection(o.extras);
    if (o.dipole_only && no_dipoles) throw std::invalid_argument("--dipole-only with --extras none computes nothing");
    if (model_path.empty() && !(o.dipole_only && !o.dipole_model.empty()))
        throw std::invalid_argument("--model is required (it may be omitted only with --dipole-only --dipole-model)");

    std::optional<DipoleModel> dipole;
    if (!model_path.empty()) {
        if (is_native_model_file(model_path)) {
            ModelFileContents contents = read_native_model_contents(model_path);
            if (!o.dipole_only) {
                if (!contents.gap)
                    throw std::invalid_argument(model_path + " holds only a dipole model: add --dipole-only, or give "
                                                             "a GAP with --model and the dipoles with --dipole-model");
                if (mode == RadialMode::LibrascalSpline && !(contents.gap->hypers.librascal_spline_accuracy > 0))
                    throw std::invalid_argument(model_path + ": --radial librascal-spline needs a model fitted with "
                                                             "librascal's Spline optimization; this one is exact-mode");
                out.gap = std::make_unique<GapCalculator>(std::move(*contents.gap), mode);
            }
            dipole = std::move(contents.dipole);
        } else if (!o.dipole_only) {
            out.gap = load_calculator(model_path, mode);
        }
    }
    if (!o.dipole_model.empty()) {
        ModelFileContents contents = read_model_file_contents(o.dipole_model);
        if (!contents.dipole)
            throw std::invalid_argument("--dipole-model " + o.dipole_model + " holds no dipole model");
        dipole = std::move(contents.dipole);
    }
    if (no_dipoles) dipole.reset();
    if (!dipole) {
        if (o.dipole_only || out.selection.any() || !o.cell_roles.empty() || !o.cell_shells.empty())
            throw std::invalid_argument(std::string(no_dipoles ? "--extras none" : "no dipole model loaded") +
                                        ", but dipole options were given (--dipole-only, --extras, --cell-roles, "
                                        "--cell-shells need --dipole-model or a --model with a dipole section)");
        return out;
    }
    if (!out.selection.any()) out.selection.dipole = true;
    out.roles = dipole->cell_roles;
    if (!o.cell_roles.empty()) apply_cell_roles(o.cell_roles, out.roles);
    if (!o.cell_shells.empty()) apply_cell_shells(o.cell_shells, out.roles);
    if (mode == RadialMode::LibrascalSpline && !(dipole->hypers.librascal_spline_accuracy > 0))
        throw std::invalid_argument("--radial librascal-spline needs a dipole model fitted with librascal's Spline "
                                    "optimization; this one is exact-mode");
    out.dipole = std::make_unique<DipoleCalculator>(std::move(*dipole), mode);
    return out;
}

}  // namespace gapd
