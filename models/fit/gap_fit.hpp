#pragma once
// The SOAP-GAP energy model of `gapd fit` (models/fit/run_fit.hpp runs the whole command): on a training split,
// fit a per-species energy baseline, optionally select power-spectrum features, select sparse environments
// (FPS or CUR, or given), build the design-matrix rows of every training structure (models/fit/gap_kernel_rows)
// and solve the sparse GPR by streaming QR (models/fit/sparse_gpr). Method and keys: docs/fitting.md.

#include "models/fit/error_report.hpp"
#include "models/fit/fit_config.hpp"
#include "models/fit/training_data.hpp"
#include "models/gap/gap_model.hpp"

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

namespace gapd {

struct GapFit {
    GapModel model;                                    // with its weights and description
    long energy_rows = 0, force_rows = 0, virial_rows = 0;
    nlohmann::json learning_curve = nlohmann::json::array();  // held-out errors at the checkpoints before the last
    double select_seconds = 0, rows_seconds = 0, solve_seconds = 0;
};

// Progress and warnings go to `log`. Errors: std::runtime_error, one line naming the file and frame or the
// configuration key at fault.
GapFit fit_gap(const FitConfig& config, const TrainingSplit& split, std::ostream& log);

// Errors of `model` (computed by GapCalculator, as served) on `frames`.
ErrorTable gap_errors(const GapModel& model, RadialMode mode, const std::vector<const LabelledFrame*>& frames,
                      int formula_unit_atoms);

}  // namespace gapd
