#pragma once
// Reproducible BaTiO3 supercells for benchmarks and the demo: cubic perovskite (a = 4.0 Å by default),
// Ba at the corner, Ti at the body centre, O at the face centres, every atom displaced by a Gaussian
// (sigma 0.08 Å by default) from a fixed-seed generator.

#include "models/core/structure.hpp"

#include <cstdint>

namespace gapd {

Structure batio3_supercell(int repeats, double lattice = 4.0, double displacement_sigma = 0.08,
                           std::uint64_t seed = 12345);

}  // namespace gapd
