#pragma once
// Hyperparameters of the SOAP descriptors (librascal SphericalInvariants / GTO basis conventions,
// see docs/maths.md). Shared by the GAP potential and (later) the lambda=1 dipole features.

#include <algorithm>
#include <vector>

namespace gapd {

enum class CutoffKind { ShiftedCosine, RadialScaling };

// How the radial integrals are evaluated.
//  Exact: 1F1 through Boost for every neighbour (slow, reference).
//  Spline: gapd's accurate spline of the exact functions (default; error far below 1e-8 eV/atom).
//  LibrascalSpline: librascal's natural cubic spline including its interval-index off-by-one,
//                   to reproduce splined librascal numbers exactly.
enum class RadialMode { Exact, Spline, LibrascalSpline };

struct CutoffParams {
    CutoffKind kind = CutoffKind::RadialScaling;
    double cutoff = 5.5;        // rc, Å
    double smooth_width = 0.5;  // w, Å
    double rate = 1.0;          // RadialScaling c
    double scale = 3.5;         // RadialScaling r0, Å
    double exponent = 4.0;      // RadialScaling m
};

struct SoapHypers {
    int max_radial = 8;          // nmax
    int max_angular = 6;         // lmax
    double gaussian_sigma = 0.5; // Å
    CutoffParams cutoff;
    bool normalize = true;
    // Spline accuracy recorded in a librascal file (0 for exact-mode files). Only used by
    // RadialMode::LibrascalSpline.
    double librascal_spline_accuracy = 0.0;
    std::vector<int> species;    // sorted atomic numbers the descriptor knows (feature keys)
};

// A species list as the descriptors need it: strictly increasing (sorted, no repeats).
inline bool strictly_increasing(const std::vector<int>& v) {
    return std::adjacent_find(v.begin(), v.end(), [](int a, int b) { return a >= b; }) == v.end();
}

}  // namespace gapd
