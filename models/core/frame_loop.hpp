#pragma once
// Many structures (the frames of a file) evaluated one by one with per-caller state (calculator workspaces):
// either in parallel over frames, each OpenMP thread with its own state and its calculators' parallel regions
// running on that thread alone, or frame after frame with the calculators' regions parallel over centres.
// Frames are small (5-40 atom cells) in most data sets: a chunk of their centres gives each thread a few rows,
// so parallelism over frames is what scales; a large frame has enough centres to share.
//
// Each frame's numbers come from the same operations either way (the calculators' results do not depend on the
// thread count), so the output is identical whatever the thread count and the choice.

#include "models/core/openmp.hpp"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <vector>

namespace gapd {

// Frames with fewer atoms than this are evaluated in parallel over frames (when there are several threads and
// frames); larger ones in parallel over centres. 1000 atoms is about four chunks of each species' centres.
inline constexpr std::size_t kFrameParallelMaxAtoms = 1000;

inline bool parallel_over_frames(std::size_t frames, std::size_t largest_frame_atoms) {
    return openmp::max_threads() > 1 && frames > 1 && largest_frame_atoms < kFrameParallelMaxAtoms;
}

// Calls body(f, state) for f = 0 .. count-1, with a state made by make_state() per thread and reused from frame
// to frame. over_frames (see parallel_over_frames): frames are spread over the threads (dynamic schedule, any order),
// and an exception thrown for a frame is rethrown after the loop, the one of the lowest frame; otherwise frames
// run in order and the first exception ends the loop.
template <class MakeState, class Body>
void for_each_frame(std::size_t count, bool over_frames, MakeState&& make_state, Body&& body) {
    if (!over_frames) {
        auto state = make_state();
        for (std::size_t f = 0; f < count; ++f) body(f, state);
        return;
    }
    std::vector<std::exception_ptr> errors(count);
#pragma omp parallel
    {
        // This thread's nested regions (the calculators') get one thread: parallelism is over frames here.
        openmp::set_num_threads(1);
        auto state = make_state();
#pragma omp for schedule(dynamic, 1)
        for (long f = 0; f < static_cast<long>(count); ++f) {
            try {
                body(static_cast<std::size_t>(f), state);
            } catch (...) {
                errors[static_cast<std::size_t>(f)] = std::current_exception();
            }
        }
    }
    for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
}

// Consecutive frames evaluated as one batch (a model's kernel GEMMs over the centres of all of them): small
// frames one at a time stream every sparse point through the GEMM for a handful of rows, which makes 5-atom
// cells memory-bound. A batch closes before it would hold more than kFrameBatchAtoms atoms; a frame at least that
// large is a batch of its own. The grouping depends on the frame sizes alone, so results do not depend on the
// thread count.
inline constexpr std::size_t kFrameBatchAtoms = 256;

struct FrameBatch {
    std::size_t first = 0, count = 0;  // frames [first, first + count)
};

inline std::vector<FrameBatch> frame_batches(const std::vector<std::size_t>& atoms_per_frame) {
    std::vector<FrameBatch> out;
    std::size_t atoms = 0;
    for (std::size_t f = 0; f < atoms_per_frame.size(); ++f) {
        if (out.empty() || atoms + atoms_per_frame[f] > kFrameBatchAtoms) {
            out.push_back({f, 0});
            atoms = 0;
        }
        ++out.back().count;
        atoms += atoms_per_frame[f];
    }
    return out;
}

// How a list of frames runs: in batches (frame_batches), spread over the threads or not (parallel_over_frames).
struct FramePlan {
    std::vector<FrameBatch> batches;
    bool over_frames = false;
};

// The plan for frames of these atom counts; atoms_of(frame) gives a frame's count.
template <class Frames, class AtomsOf>
FramePlan plan_frames(const Frames& frames, AtomsOf&& atoms_of) {
    std::vector<std::size_t> sizes;
    std::size_t largest = 0;
    for (const auto& frame : frames) {
        sizes.push_back(atoms_of(frame));
        largest = std::max(largest, sizes.back());
    }
    FramePlan plan;
    plan.batches = frame_batches(sizes);
    plan.over_frames = parallel_over_frames(plan.batches.size(), largest);
    return plan;
}

}  // namespace gapd
