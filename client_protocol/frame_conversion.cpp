#include "client_protocol/frame_conversion.hpp"

#include "client_protocol/extras_check.hpp"
#include "models/core/units.hpp"

#include <Eigen/LU>
#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace gapd {

namespace {

using RowMajor3d = Eigen::Matrix<double, 3, 3, Eigen::RowMajor>;

const Eigen::IOFormat kOneLine(Eigen::FullPrecision, Eigen::DontAlignCols, " ", "; ", "", "", "[", "]");

const char* axis_name(std::size_t k) { return k == 0 ? "x" : k == 1 ? "y" : "z"; }

// Scale-free test: the volume compared with the product of the edge lengths (1 for a cube).
bool is_singular(const Eigen::Matrix3d& cell) {
    const double edges = cell.row(0).norm() * cell.row(1).norm() * cell.row(2).norm();
    return !(std::abs(cell.determinant()) > 1e-10 * edges);
}

// Model units -> atomic units, one correctly rounded operation per value (units.hpp).
double to_atomic_units(double value, ExtraUnit unit) {
    switch (unit) {
        case ExtraUnit::Dipole: return value / units::kBohrInAngstrom;
        case ExtraUnit::Polarization: return value * units::kBohrSquaredInAngstromSquared;
        case ExtraUnit::Charge:
        case ExtraUnit::Dimensionless: break;
    }
    return value;
}

nlohmann::json row_json(const ExtraArray& array, Eigen::Index i) {
    nlohmann::json row = nlohmann::json::array();
    for (Eigen::Index a = 0; a < array.values.cols(); ++a) {
        const double x = to_atomic_units(array.values(i, a), array.unit);
        if (!std::isfinite(x))
            throw std::runtime_error("extras '" + array.key + "': non-finite value at row " + std::to_string(i) +
                                     ", column " + std::to_string(a));
        row.push_back(x);
    }
    return row;
}

wire::ProtocolError absurd_value(const std::string& what, double value) {
    std::ostringstream msg;
    msg.precision(3);
    msg << "i-PI sent an absurd " << what << " of " << value << " Bohr (the limit is " << wire::kMaxCoordinateBohr
        << " Bohr): the message stream is probably out of sync (bytes of another message read as numbers)";
    return wire::ProtocolError(msg.str());
}

}  // namespace

std::string extras_json(const Extras& extras) {
    if (extras.empty()) return " ";
    nlohmann::json out = nlohmann::json::object();
    for (const ExtraArray& array : extras.arrays) {
        if (out.contains(array.key)) throw std::logic_error("extras: key '" + array.key + "' given twice");
        if (array.shape == ExtraArray::Shape::Vector) {
            if (array.values.rows() != 1)
                throw std::logic_error("extras '" + array.key + "': a vector must have exactly one row");
            out[array.key] = row_json(array, 0);
        } else {
            nlohmann::json rows = nlohmann::json::array();
            for (Eigen::Index i = 0; i < array.values.rows(); ++i) rows.push_back(row_json(array, i));
            out[array.key] = std::move(rows);
        }
    }
    return out.dump();
}

Frame frame_from_wire(const wire::WireStructure& structure, bool require_invertible_cell) {
    for (std::size_t k = 0; k < 9; ++k) {
        const std::string element = "cell matrix element h[" + std::to_string(k / 3) + "][" + std::to_string(k % 3) + "]";
        if (!std::isfinite(structure.h[k])) throw wire::ProtocolError("i-PI sent a non-finite " + element);
        if (std::abs(structure.h[k]) > wire::kMaxCoordinateBohr) throw absurd_value(element, structure.h[k]);
    }
    const std::size_t natoms = structure.natoms();
    for (std::size_t k = 0; k < 3 * natoms; ++k) {
        const double x = structure.positions[k];
        if (std::isfinite(x) && std::abs(x) <= wire::kMaxCoordinateBohr) continue;
        const std::string which = "(atom " + std::to_string(k / 3) + ", " + axis_name(k % 3) + ")";
        if (!std::isfinite(x)) throw wire::ProtocolError("i-PI sent a non-finite position " + which);
        throw absurd_value("position " + which, x);
    }

    Frame frame;
    // Wire h[i][j] = component i of lattice vector j: its transpose has the vectors as rows.
    frame.cell = Eigen::Map<const RowMajor3d>(structure.h.data()).transpose() * units::kBohrInAngstrom;
    frame.positions = Eigen::Map<const Matrix3N>(structure.positions.data(), static_cast<Eigen::Index>(natoms), 3) *
                      units::kBohrInAngstrom;
    if (require_invertible_cell && is_singular(frame.cell)) {
        std::ostringstream msg;
        msg << "i-PI sent a singular cell (rows = lattice vectors, Å): " << frame.cell.format(kOneLine)
            << ", but the model uses periodic boundary conditions";
        throw wire::ProtocolError(msg.str());
    }
    return frame;
}

wire::WireStructure frame_to_wire(const Frame& frame) {
    wire::WireStructure structure;
    const RowMajor3d h = frame.cell.transpose() / units::kBohrInAngstrom;
    const RowMajor3d h_inv = h.inverse();
    Eigen::Map<RowMajor3d>(structure.h.data()) = h;
    Eigen::Map<RowMajor3d>(structure.h_inv.data()) = h_inv;
    structure.positions.resize(static_cast<std::size_t>(frame.positions.size()));
    Eigen::Map<Matrix3N>(structure.positions.data(), frame.positions.rows(), 3) =
        frame.positions / units::kBohrInAngstrom;
    return structure;
}

wire::WireResult result_to_wire(const ForceResult& result, std::size_t natoms) {
    if (static_cast<std::size_t>(result.forces.rows()) != natoms) {
        throw std::runtime_error("force engine returned forces for " + std::to_string(result.forces.rows()) +
                                 " atoms, expected " + std::to_string(natoms));
    }
    if (!std::isfinite(result.energy)) throw std::runtime_error("force engine returned a non-finite energy");
    if (!result.forces.allFinite()) throw std::runtime_error("force engine returned non-finite forces");
    if (!result.virial.allFinite()) throw std::runtime_error("force engine returned a non-finite virial");
    std::string extras = result.verbatim_extras ? *result.verbatim_extras : extras_json(result.extras);
    check_extras_for_ipi(extras);

    wire::WireResult out;
    out.energy = result.energy / units::kHartreeInEv;
    out.forces.resize(3 * natoms);
    Eigen::Map<Matrix3N>(out.forces.data(), static_cast<Eigen::Index>(natoms), 3) =
        result.forces / units::kHartreePerBohrInEvPerAngstrom;
    // Row-major W[a][b] as i-PI reads it (mapped, so Eigen's column-major storage never leaks out).
    Eigen::Map<RowMajor3d>(out.virial.data()) = result.virial / units::kHartreeInEv;
    out.extras = std::move(extras);
    return out;
}

ForceResult result_from_wire(const wire::WireResult& result) {
    ForceResult out;
    out.energy = result.energy * units::kHartreeInEv;
    out.forces = Eigen::Map<const Matrix3N>(result.forces.data(),
                                            static_cast<Eigen::Index>(result.forces.size() / 3), 3) *
                 units::kHartreePerBohrInEvPerAngstrom;
    out.virial = Eigen::Map<const RowMajor3d>(result.virial.data()) * units::kHartreeInEv;
    out.verbatim_extras = result.extras;
    return out;
}

}  // namespace gapd
