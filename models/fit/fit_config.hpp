#pragma once
// `gapd fit` configuration: a YAML file with sections (every key and default: docs/fitting.md).
// Sections are independent: `gap:` (energies, forces, virials) and `dipoles:` (SA-GPR dipoles).

#include "models/fit/dipole_fit_config.hpp"
#include "models/fit/sparse_selection.hpp"
#include "models/fit/training_data.hpp"
#include "models/descriptors/soap_hypers.hpp"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gapd {

struct FitConfig {
    std::vector<std::string> training_files;  // relative paths are relative to the config file
    std::string output = "model.gapd";
    std::string report;                        // prefix of REPORT.json / REPORT.txt; default: output + ".report"
    std::string description;
    PropertyKeys keys;
    int threads = 0;

    SoapHypers soap;                           // species are filled from the data
    RadialMode radial = RadialMode::Spline;

    int zeta = 4;
    std::map<int, int> sparse_points{{8, 500}, {22, 250}, {56, 250}};  // per atomic number
    // Explicit sparse environments (replace the selection): (frame, atom), frame 0-based over the
    // concatenation of training_files.
    std::vector<std::pair<int, int>> sparse_environments;
    // gap.feature_selection.count: keep this many power-spectrum features (farthest-point sampling of feature
    // columns on the training environments, docs/feature_selection.md); 0 = all.
    int feature_selection_count = 0;
    bool baseline_least_squares = true;
    std::map<int, double> baseline;            // eV/atom when given
    double delta = 1.0;                        // eV, prior scale of the kernel
    double sigma_energy = 1e-3;                // eV/atom
    double sigma_forces = 0.05;                // eV/Å
    double sigma_virial = 0.02;                // eV/atom
    double jitter = 1e-8;
    bool fit_forces = true, fit_virial = true;

    double held_out_fraction = 0.2;
    unsigned long long seed = 0;
    int formula_unit_atoms = 5;
    std::vector<double> learning_curve;        // fractions of the training split, in (0, 1]

    // Sparse-point selection: top-level `sparse_selection` (both models); `gap.selection` and
    // `dipoles.selection` override it per model.
    SparseSelection selection = SparseSelection::FarthestPoint;          // GAP
    SparseSelection selection_default = SparseSelection::FarthestPoint;  // top-level value
    std::optional<DipoleFitConfig> dipoles;    // the `dipoles:` section, if present
};

// Throws std::runtime_error, one line naming the file and the key: unknown keys (with the allowed ones),
// wrong types, values out of range.
FitConfig read_fit_config(const std::string& path);

}  // namespace gapd
