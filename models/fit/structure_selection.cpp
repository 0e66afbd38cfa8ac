#include "models/fit/structure_selection.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace gapd {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Per-species mean of the atom features, concatenated: (species_count * D).
Eigen::VectorXd structure_descriptor(const StructureFeatures& s, int species_count) {
    const Eigen::Index D = s.atoms.cols();
    Eigen::VectorXd out = Eigen::VectorXd::Zero(species_count * D);
    std::vector<int> counts(species_count, 0);
    for (Eigen::Index i = 0; i < s.atoms.rows(); ++i) {
        out.segment(s.species[i] * D, D) += s.atoms.row(i).transpose();
        ++counts[s.species[i]];
    }
    for (int a = 0; a < species_count; ++a)
        if (counts[a] > 0) out.segment(a * D, D) /= counts[a];
    return out;
}

// Squared distances between every row of A and every row of B: |a|^2 + |b|^2 - 2 a.b as one GEMM, except for
// near pairs, where that cancels to round-off (~1e-16 (|a|^2 + |b|^2), of either sign, depending on how the GEMM
// blocks its sums) and |a - b|^2 is computed directly, so that a copy is at distance exactly 0.
RowMatrix squared_distances(const RowMatrix& A, const RowMatrix& B) {
    RowMatrix d = -2.0 * (A * B.transpose());
    const Eigen::VectorXd a2 = A.rowwise().squaredNorm(), b2 = B.rowwise().squaredNorm();
    d.colwise() += a2;
    d.rowwise() += b2.transpose();
    constexpr double kCancellation = 1e-8;
    for (Eigen::Index i = 0; i < d.rows(); ++i)
        for (Eigen::Index j = 0; j < d.cols(); ++j)
            if (d(i, j) < kCancellation * (a2[i] + b2[j])) d(i, j) = (A.row(i) - B.row(j)).squaredNorm();
    return d;
}

// The atom rows of a set of structures grouped by species: one matrix per species index.
using AtomsBySpecies = std::vector<RowMatrix>;

AtomsBySpecies group_by_species(const std::vector<const StructureFeatures*>& set, int species_count) {
    AtomsBySpecies out(species_count);
    std::vector<Eigen::Index> counts(species_count, 0);
    Eigen::Index D = 0;
    for (const StructureFeatures* s : set) {
        for (int a : s->species) ++counts[a];
        D = s->atoms.cols();
    }
    for (int a = 0; a < species_count; ++a) out[a].resize(counts[a], D);
    std::fill(counts.begin(), counts.end(), 0);
    for (const StructureFeatures* s : set)
        for (Eigen::Index i = 0; i < s->atoms.rows(); ++i) out[s->species[i]].row(counts[s->species[i]]++) = s->atoms.row(i);
    return out;
}

// Per species a: lower each candidate atom's min squared distance d2[a] to the atoms of `set` (same species).
void lower_atom_distances(const AtomsBySpecies& candidate, const AtomsBySpecies& set, std::vector<Eigen::VectorXd>& d2) {
    for (std::size_t a = 0; a < set.size(); ++a) {
        if (set[a].rows() == 0 || candidate[a].rows() == 0) continue;
        d2[a] = d2[a].cwiseMin(squared_distances(candidate[a], set[a]).rowwise().minCoeff());
    }
}

// The least familiar atom's squared distance (0 for a structure without atoms).
double max_atom_distance(const std::vector<Eigen::VectorXd>& d2) {
    double worst = 0.0;
    for (const Eigen::VectorXd& v : d2)
        if (v.size() > 0) worst = std::max(worst, v.maxCoeff());
    return worst;
}

}  // namespace

NoveltyMeasure parse_novelty_measure(const std::string& name) {
    if (name == "atoms") return NoveltyMeasure::Atoms;
    if (name == "structure") return NoveltyMeasure::Structure;
    throw std::invalid_argument("--measure must be 'atoms' or 'structure' (got '" + name + "')");
}

