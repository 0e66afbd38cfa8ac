#pragma once
// Farthest-point sampling of sparse environments on normalized power spectra (Euclidean distance).

#include "models/gap_model.hpp"

#include <vector>

namespace gapd {

// Indices of `count` rows of `features`: first row 0, then repeatedly the row farthest from all chosen ones
// (ties: lowest index), so the result is deterministic. Stops early when only duplicates of chosen
// rows remain; count is capped at features.rows().
std::vector<int> farthest_point_sampling(const RowMatrix& features, int count);

}  // namespace gapd
