#pragma once
// The `dipoles:` section of a `gapd fit` configuration (keys and defaults: docs/fitting.md): an SA-GPR dipole
// model fitted to total dipoles per frame, after polarization branch unwrapping.

#include "models/dipoles/dipole_model.hpp"
#include "models/fit/sparse_selection.hpp"
#include "models/dipoles/polarization_unwrapping.hpp"
#include "models/descriptors/soap_hypers.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gapd {

struct DipoleFitConfig {
    std::string key = "dipole";                  // info key of the total dipole, e Å (3 numbers)
    SoapHypers soap = default_dipole_hypers();   // species are filled from the data
    bool inversion_symmetry = true;
    DipoleKernel kernel = DipoleKernel::Linear;
    int zeta = 2;                                // LinearTimesScalar only
    std::map<int, int> sparse_points{{8, 200}, {22, 100}, {56, 100}};  // per atomic number
    std::vector<std::pair<int, int>> sparse_environments;  // (frame, atom), replaces the selection
    SparseSelection selection = SparseSelection::FarthestPoint;
    double delta = 1.0;                          // e Å, prior scale of the kernel
    double sigma = 0.01;                         // e Å per atom: frame sigma = sigma sqrt(N)
    double jitter = 1e-8;
    PolarizationUnwrapping unwrapping;
};

}  // namespace gapd
