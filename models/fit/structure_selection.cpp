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

// Squared distances between every row of A and every row of B (|a|^2 + |b|^2 - 2 a.b, as one GEMM; clamped
// at 0 against round-off).
RowMatrix squared_distances(const RowMatrix& A, const RowMatrix& B) {
    RowMatrix d = -2.0 * (A * B.transpose());
    const Eigen::VectorXd a2 = A.rowwise().squaredNorm(), b2 = B.rowwise().squaredNorm();
    d.colwise() += a2;
    d.rowwise() += b2.transpose();
    return d.cwiseMax(0.0);
}

// Atoms of a set of structures grouped by species: one matrix per species.
struct AtomsBySpecies {
    std::vector<RowMatrix> rows;
    explicit AtomsBySpecies(int species_count) : rows(species_count) {}
    void add(const StructureFeatures& s) {
        for (std::size_t a = 0; a < rows.size(); ++a) {
            const Eigen::Index n = std::count(s.species.begin(), s.species.end(), static_cast<int>(a));
            if (n == 0) continue;
            RowMatrix block(n, s.atoms.cols());
            Eigen::Index k = 0;
            for (Eigen::Index i = 0; i < s.atoms.rows(); ++i)
                if (s.species[i] == static_cast<int>(a)) block.row(k++) = s.atoms.row(i);
            RowMatrix grown(rows[a].rows() + n, s.atoms.cols());
            if (rows[a].rows() > 0) grown.topRows(rows[a].rows()) = rows[a];
            grown.bottomRows(n) = block;
            rows[a].swap(grown);
        }
    }
};

// For every atom of `s`: min squared distance to the atoms of `set` of its species (kInf if none).
void lower_atom_distances(const StructureFeatures& s, const std::vector<RowMatrix>& set_rows, Eigen::VectorXd& d2) {
    for (std::size_t a = 0; a < set_rows.size(); ++a) {
        if (set_rows[a].rows() == 0) continue;
        std::vector<Eigen::Index> mine;
        for (Eigen::Index i = 0; i < s.atoms.rows(); ++i)
            if (s.species[i] == static_cast<int>(a)) mine.push_back(i);
        if (mine.empty()) continue;
        RowMatrix block(static_cast<Eigen::Index>(mine.size()), s.atoms.cols());
        for (std::size_t k = 0; k < mine.size(); ++k) block.row(k) = s.atoms.row(mine[k]);
        const RowMatrix d = squared_distances(block, set_rows[a]);
        for (std::size_t k = 0; k < mine.size(); ++k) d2[mine[k]] = std::min(d2[mine[k]], d.row(k).minCoeff());
    }
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

    // Atoms: keep every candidate atom's min squared distance to the set, lowered as picks join the set.
    AtomsBySpecies set(species_count);
    for (const StructureFeatures& r : reference) set.add(r);
    std::vector<Eigen::VectorXd> atom_d2(n);
    for (int c = 0; c < n; ++c) {
        atom_d2[c] = Eigen::VectorXd::Constant(candidates[c].atoms.rows(), kInf);
        lower_atom_distances(candidates[c], set.rows, atom_d2[c]);
        distance[c] = atom_d2[c].size() ? atom_d2[c].maxCoeff() : 0.0;
    }
    while (static_cast<int>(picks.size()) < count) {
        const int best = pick();
        if (best < 0) break;
        AtomsBySpecies added(species_count);
        added.add(candidates[best]);
        for (int c = 0; c < n; ++c) {
            if (taken[c]) continue;
            lower_atom_distances(candidates[c], added.rows, atom_d2[c]);
            distance[c] = atom_d2[c].size() ? atom_d2[c].maxCoeff() : 0.0;
        }
        if (progress) progress(static_cast<int>(picks.size()), count);
    }
    return picks;
}

}  // namespace gapd
