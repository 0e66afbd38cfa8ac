#include "models/fit/feature_selection.hpp"

#include "models/fit/sparse_selection.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace gapd {

std::vector<int> select_features(const GapModel& model, RadialMode mode, const std::vector<const Structure*>& structures,
                                 int count, int max_environments) {
    if (!model.selected_features.empty()) throw std::invalid_argument("select_features: the model already has a selection");
    const int D = power_spectrum_size(model.hypers, PowerSpectrumLayout::Compressed);
    if (count < 1 || count > D)
        throw std::invalid_argument("gap.feature_selection.count: " + std::to_string(count) + " is outside 1.." +
                                    std::to_string(D) + " (the compressed power-spectrum size of these hypers)");
    GapModel descriptor_only = model;
    descriptor_only.sparse.clear();
    const GapCalculator featurizer(std::move(descriptor_only), mode);
    std::size_t total = 0;
    for (const Structure* s : structures) total += s->size();
    const std::size_t stride = std::max<std::size_t>(1, (total + max_environments - 1) / max_environments);
    // Columns as rows: one row per feature, one column per (strided) environment.
    RowMatrix columns(D, static_cast<Eigen::Index>((total + stride - 1) / stride));
    std::size_t env = 0, kept = 0;
    for (const Structure* s : structures) {
        const RowMatrix x = featurizer.kernel_features(*s);
        for (Eigen::Index i = 0; i < x.rows(); ++i, ++env)
            if (env % stride == 0) columns.col(static_cast<Eigen::Index>(kept++)) = x.row(i).transpose();
    }
    columns.conservativeResize(D, static_cast<Eigen::Index>(kept));
    std::vector<int> picked = farthest_point_sampling(columns, count);
    std::sort(picked.begin(), picked.end());
    return picked;
}

}  // namespace gapd
