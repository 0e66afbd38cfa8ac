#include "server/cli/bench_structures.hpp"

#include <random>
#include <stdexcept>

namespace gapd {

Structure batio3_supercell(int repeats, double lattice, double sigma, std::uint64_t seed) {
    if (repeats < 1) throw std::invalid_argument("supercell repeats must be >= 1");
    const double basis[5][3] = {{0, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    const int numbers[5] = {56, 22, 8, 8, 8};
    Structure s;
    s.cell = Eigen::Matrix3d::Identity() * (lattice * repeats);
    const int n = 5 * repeats * repeats * repeats;
    s.positions.resize(n, 3);
    s.numbers.resize(n);
    // mt19937_64 + our own Box-Muller: std::normal_distribution is not the same across standard libraries.
    std::mt19937_64 rng(seed);
    auto uniform = [&]() { return (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0); };
    auto gaussian = [&]() { return std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * M_PI * uniform()); };
    int k = 0;
    for (int i = 0; i < repeats; ++i)
        for (int j = 0; j < repeats; ++j)
            for (int l = 0; l < repeats; ++l)
                for (int b = 0; b < 5; ++b, ++k) {
                    s.numbers[k] = numbers[b];
                    s.positions(k, 0) = lattice * (i + basis[b][0]) + sigma * gaussian();
                    s.positions(k, 1) = lattice * (j + basis[b][1]) + sigma * gaussian();
                    s.positions(k, 2) = lattice * (l + basis[b][2]) + sigma * gaussian();
                }
    return s;
}

}  // namespace gapd
