#pragma once
// Named arrays a model returns beside energy, forces and virial (dipoles, Born charges, ...), in model units.
// Models only say which physical unit a value carries; the i-PI client converts to atomic units and writes the
// JSON (client_protocol/frame_conversion), `gapd predict` writes them to extxyz as they are. Keeping units out
// of the models means the CODATA constants live in one place (models/core/units.hpp).

#include "models/core/matrix.hpp"

#include <Eigen/Core>
#include <string>
#include <utility>
#include <vector>

namespace gapd {

// The model unit of an extra; the protocol layer knows the atomic-unit counterpart of each.
enum class ExtraUnit {
    Dimensionless,
    Charge,        // e (the same in atomic units)
    Dipole,        // e·Å
    Polarization,  // e/Å^2
};

struct ExtraArray {
    enum class Shape {
        Vector,  // one row, written as a flat list [x, y, z]
        Rows,    // written as a list of rows [[x, y, z], ...]
    };
    std::string key;
    ExtraUnit unit = ExtraUnit::Dimensionless;
    Shape shape = Shape::Rows;
    RowMatrix values;  // rows x 3 for the dipole quantities; Shape::Vector: exactly one row

    friend bool operator==(const ExtraArray& a, const ExtraArray& b) {
        return a.key == b.key && a.unit == b.unit && a.shape == b.shape && a.values.rows() == b.values.rows() &&
               a.values.cols() == b.values.cols() && a.values == b.values;
    }
};

// In the order the model produced them; keys are unique (the JSON writer refuses duplicates).
struct Extras {
    std::vector<ExtraArray> arrays;

    bool empty() const { return arrays.empty(); }
    // Null if absent.
    const ExtraArray* find(const std::string& key) const {
        for (const ExtraArray& a : arrays)
            if (a.key == key) return &a;
        return nullptr;
    }
    void add_vector(std::string key, ExtraUnit unit, const Eigen::RowVectorXd& v) {
        arrays.push_back({std::move(key), unit, ExtraArray::Shape::Vector, RowMatrix(v)});
    }
    void add_rows(std::string key, ExtraUnit unit, RowMatrix rows) {
        arrays.push_back({std::move(key), unit, ExtraArray::Shape::Rows, std::move(rows)});
    }

    friend bool operator==(const Extras& a, const Extras& b) { return a.arrays == b.arrays; }
};

}  // namespace gapd
