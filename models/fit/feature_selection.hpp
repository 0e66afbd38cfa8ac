#pragma once
// Feature sparsification for `gapd fit` (gap.feature_selection, docs/feature_selection.md): farthest-point
// sampling of the columns of the training environments' compressed power spectra.

#include "models/gap/gap_model.hpp"
#include "models/descriptors/soap_hypers.hpp"
#include "models/core/structure.hpp"

#include <vector>

namespace gapd {

// Indices (ascending) of `count` features of the compressed power-spectrum layout of `model.hypers`
// (model.selected_features must be empty), chosen by farthest-point sampling of the feature columns of the
// environments of `structures` (at most max_environments of them, evenly strided, so memory stays bounded).
// Deterministic. Throws std::invalid_argument if count exceeds the number of features.
std::vector<int> select_features(const GapModel& model, RadialMode mode, const std::vector<const Structure*>& structures,
                                 int count, int max_environments = 4000);

}  // namespace gapd
