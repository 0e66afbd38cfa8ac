#pragma once
// Labelled structures for fitting and evaluation, read from extxyz with configurable key names.
// Virial (eV, -dE/d(strain), i-PI's sign) comes from the virial key if the frame has it, else from the stress
// key (ASE sign, eV/Å^3) as -stress * V. 9 (row-major 3x3) or 6 (Voigt xx yy zz yz xz xy) numbers.
// The total dipole (e Å, as ASE writes it: info key, 3 numbers) is read when the dipole key is not empty.

#include "models/formats/extxyz.hpp"
#include "models/core/structure.hpp"

#include <Eigen/Core>
#include <string>
#include <vector>

namespace gapd {

struct PropertyKeys {
    std::string energy = "energy", forces = "forces", stress = "stress", virial = "virial";
    std::string dipole = "dipole";  // empty: not read
};

struct LabelledFrame {
    Structure structure;
    double energy = 0.0;  // eV
    bool has_forces = false, has_virial = false;
    Matrix3N forces;                                  // eV/Å
    Eigen::Matrix3d virial = Eigen::Matrix3d::Zero();  // eV
    bool has_dipole = false;
    Eigen::Vector3d dipole = Eigen::Vector3d::Zero();  // e Å, total dipole as labelled (any polarization branch)
    std::string file;
    std::size_t frame_index = 0;  // 0-based, within `file`
    ExtxyzFrame raw;              // as read (for writing predictions next to the references)
};

struct LabelledReadOptions {
    PropertyKeys keys;
    bool require_forces = false;
    // Frames that say nothing about periodicity are refused (require_periodicity_given) unless this is set.
    bool clusters = false;
};

// Every frame of `path`. Errors are one line naming the file and 0-based frame: empty file, missing energy
// (always required), missing forces when `require_forces`, non-finite or misshaped forces, stress or virial,
// stress on a non-periodic frame, a dipole that is not 3 finite numbers, a frame without cell or pbc.
std::vector<LabelledFrame> read_labelled_frames(const std::string& path, const LabelledReadOptions& options);

// "FILE: frame K (0-based)" for error messages.
std::string frame_label(const LabelledFrame& f);

// Every frame of the training files and their split into training and held-out frames (pointers into `frames`:
// move, never copy, a split).
struct TrainingSplit {
    std::vector<LabelledFrame> frames;           // all files, in order (indices of sparse_environments)
    std::vector<int> species;                    // atomic numbers present, sorted
    std::vector<const LabelledFrame*> train, test;

    TrainingSplit() = default;
    TrainingSplit(TrainingSplit&&) = default;
    TrainingSplit& operator=(TrainingSplit&&) = default;
    TrainingSplit(const TrainingSplit&) = delete;
    TrainingSplit& operator=(const TrainingSplit&) = delete;
};

}  // namespace gapd
