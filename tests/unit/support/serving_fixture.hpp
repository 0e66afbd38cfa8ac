#pragma once
// The serve tests' common case: the 40-atom BaTiO3 fixture with the small librascal GAP and the synthetic
// dipole model serving dipoles, partial dipoles and Born charges, plus distinct perturbed frames of it.

#include "client_protocol/force_engine.hpp"
#include "models/formats/extxyz.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/native_model_file.hpp"
#include "server/serve/model_evaluator.hpp"

#include <Eigen/Dense>
#include <random>
#include <string>
#include <vector>

namespace gapd::testing {

// Not copyable in effect: `serving` refers to `dip`; use it where it is constructed.
struct GapDipoleServingFixture {
    const std::string data = GAPD_TEST_DATA_DIR;
    const Structure s = read_extxyz(data + "/librascal/structures.extxyz").at(2).structure;  // 40-atom BaTiO3
    const GapCalculator gap{read_librascal_model(data + "/librascal/model_small_zeta2_exact.json"), RadialMode::Spline};
    const DipoleCalculator dip{read_native_model_contents(data + "/dipole/synthetic_dipole.gapd").dipole.value(),
                               RadialMode::Spline};
    const DipoleServing serving{dip, parse_extras_selection("dipole,partial_dipoles,BEC"), CellDipoleRoles{}};
};

// `count` frames of `s`, frame f strained by 1% f and displaced by 0.05 Å Gaussian noise (distinct energies).
inline std::vector<Frame> perturbed_frames(const Structure& s, int count, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.05);
    std::vector<Frame> frames;
    for (int f = 0; f < count; ++f) {
        Frame frame;
        frame.cell = s.cell * (1.0 + 0.01 * f);
        frame.positions = s.positions * (1.0 + 0.01 * f);
        for (Eigen::Index i = 0; i < frame.positions.size(); ++i) frame.positions.data()[i] += noise(rng);
        frames.push_back(frame);
    }
    return frames;
}

}  // namespace gapd::testing
