#pragma once
// `gapd fit` for the SOAP-GAP energy model: read labelled frames, split off a held-out set, fit a per-species
// energy baseline, select sparse environments (farthest-point sampling), build the design-matrix rows of
// every training structure (models/fit_kernel_rows) and solve the sparse GPR by streaming QR
// (models/fit_sparse_gpr), then report errors on both splits. With a `dipoles:` section also the SA-GPR dipole
// model (models/dipole_fit) on the same split. Method and keys: docs/fitting.md.

#include "models/fit/fit_config.hpp"
#include "models/fit/error_report.hpp"
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
FitResult fit_gap(const FitConfig& config, std::ostream& log);

}  // namespace gapd
