// Structures evaluated together: i-PI's batched requests through ModelForceEngine::compute_batch (the GAP's
// kernel GEMMs over the centres of the whole batch) must give the results of one call per structure to
// round-off, and the frame loop of predict/eval/fit must give identical numbers whatever the thread count.

#include "models/core/frame_loop.hpp"
#include "models/core/openmp.hpp"
#include "models/formats/extxyz.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/native_model_file.hpp"
#include "server/serve/model_force_engine.hpp"
#include "serving_fixture.hpp"

#include <doctest/doctest.h>

#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace gapd;

namespace {

const std::string kData = GAPD_TEST_DATA_DIR;

double largest_difference(const Matrix3N& a, const Matrix3N& b) {
    REQUIRE(a.rows() == b.rows());
    return (a - b).cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("batched requests: compute_batch equals one compute per structure to round-off") {
    const testing::GapDipoleServingFixture fx;
    const Structure& s = fx.s;
    const GapCalculator& gap = fx.gap;
    const DipoleServing& serving = fx.serving;
    const std::vector<Frame> frames = testing::perturbed_frames(s, 8, 11);

    for (int threads : {1, 2}) {
        INFO(threads << " threads");
        set_thread_count(threads);
        ModelForceEngine single(&gap, s.numbers, serving), batched(&gap, s.numbers, serving);
        std::vector<ForceResult> one_by_one;
        for (const Frame& f : frames) one_by_one.push_back(single.compute(f));
        std::set<double> energies;
        for (const ForceResult& r : one_by_one) energies.insert(r.energy);
        REQUIRE(energies.size() == frames.size());  // distinct frames: a mix-up in the batch would show

        for (int round = 0; round < 2; ++round) {  // the second round reuses the workspaces
            const std::vector<ForceResult> together = batched.compute_batch(frames);
            REQUIRE(together.size() == frames.size());
            for (std::size_t k = 0; k < frames.size(); ++k) {
                INFO("structure " << k);
                const ForceResult& a = one_by_one[k];
                const ForceResult& b = together[k];
                CHECK(std::abs(a.energy - b.energy) <= 1e-10 * std::abs(a.energy));
                CHECK(largest_difference(a.forces, b.forces) < 1e-10);
                CHECK((a.virial - b.virial).cwiseAbs().maxCoeff() < 1e-10);
                CHECK(a.extras == b.extras);  // dipoles are computed per structure, on the same list
                CHECK(largest_difference(a.forces, together[(k + 1) % frames.size()].forces) > 1e-6);
            }
        }
        // A batch of one is the single-structure path, bit for bit.
        const std::vector<ForceResult> alone = batched.compute_batch({frames[3]});
        CHECK(alone.at(0).energy == one_by_one[3].energy);
        CHECK(alone.at(0).forces == one_by_one[3].forces);
    }
    set_thread_count(1);
}

TEST_CASE("batched GAP: structures of different sizes and species counts in one batch") {
    const std::vector<ExtxyzFrame> file = read_extxyz(kData + "/librascal/structures.extxyz");
    const GapCalculator gap(read_librascal_model(kData + "/librascal/model_small_zeta2_exact.json"), RadialMode::Spline);
    std::vector<NeighbourList> lists;
    lists.reserve(file.size());
    std::vector<StructureNeighbours> batch;
    for (const ExtxyzFrame& f : file) {
        lists.push_back(build_neighbour_list(f.structure, gap.cutoff()));
        batch.push_back({f.structure, lists.back()});
    }
    REQUIRE(batch.size() >= 3);
    const std::vector<GapPrediction> together = gap.compute_batch_with_gradients(batch);
    REQUIRE(together.size() == batch.size());
    for (std::size_t k = 0; k < batch.size(); ++k) {
        INFO("structure " << k << " (" << file[k].structure.size() << " atoms)");
        const GapPrediction alone = gap.compute_with_gradients(file[k].structure);
        CHECK(std::abs(alone.energy - together[k].energy) <= 1e-10 * std::abs(alone.energy));
        CHECK(largest_difference(alone.forces, together[k].forces) < 1e-10);
        CHECK((alone.virial - together[k].virial).cwiseAbs().maxCoeff() < 1e-10);
        CHECK((alone.atom_energies - together[k].atom_energies).cwiseAbs().maxCoeff() < 1e-10);
    }
    // A structure with a species the model lacks is refused, as in a single call.
    Structure stranger = file[0].structure;
    stranger.numbers[0] = 1;
    const NeighbourList stranger_list = build_neighbour_list(stranger, gap.cutoff());
    CHECK_THROWS_AS(gap.compute_batch_with_gradients({batch[1], {stranger, stranger_list}}), std::invalid_argument);
}

TEST_CASE("frame loop: identical results with 1 and 2 threads, over frames or over centres") {
    const Structure s = read_extxyz(kData + "/librascal/structures.extxyz").at(2).structure;
    const GapCalculator gap(read_librascal_model(kData + "/librascal/model_small_zeta2_exact.json"), RadialMode::Spline);
    std::vector<Structure> structures;
    for (const Frame& f : testing::perturbed_frames(s, 7, 5)) {
        Structure t = s;
        t.cell = f.cell;
        t.positions = f.positions;
        structures.push_back(t);
    }
    const auto run = [&](int threads, bool over_frames) {
        set_thread_count(threads);
        std::vector<GapPrediction> p(structures.size());
        for_each_frame(
            structures.size(), over_frames, [] { return GapWorkspace(); },
            [&](std::size_t k, GapWorkspace& w) { p[k] = gap.compute_with_gradients(structures[k], {nullptr, &w}); });
        CHECK(current_thread_count() == threads);  // the loop leaves the caller's thread count as it was
        return p;
    };
    const std::vector<GapPrediction> reference = run(1, false);
    for (const auto& [threads, over_frames] : {std::pair{2, true}, std::pair{2, false}, std::pair{1, true}}) {
        INFO(threads << " threads, over frames: " << over_frames);
        const std::vector<GapPrediction> p = run(threads, over_frames);
        for (std::size_t k = 0; k < structures.size(); ++k) {
            CHECK(p[k].energy == reference[k].energy);
            CHECK(p[k].forces == reference[k].forces);
            CHECK(p[k].virial == reference[k].virial);
        }
    }
    if (openmp::enabled) {
        set_thread_count(2);
        CHECK(parallel_over_frames(10, 40));
        CHECK_FALSE(parallel_over_frames(10, kFrameParallelMaxAtoms));
        CHECK_FALSE(parallel_over_frames(1, 40));
    }
    set_thread_count(1);
    CHECK_FALSE(parallel_over_frames(10, 40));

    // An error in a frame is rethrown after the loop: the lowest failing frame's.
    set_thread_count(2);
    const auto failing = [](std::size_t k, int&) {
        if (k == 3 || k == 5) throw std::runtime_error("frame " + std::to_string(k));
    };
    try {
        for_each_frame(8, true, [] { return 0; }, failing);
        FAIL("no exception");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "frame 3");
    }
    set_thread_count(1);
}

TEST_CASE("frame batches: consecutive frames up to kFrameBatchAtoms atoms, a large frame alone, all covered once") {
    CHECK(frame_batches({}).empty());
    const std::vector<std::size_t> sizes = {5, 5, 40, 250, 5, 300, 5, 5, 10, 256, 1};
    const std::vector<FrameBatch> batches = frame_batches(sizes);
    std::size_t next = 0;
    for (const FrameBatch& b : batches) {
        CAPTURE(b.first);
        CHECK(b.first == next);
        REQUIRE(b.count >= 1);
        std::size_t atoms = 0;
        for (std::size_t f = b.first; f < b.first + b.count; ++f) atoms += sizes[f];
        CHECK((b.count == 1 || atoms <= kFrameBatchAtoms));
        // Closed only because the next frame would not fit.
        if (b.first + b.count < sizes.size()) CHECK(atoms + sizes[b.first + b.count] > kFrameBatchAtoms);
        next = b.first + b.count;
    }
    CHECK(next == sizes.size());
    // {5,5,40} {250,5} {300} {5,5,10} {256} {1}
    REQUIRE(batches.size() == 6);
    CHECK(batches[0].count == 3);
    CHECK(batches[1].count == 2);
    CHECK(batches[2].first == 5);
    CHECK(batches[2].count == 1);
    CHECK(batches[3].count == 3);
}

TEST_CASE("plan_frames: the batches of the frames' atom counts, over frames only when the largest frame is small") {
    struct Frame {
        std::size_t atoms;
    };
    const auto atoms_of = [](const Frame& f) { return f.atoms; };
    const std::vector<Frame> small = {{5}, {5}, {40}, {250}, {5}};
    set_thread_count(1);
    FramePlan plan = plan_frames(small, atoms_of);
    CHECK(plan.batches.size() == frame_batches({5, 5, 40, 250, 5}).size());
    CHECK_FALSE(plan.over_frames);
    if (openmp::enabled) {
        set_thread_count(2);
        CHECK(plan_frames(small, atoms_of).over_frames);
        // One frame as large as kFrameParallelMaxAtoms puts the whole list over centres.
        std::vector<Frame> mixed = small;
        mixed.push_back({kFrameParallelMaxAtoms});
        plan = plan_frames(mixed, atoms_of);
        CHECK_FALSE(plan.over_frames);
        CHECK(plan.batches.back().first == small.size());
        CHECK(plan.batches.back().count == 1);
        set_thread_count(1);
    }
    CHECK(plan_frames(std::vector<Frame>{}, atoms_of).batches.empty());
}
