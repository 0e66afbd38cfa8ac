// `gapd serve --connections N`: the division of --threads between connections, the per-connection log, and
// engines of several connections computing at the same time on one shared GapCalculator / DipoleCalculator
// (nothing shared may be mutable: results must be bit-identical to one engine computing alone).

#include "models/core/openmp.hpp"
#include "models/formats/extxyz.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/native_model_file.hpp"
#include "server/serve/connection_log.hpp"
#include "models/dipoles/dipole_extras.hpp"
#include "server/serve/model_force_engine.hpp"
#include "server/cli/model_loading.hpp"
#include "server/serve/thread_division.hpp"
#include "serving_fixture.hpp"

#include <doctest/doctest.h>

#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace gapd;

TEST_CASE("thread division: T/N each, the first T%N one more, at least 1") {
    CHECK(divide_threads(1, 1) == std::vector<int>{1});
    CHECK(divide_threads(8, 1) == std::vector<int>{8});
    CHECK(divide_threads(8, 4) == std::vector<int>{2, 2, 2, 2});
    CHECK(divide_threads(5, 2) == std::vector<int>{3, 2});
    CHECK(divide_threads(7, 3) == std::vector<int>{3, 2, 2});
    // Fewer threads than connections: every connection still runs one (the cores are oversubscribed).
    CHECK(divide_threads(2, 4) == std::vector<int>{1, 1, 1, 1});
    CHECK(divide_threads(1, 3) == std::vector<int>{1, 1, 1});
    for (int total = 1; total <= 17; ++total) {
        for (int n = 1; n <= 9; ++n) {
            const std::vector<int> t = divide_threads(total, n);
            REQUIRE(t.size() == static_cast<std::size_t>(n));
            CHECK(std::accumulate(t.begin(), t.end(), 0) == std::max(total, n));
            const auto [lo, hi] = std::minmax_element(t.begin(), t.end());
            CHECK(*lo >= 1);
            CHECK(*hi - *lo <= 1);
            CHECK(std::is_sorted(t.rbegin(), t.rend()));  // the larger shares first
        }
    }
    CHECK_THROWS_AS(divide_threads(4, 0), std::invalid_argument);
    CHECK_THROWS_AS(divide_threads(0, 2), std::invalid_argument);
}

TEST_CASE("connection log: whole tagged lines, never interleaved between connections") {
    std::ostringstream out;
    {
        ConnectionLog a(out, "[conn 1/2]");
        a.stream() << "gapd: connected to " << "unix:/tmp/x" << "\n" << std::flush;
        a.stream() << "no prefix here\n";
        a.stream() << "gapd: unfinished";
    }
    CHECK(out.str() == "gapd: [conn 1/2] connected to unix:/tmp/x\n[conn 1/2] no prefix here\n"
                       "gapd: [conn 1/2] unfinished\n");

    std::ostringstream shared;
    constexpr int kLines = 400;
    {
        std::vector<std::thread> writers;
        for (int k = 0; k < 4; ++k) {
            writers.emplace_back([&shared, k] {
                ConnectionLog log(shared, "[conn " + std::to_string(k) + "]");
                for (int i = 0; i < kLines; ++i)
                    log.stream() << "gapd: " << "request " << i << " of " << k << " " << std::string(50, 'x') << "\n";
            });
        }
        for (auto& w : writers) w.join();
    }
    std::istringstream in(shared.str());
    std::string line;
    std::vector<int> next(4, 0);
    int count = 0;
    while (std::getline(in, line)) {
        int k = -1, i = -1, k2 = -2;
        char xs[64] = {};
        REQUIRE(std::sscanf(line.c_str(), "gapd: [conn %d] request %d of %d %63s", &k, &i, &k2, xs) == 4);
        REQUIRE(k == k2);
        CHECK(std::string(xs) == std::string(50, 'x'));
        CHECK(i == next[static_cast<std::size_t>(k)]++);  // each connection's lines in order, none lost
        ++count;
    }
    CHECK(count == 4 * kLines);
}

namespace {

struct Reference {
    std::vector<Frame> frames;
    std::vector<ForceResult> results;
};

bool identical(const ForceResult& a, const ForceResult& b) {
    return a.energy == b.energy && a.forces == b.forces && a.virial == b.virial && a.extras == b.extras;
}

}  // namespace

TEST_CASE("concurrent connections: engines on one shared model give bit-identical results in any thread") {
    const testing::GapDipoleServingFixture fx;
    const Structure& s = fx.s;
    const GapCalculator& gap = fx.gap;
    const DipoleServing& serving = fx.serving;

    // Reference: one engine alone, one thread, one call per frame.
    constexpr int kFrames = 6;
    Reference ref;
    set_thread_count(1);
    ModelForceEngine alone(&gap, s.numbers, serving);
    ref.frames = testing::perturbed_frames(s, kFrames, 7);
    for (const Frame& frame : ref.frames) ref.results.push_back(alone.compute(frame));
    std::set<double> energies;
    for (const auto& r : ref.results) energies.insert(r.energy);
    REQUIRE(energies.size() == kFrames);  // the frames differ, so a mix-up between connections would show

    // Four connections at once, each with its own engine and OpenMP thread count, each going through the
    // frames in its own order, several times.
    const std::vector<int> threads = divide_threads(5, 4);  // 2 1 1 1: unequal teams
    std::vector<std::vector<int>> mismatches(threads.size());
    std::vector<std::thread> workers;
    for (std::size_t k = 0; k < threads.size(); ++k) {
        workers.emplace_back([&, k] {
            set_thread_count(threads[k]);
            ModelForceEngine engine(&gap, s.numbers, serving);
            for (int round = 0; round < 3; ++round) {
                for (int j = 0; j < kFrames; ++j) {
                    const int f = static_cast<int>((j + k * 2 + round) % kFrames);
                    if (!identical(engine.compute(ref.frames[static_cast<std::size_t>(f)]),
                                   ref.results[static_cast<std::size_t>(f)]))
                        mismatches[k].push_back(f);
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    for (std::size_t k = 0; k < threads.size(); ++k) {
        INFO("connection " << k << " (" << threads[k] << " threads)");
        CHECK(mismatches[k].empty());
    }
    set_thread_count(1);
}
