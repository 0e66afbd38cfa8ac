#pragma once
// The synthetic SA-GPR dipole model of tests/data/dipole (NOT physics): default dipole hypers, sparse points =
// gapd's own lambda=1 features of evenly spaced atoms of each species in the librascal fixture structures
// (tests/data/librascal/structures.extxyz), weights drawn from N(0, 0.2^2) e·Å with a fixed seed. Shared by
// the generator (make_synthetic_dipole_model.cpp) and the unit test that checks the committed file.

#include "models/dipoles/dipole_calculator.hpp"
#include "models/formats/extxyz.hpp"

#include <random>
#include <string>
#include <vector>

namespace gapd::testing {

inline constexpr int kSyntheticDipolePointsPerSpecies = 10;
inline constexpr unsigned kSyntheticDipoleSeed = 20240613;

inline DipoleModel make_synthetic_dipole_model(const std::string& structures_path) {
    DipoleModel model;  // default_dipole_hypers(), Linear kernel, Ti/Ba/O cell roles
    model.description = "SYNTHETIC dipole model for tests and examples (random weights, NOT physics): lambda=1 "
                        "features of tests/data/librascal/structures.extxyz atoms, seed " +
                        std::to_string(kSyntheticDipoleSeed);
    const DipoleCalculator features_of(model, RadialMode::Spline);
    const std::vector<ExtxyzFrame> frames = read_extxyz(structures_path);
    std::vector<RowMatrix> features;
    for (const ExtxyzFrame& f : frames) features.push_back(features_of.features(f.structure));
    std::mt19937 rng(kSyntheticDipoleSeed);
    std::normal_distribution<double> weight(0.0, 0.2);
    for (int z : model.hypers.species) {
        std::vector<std::pair<int, int>> atoms;  // (frame, atom) of species z, in file order
        for (std::size_t f = 0; f < frames.size(); ++f)
            for (std::size_t i = 0; i < frames[f].structure.numbers.size(); ++i)
                if (frames[f].structure.numbers[i] == z) atoms.emplace_back(static_cast<int>(f), static_cast<int>(i));
        const int m = kSyntheticDipolePointsPerSpecies;
        DipoleSparseSet set;
        set.species = z;
        set.points.resize(m, features_of.feature_size());
        set.weights.resize(m, 3);
        for (int j = 0; j < m; ++j) {
            const auto [f, i] = atoms[atoms.size() * j / m];
            set.points.row(j) = features[f].row(i);
            for (int b = 0; b < 3; ++b) set.weights(j, b) = weight(rng);
        }
        model.sparse.push_back(std::move(set));
    }
    return model;
}

}  // namespace gapd::testing
