#pragma once
// `gapd fit`, `dipoles:` section: SA-GPR fit of total dipoles per frame (docs/fitting.md, docs/dipoles.md).
// Frames without a dipole are left out. Steps: move every training (and held-out) dipole onto the polarization
// branch closest to the linear Born-charge model (models/dipoles/polarization_unwrapping), select sparse environments
// per species on the normalized lambda=1 features (FPS or CUR, or given), build the 3 rows per frame of
// models/fit/dipole_kernel_rows and solve the sparse GPR by the same streaming QR as the GAP part
// (models/fit/sparse_gpr), frame sigma = sigma sqrt(N). Errors are computed with DipoleCalculator on the final
// model, so `gapd eval` and `gapd predict` reproduce them.

#include "models/fit/dipole_fit_config.hpp"
#include "models/dipoles/dipole_model.hpp"
#include "models/fit/error_report.hpp"
#include "models/fit/training_data.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

namespace gapd {

struct DipoleFitResult {
    DipoleModel model;
    nlohmann::json report;  // frames used, unwrapping summary, sparse counts, regularisation, timings
};

// The dipole to fit for frame f (e Å): its label moved to the branch closest to M_lin if unwrapping is enabled and
// the frame is fully periodic, else the label. Throws std::runtime_error naming the file and frame (no perovskite
// layout, missing or misshaped reference array, species without a Born charge).
Eigen::Vector3d unwrapped_dipole(const LabelledFrame& f, const PolarizationUnwrapping& unwrapping);

// The fitted (unwrapped) dipoles of the frames of both splits that have one. Computed before any fitting so that
// bad inputs stop the run at once. Throws std::runtime_error (one line): a training file without any frame
// carrying the dipole key (names the file), unwrapping failures (name the frame).
struct DipoleTargets {
    std::map<const LabelledFrame*, Eigen::Vector3d> dipole;  // e Å
    int moved = 0;                                           // labels moved to another branch
    double largest_move = 0.0;                               // e Å
};
DipoleTargets dipole_targets(const DipoleFitConfig& config, const std::vector<LabelledFrame>& frames,
                             const std::vector<const LabelledFrame*>& train, const std::vector<const LabelledFrame*>& test);

// What the dipole fit works on.
struct DipoleFitInputs {
    const DipoleFitConfig& config;
    RadialMode radial;
    const std::vector<LabelledFrame>& frames;         // every frame of the training files (sparse_environments)
    const std::vector<const LabelledFrame*>& train;   // the split
    const std::vector<const LabelledFrame*>& test;
    const DipoleTargets& targets;                     // dipole_targets() of the same frames and split
};

// The dipole rows of the train and test error tables are filled (against the unwrapped labels). Throws
// std::runtime_error (one line) for bad inputs.
DipoleFitResult fit_dipoles(const DipoleFitInputs& inputs, ErrorTable& train_errors, ErrorTable& test_errors,
                            std::ostream& log);

}  // namespace gapd
