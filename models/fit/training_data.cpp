#include "models/fit/training_data.hpp"

#include <Eigen/LU>
#include <cmath>
#include <stdexcept>

namespace gapd {

namespace {

Eigen::Matrix3d matrix_from_numbers(const std::vector<double>& v, const std::string& where, const std::string& key) {
    Eigen::Matrix3d m;
    if (v.size() == 9) {
        for (int k = 0; k < 9; ++k) m(k / 3, k % 3) = v[k];
    } else if (v.size() == 6) {  // Voigt order xx yy zz yz xz xy
        m << v[0], v[5], v[4], v[5], v[1], v[3], v[4], v[3], v[2];
    } else {
        throw std::runtime_error(where + "info key '" + key + "' must have 9 or 6 numbers, got " +
                                 std::to_string(v.size()));
    }
    return m;
}

}  // namespace

std::string frame_label(const LabelledFrame& f) {
    return f.file + ": frame " + std::to_string(f.frame_index) + " (0-based)";
}

std::vector<LabelledFrame> read_labelled_frames(const std::string& path, const LabelledReadOptions& options) {
    const PropertyKeys& keys = options.keys;
    const bool require_forces = options.require_forces;
    std::vector<ExtxyzFrame> frames = read_extxyz(path);
    if (frames.empty()) throw std::runtime_error(path + ": no frames (empty file)");
    if (!options.clusters) require_periodicity_given(frames, path);
    std::vector<LabelledFrame> out;
    out.reserve(frames.size());
    for (std::size_t k = 0; k < frames.size(); ++k) {
        LabelledFrame f;
        f.file = path;
        f.frame_index = k;
        const std::string where = frame_label(f) + ": ";
        f.structure = frames[k].structure;
        f.energy = info_double(frames[k], keys.energy, path, k);
        const auto fa = frames[k].arrays.find(keys.forces);
        if (fa != frames[k].arrays.end()) {
            if (fa->second.cols() != 3 || fa->second.rows() != static_cast<Eigen::Index>(f.structure.size()))
                throw std::runtime_error(where + "per-atom array '" + keys.forces + "' must have 3 columns");
            if (!fa->second.allFinite()) throw std::runtime_error(where + "per-atom array '" + keys.forces + "' has NaN or inf");
            f.forces = fa->second;
            f.has_forces = true;
        } else if (require_forces) {
            throw std::runtime_error(where + "missing per-atom array '" + keys.forces + "'");
        }
        const bool periodic = f.structure.pbc[0] && f.structure.pbc[1] && f.structure.pbc[2];
        if (frames[k].info.count(keys.virial)) {
            f.virial = matrix_from_numbers(info_doubles(frames[k], keys.virial, path, k), where, keys.virial);
            f.has_virial = true;
        } else if (frames[k].info.count(keys.stress)) {
            const double volume = std::abs(f.structure.cell.determinant());
            if (!periodic || volume == 0.0)
                throw std::runtime_error(where + "has '" + keys.stress + "' but is not periodic with a cell volume");
            f.virial = -volume * matrix_from_numbers(info_doubles(frames[k], keys.stress, path, k), where, keys.stress);
            f.has_virial = true;
        }
        if (!keys.dipole.empty() && frames[k].info.count(keys.dipole)) {
            const std::vector<double> d = info_doubles(frames[k], keys.dipole, path, k);
            if (d.size() != 3)
                throw std::runtime_error(where + "info key '" + keys.dipole + "' must have 3 numbers (e*Å), got " +
                                         std::to_string(d.size()));
            f.dipole = Eigen::Vector3d(d[0], d[1], d[2]);
            f.has_dipole = true;
        }
        f.raw = std::move(frames[k]);
        out.push_back(std::move(f));
    }
    return out;
}

}  // namespace gapd
