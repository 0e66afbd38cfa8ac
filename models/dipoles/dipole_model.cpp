#include "models/dipoles/dipole_model.hpp"

#include "models/descriptors/lambda1_features.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace gapd {

void validate(const DipoleModel& model, const std::string& context) {
    auto fail = [&](const std::string& problem) { throw std::invalid_argument(context + ": " + problem); };
    const SoapHypers& h = model.hypers;
    if (h.species.empty() || !strictly_increasing(h.species))
        fail("hypers.species must be non-empty, sorted, without repeats");
    if (model.zeta < 1) fail("zeta must be a positive integer, got " + std::to_string(model.zeta));
    const bool scalar = model.kernel == DipoleKernel::LinearTimesScalar;
    Eigen::Index cols = 0;
    try {
        cols = Lambda1Features(h, model.inversion_symmetry).size();
    } catch (const std::invalid_argument& e) {
        fail(e.what());
    }
    const Eigen::Index dim = power_spectrum_size(h);
    std::set<int> seen;
    int previous = 0;
    for (const DipoleSparseSet& set : model.sparse) {
        const std::string where = "sparse set of species " + std::to_string(set.species) + ": ";
        if (!std::binary_search(h.species.begin(), h.species.end(), set.species))
            fail(where + "species missing from the hypers' species list");
        if (!seen.insert(set.species).second) fail(where + "more than one set");
        if (set.species <= previous) fail(where + "out of order (must be sorted, unique)");
        previous = set.species;
        const Eigen::Index M = set.points.rows();
        if (set.points.cols() != cols || set.weights.rows() != M || set.weights.cols() != 3)
            fail(where + "points " + std::to_string(M) + " x " + std::to_string(set.points.cols()) + " and weights " +
                 std::to_string(set.weights.rows()) + " x " + std::to_string(set.weights.cols()) +
                 " do not match the hypers (expected M x " + std::to_string(cols) + " and M x 3)");
        if (scalar && (set.scalar_points.rows() != M || set.scalar_points.cols() != dim))
            fail(where + "scalar points " + std::to_string(set.scalar_points.rows()) + " x " +
                 std::to_string(set.scalar_points.cols()) + " do not match (expected " + std::to_string(M) + " x " +
                 std::to_string(dim) + ")");
        if (!scalar && set.scalar_points.size() != 0) fail(where + "scalar points given, but the kernel is linear");
    }
    for (const auto& entry : model.baseline)
        if (!std::binary_search(h.species.begin(), h.species.end(), entry.first))
            fail("baseline for species " + std::to_string(entry.first) + ", missing from the species list");
    const CellDipoleRoles& c = model.cell_roles;
    for (const int z : {c.b_site, c.a_site, c.oxygen})
        if (z < 1 || z > 118) fail("cell roles: " + std::to_string(z) + " is not an atomic number");
    if (!(c.o_shell > 0) || !(c.a_shell > 0)) fail("cell roles: the shells must be positive");
}

}  // namespace gapd
