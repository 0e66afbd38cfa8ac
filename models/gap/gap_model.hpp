#pragma once
// The data of a sparse SOAP-GAP potential, independent of where it was read from
// (librascal dump_obj JSON, gapd native file, or gapd fit).
//
// Energy: E = sum_i [ e0(Z_i) + sum_{m in sparse set of Z_i} w_m (x_i . t_m)^zeta ]
// with x_i the normalized power spectrum of centre i (feature layout: docs/maths.md).

#include "models/core/matrix.hpp"
#include "models/descriptors/soap_hypers.hpp"

#include <Eigen/Core>
#include <map>
#include <string>
#include <vector>

namespace gapd {

struct SparseSet {
    int species = 0;          // central atomic number
    RowMatrix points;         // M_s x D normalized power spectra of the sparse environments
    Eigen::VectorXd weights;  // M_s
};

struct GapModel {
    SoapHypers hypers;                      // hypers.species = all species, sorted
    int zeta = 1;                           // integer kernel exponent
    std::map<int, double> self_contributions;  // eV per atom of each species
    std::vector<SparseSet> sparse;          // one per central species, sorted by species
    std::string description;                // free text (provenance)
    // Feature selection (docs/feature_selection.md): indices into the compressed power-spectrum layout
    // (models/descriptors/power_spectrum.hpp); empty = all features. With a selection, x_i is normalized over the selected
    // components only and sparse points hold zeros on the others (still stored in the Full layout).
    std::vector<int> selected_features;
    // Empty (all 1), or one positive factor per selected feature, applied before the normalization: how a
    // librascal coefficient_subselection maps onto the compressed layout (docs/feature_selection.md).
    std::vector<double> selected_feature_scales;
};

// Throws std::invalid_argument, one line "<context>: <problem>", unless the model is consistent: hypers.species
// non-empty, sorted, without repeats; zeta >= 1; sparse sets sorted by species without repeats, each of a species
// in hypers.species, points M x power_spectrum_size(hypers) (Full layout) and M weights; selected_features a
// valid selection (in range, no repeats; scales positive, one per selected feature). Every reader, writer, calculator and the fit check models with this.
void validate(const GapModel& model, const std::string& context = "GAP model");

}  // namespace gapd
