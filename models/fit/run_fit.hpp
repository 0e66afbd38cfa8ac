#pragma once
// `gapd fit` as a whole: read the labelled frames, split off a held-out set, fit the SOAP-GAP energy model
// (models/fit/gap_fit.hpp) and, with a `dipoles:` section, the SA-GPR dipole model (models/fit/dipole_fit.hpp) on
// the same split, then report errors on both splits. Configuration keys: docs/fitting.md.

#include "models/dipoles/dipole_model.hpp"
#include "models/fit/error_report.hpp"
#include "models/fit/fit_config.hpp"
#include "models/gap/gap_model.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

namespace gapd {

struct FitResult {
    GapModel model;
    std::optional<DipoleModel> dipole_model;  // with a `dipoles:` section; written into the same model file
    ErrorTable train_errors, test_errors;
    nlohmann::json report;  // everything: settings, baseline, sparse counts, timings, both tables, learning curve
    std::string text;       // the human-readable report
};

// Progress and warnings go to `log`. Errors: std::runtime_error, one line naming the file and frame or the
// configuration key at fault.
FitResult run_fit(const FitConfig& config, std::ostream& log);

}  // namespace gapd