std::vector<SelectionStep> select_novel_structures(const std::vector<StructureFeatures>& reference,
                                                   const std::vector<StructureFeatures>& candidates,
                                                   const SelectionOptions& options) {
    const int n = static_cast<int>(candidates.size());
    const int count = std::min(options.count, n);
    const int species_count = options.species_count;
    const auto progress = options.progress;
    if (!options.group.empty() && static_cast<int>(options.group.size()) != n)
        throw std::invalid_argument("select_novel_structures: one group label per candidate expected");
    std::vector<SelectionStep> picks;
    std::vector<bool> taken(n, false);
    std::map<int, int> picked_in_group;
    // distance[c]: current distance of candidate c to the reference + picks (squared until reported).
    std::vector<double> distance(n, kInf);
    // Eligible: not taken and its group's quota not filled.
    auto eligible = [&](int c) {
        if (taken[c]) return false;
        if (options.per_group <= 0 || options.group.empty()) return true;
        const auto it = picked_in_group.find(options.group[c]);
        return it == picked_in_group.end() || it->second < options.per_group;
    };
    // The eligible candidate farthest from the set (ties: lowest index), taken and reported; -1 when none is
    // left at a positive distance.
    auto pick = [&]() {
        int best = -1;
        for (int c = 0; c < n; ++c)
            if (eligible(c) && (best < 0 || distance[c] > distance[best])) best = c;
        if (best < 0 || distance[best] <= 0.0) return -1;
        taken[best] = true;
        if (!options.group.empty()) ++picked_in_group[options.group[best]];
        picks.push_back({best, std::isinf(distance[best]) ? kInf : std::sqrt(distance[best])});
        return best;
    };

    if (options.measure == NoveltyMeasure::Structure) {
        std::vector<Eigen::VectorXd> desc(n);
        for (int c = 0; c < n; ++c) desc[c] = structure_descriptor(candidates[c], species_count);
        for (const StructureFeatures& r : reference) {
            const Eigen::VectorXd x = structure_descriptor(r, species_count);
            for (int c = 0; c < n; ++c) distance[c] = std::min(distance[c], (desc[c] - x).squaredNorm());
        }
        while (static_cast<int>(picks.size()) < count) {
            const int best = pick();
            if (best < 0) break;
            for (int c = 0; c < n; ++c) distance[c] = std::min(distance[c], (desc[c] - desc[best]).squaredNorm());
            if (progress) progress(static_cast<int>(picks.size()), count);
        }
        return picks;
    }

    // Atoms: keep every candidate atom's min squared distance to the set, lowered as picks join the set. Each
    // candidate is grouped by species once; a pick's groups are then what joins the set.
    std::vector<const StructureFeatures*> reference_set;
    for (const StructureFeatures& r : reference) reference_set.push_back(&r);
    const AtomsBySpecies set = group_by_species(reference_set, species_count);
    std::vector<AtomsBySpecies> grouped(n);
    std::vector<std::vector<Eigen::VectorXd>> atom_d2(n);
    for (int c = 0; c < n; ++c) {
        grouped[c] = group_by_species({&candidates[c]}, species_count);
        for (const RowMatrix& rows : grouped[c]) atom_d2[c].push_back(Eigen::VectorXd::Constant(rows.rows(), kInf));
        lower_atom_distances(grouped[c], set, atom_d2[c]);
        distance[c] = max_atom_distance(atom_d2[c]);
    }
    while (static_cast<int>(picks.size()) < count) {
        const int best = pick();
        if (best < 0) break;
        for (int c = 0; c < n; ++c) {
            if (taken[c]) continue;
            lower_atom_distances(grouped[c], grouped[best], atom_d2[c]);
            distance[c] = max_atom_distance(atom_d2[c]);
        }
        if (progress) progress(static_cast<int>(picks.size()), count);
    }
    return picks;
}

}  // namespace gapd
