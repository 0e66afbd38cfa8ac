#include "models/gap/gap_model.hpp"

#include "models/descriptors/power_spectrum.hpp"

#include <algorithm>
#include <stdexcept>

namespace gapd {

void validate(const GapModel& model, const std::string& context) {
    auto fail = [&](const std::string& problem) { throw std::invalid_argument(context + ": " + problem); };
    const SoapHypers& h = model.hypers;
    if (h.species.empty() || !strictly_increasing(h.species))
        fail("hypers.species must be non-empty, sorted, without repeats");
    if (model.zeta < 1) fail("zeta must be a positive integer, got " + std::to_string(model.zeta));
    const Eigen::Index dim = power_spectrum_size(h);
    int previous = 0;
    for (const SparseSet& s : model.sparse) {
        const std::string what = "sparse set of species " + std::to_string(s.species);
        if (s.species <= previous) fail(what + " out of order (must be sorted, unique)");
        previous = s.species;
        if (!std::binary_search(h.species.begin(), h.species.end(), s.species))
            fail(what + " is not in hypers.species");
        if (s.points.cols() != dim || s.weights.size() != s.points.rows())
            fail(what + ": points " + std::to_string(s.points.rows()) + " x " + std::to_string(s.points.cols()) +
                 ", weights " + std::to_string(s.weights.size()) + ", expected M x " + std::to_string(dim) + " and M");
    }
    try {
        PowerSpectrum(h, model.selected_features, model.selected_feature_scales);  // checks the selection
    } catch (const std::invalid_argument& e) {
        fail(e.what());
    }
}

}  // namespace gapd
