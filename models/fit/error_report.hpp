#pragma once
// Error tables of a potential against labelled frames: RMSE and MAE of the energy per atom and per formula
// unit, of force components per species and overall, of the virial per atom (6 independent components) and of
// the total dipole per atom (3 components / N, e Å/atom) when the frames have dipoles.

#include "models/fit/training_data.hpp"
#include "models/gap/gap_calculator.hpp"

#include <map>
#include <vector>
#include <nlohmann/json.hpp>
#include <string>

namespace gapd {

struct ErrorStats {
    double sum_squares = 0.0, sum_abs = 0.0;
    long count = 0;
    void add(double error) {
        sum_squares += error * error;
        sum_abs += std::abs(error);
        ++count;
    }
    double rmse() const;
    double mae() const;
};

struct ErrorTable {
    int formula_unit_atoms = 5;
    long frames = 0;
    ErrorStats energy_per_atom, energy_per_formula_unit, virial_per_atom, forces;
    std::map<int, ErrorStats> forces_by_species;
    ErrorStats dipole_per_atom;  // e Å/atom
    long dipole_frames = 0;

    void add(const LabelledFrame& reference, const GapPrediction& prediction);
    // reference: the frame's dipole on the branch used for the comparison (e Å).
    void add_dipole(const LabelledFrame& frame, const Eigen::Vector3d& reference, const Eigen::Vector3d& predicted);
    nlohmann::json to_json() const;
    // A fixed-width table, energies in meV/atom and meV/f.u., forces in meV/Å, virials in meV/atom, dipoles in
    // me Å/atom (row only when there are dipoles).
    std::string to_text(const std::string& title) const;
};

// One line per group of frames (gapd eval --group-by): frames, RMSE of energy per atom, forces (all and per
// species), virial per atom and dipole per atom; header() first, then row() for each group.
struct GroupSummary {
    std::vector<int> species;  // atomic numbers of the force columns, in this order
    int label_width = 28;      // width of the group column (the longest label)
    std::string header() const;
    std::string row(const std::string& group, const ErrorTable& table) const;
};

}  // namespace gapd
