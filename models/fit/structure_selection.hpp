#pragma once
// Which candidate structures (e.g. MD frames) are most unlike the ones a model was trained on: greedy
// farthest-point sampling at the level of structures, started from a reference set (the training data), so
// the first pick is the candidate farthest from everything already known and each later pick the farthest from
// the reference plus the earlier picks. `gapd select` runs it on SOAP features (docs/active_learning.md).
//
// Two distances between a candidate and a set:
//  Atoms:     max over the candidate's atoms i of min over the set's atoms j of the same species of |x_i - x_j|
//             (the least familiar environment decides: what a force error follows);
//  Structure: |X - Y| of per-structure descriptors (per-species mean features, concatenated).

#include "models/core/matrix.hpp"

#include <string>
#include <vector>

namespace gapd {

enum class NoveltyMeasure { Atoms, Structure };
NoveltyMeasure parse_novelty_measure(const std::string& name);  // "atoms" / "structure"; throws otherwise

// Features of one structure: one row per atom (normalized SOAP power spectrum) and the atoms' species index.
struct StructureFeatures {
    RowMatrix atoms;           // N x D
    std::vector<int> species;  // N entries in [0, number of species)
};

struct SelectionStep {
    int candidate;    // index into the candidate list
    double distance;  // its distance to the reference + earlier picks when picked
};

struct SelectionOptions {
    int count = 20;
    NoveltyMeasure measure = NoveltyMeasure::Atoms;
    int species_count = 1;
    // Optional quota: candidates carry a group label (e.g. the MD temperature) and at most `per_group` of each
    // group are picked, so that the farthest group (often the hottest run) does not take every pick.
    std::vector<int> group;  // one label per candidate, or empty
    int per_group = 0;       // 0 = no quota
    void (*progress)(int done, int total) = nullptr;  // called after each pick if set
};

// Picks up to `options.count` candidates (fewer if all remaining candidates are at distance 0 from the set or
// the quotas are filled). Candidates equal to a reference structure are never picked.
std::vector<SelectionStep> select_novel_structures(const std::vector<StructureFeatures>& reference,
                                                   const std::vector<StructureFeatures>& candidates,
                                                   const SelectionOptions& options);

}  // namespace gapd
