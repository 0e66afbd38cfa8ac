#pragma once
// The dipole options shared by `gapd serve` and `gapd predict` (--dipole-model, --extras, --dipole-only,
// --cell-roles, --cell-shells) and loading the models they name. Rules in docs/dipoles.md ("Serving dipoles").

#include "models/dipoles/dipole_calculator.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/dipoles/dipole_extras.hpp"

#include <memory>
#include <string>

namespace CLI {
class App;
}

namespace gapd {

struct DipoleOptions {
    std::string dipole_model, extras, cell_roles, cell_shells;
    bool dipole_only = false;
};

void add_dipole_options(CLI::App* cmd, DipoleOptions& o);

struct LoadedModels {
    std::unique_ptr<GapCalculator> gap;        // null in dipole-only mode
    std::unique_ptr<DipoleCalculator> dipole;  // null if no dipole model or --extras none
    ExtrasSelection selection;                 // empty iff dipole is null
    CellDipoleRoles roles;                     // the model's, overridden by --cell-roles / --cell-shells
};

// `model_path`: --model (may be empty with --dipole-only and --dipole-model). A native file's "dipole" section
// is used unless --dipole-model names another file. Throws std::invalid_argument / std::runtime_error with a
// message naming the option or file at fault.
LoadedModels load_models(const std::string& model_path, const DipoleOptions& o, RadialMode mode);

}  // namespace gapd
