// Structure-level farthest-point sampling against a reference set (models/fit/structure_selection.hpp), the
// engine of `gapd select`.

#include "models/fit/structure_selection.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace gapd;

namespace {

// A structure of `n` atoms of two species whose features are noisy copies of `centre` (D = 4).
StructureFeatures blob(std::mt19937_64& rng, const Eigen::RowVector4d& centre, double noise, int n) {
    std::normal_distribution<double> g(0.0, noise);
    StructureFeatures s;
    s.atoms.resize(n, 4);
    for (int i = 0; i < n; ++i) {
        for (int d = 0; d < 4; ++d) s.atoms(i, d) = centre[d] + g(rng);
        s.species.push_back(i % 2);
    }
    return s;
}

}  // namespace

TEST_CASE("select: the candidate farthest from the reference comes first, copies of the reference never") {
    std::mt19937_64 rng(7);
    const Eigen::RowVector4d origin(0, 0, 0, 0), near(0.1, 0, 0, 0), far(1, 1, 0, 0), farther(0, 0, 3, 0);
    std::vector<StructureFeatures> reference = {blob(rng, origin, 0.01, 6)};
    std::vector<StructureFeatures> candidates = {reference[0], blob(rng, near, 0.01, 6), blob(rng, far, 0.01, 6),
                                                 blob(rng, farther, 0.01, 6)};
    for (NoveltyMeasure m : {NoveltyMeasure::Atoms, NoveltyMeasure::Structure}) {
        SelectionOptions o;
        o.count = 4;
        o.measure = m;
        o.species_count = 2;
        const std::vector<SelectionStep> picks = select_novel_structures(reference, candidates, o);
        REQUIRE(picks.size() == 3);  // the copy of the reference has distance 0: never picked
        CHECK(picks[0].candidate == 3);
        CHECK(picks[1].candidate == 2);
        CHECK(picks[2].candidate == 1);
        CHECK(picks[0].distance > 2.5);
        for (std::size_t k = 1; k < picks.size(); ++k) CHECK(picks[k].distance <= picks[k - 1].distance);
    }
}

TEST_CASE("select: atoms measure follows the least familiar atom, structure measure the mean") {
    std::mt19937_64 rng(3);
    const Eigen::RowVector4d origin(0, 0, 0, 0);
    std::vector<StructureFeatures> reference = {blob(rng, origin, 0.01, 8)};
    // A: every atom a little off; B: one atom far off, the rest on the reference.
    StructureFeatures a = blob(rng, Eigen::RowVector4d(0.3, 0, 0, 0), 0.0, 8);
    StructureFeatures b = blob(rng, origin, 0.0, 8);
    b.atoms.row(0) << 0, 0, 0, 1.0;
    SelectionOptions o;
    o.count = 1;
    o.species_count = 2;
    o.measure = NoveltyMeasure::Atoms;
    CHECK(select_novel_structures(reference, {a, b}, o)[0].candidate == 1);
    o.measure = NoveltyMeasure::Structure;  // mean of b's species 0 moves by 1/4: less than a's 0.3
    CHECK(select_novel_structures(reference, {a, b}, o)[0].candidate == 0);
}

TEST_CASE("select: per-group quotas spread the picks, and a picked structure lowers its neighbours") {
    std::mt19937_64 rng(11);
    std::vector<StructureFeatures> candidates;
    std::vector<int> group;
    for (int g = 0; g < 3; ++g)
        for (int k = 0; k < 5; ++k) {
            candidates.push_back(blob(rng, Eigen::RowVector4d(g + 1.0, 0, 0, 0), 0.05 * (g + 1), 4));
            group.push_back(g);
        }
    SelectionOptions o;
    o.count = 6;
    o.species_count = 2;
    const std::vector<SelectionStep> free = select_novel_structures({}, candidates, o);
    o.group = group;
    o.per_group = 2;
    const std::vector<SelectionStep> quota = select_novel_structures({}, candidates, o);
    REQUIRE(quota.size() == 6);
    std::vector<int> per(3, 0);
    for (const auto& p : quota) ++per[group[p.candidate]];
    CHECK(per == std::vector<int>{2, 2, 2});
    // Without quota the noisiest group (largest spread) wins more than its share.
    std::vector<int> free_per(3, 0);
    for (const auto& p : free) ++free_per[group[p.candidate]];
    CHECK(free_per[2] > 2);
    o.group.pop_back();
    CHECK_THROWS_AS(select_novel_structures({}, candidates, o), std::invalid_argument);
    CHECK_THROWS_AS(parse_novelty_measure("kernel"), std::invalid_argument);
}
