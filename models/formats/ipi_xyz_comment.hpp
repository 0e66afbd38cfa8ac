#pragma once
// The comment line of i-PI's xyz files: `# CELL(abcABC): a b c alpha beta gamma cell{angstrom} positions{angstrom}`
// (also `CELL(H): ...` and `CELL(GENH): ...`, with any of ( [ { as brackets), as i-PI writes trajectories and
// reads initial structures (ipi/utils/io/backends/io_xyz.py, io_units.py). Without a `{unit}` hint i-PI reads
// xyz lengths in atomic units (Bohr); so does this reader.

#include <Eigen/Core>
#include <optional>
#include <string_view>

namespace gapd {

struct IpiXyzComment {
    Eigen::Matrix3d cell;   // Å, rows = lattice vectors (Structure's convention)
    double position_scale;  // multiplies the atom lines' coordinates into Å
};

// nullopt when the comment holds no i-PI CELL(...) marker (an extxyz or free-text comment). Throws
// std::invalid_argument naming the problem for a marker with bad numbers, a degenerate cell or a unit gapd
// does not know.
std::optional<IpiXyzComment> parse_ipi_xyz_comment(std::string_view comment);

}  // namespace gapd
