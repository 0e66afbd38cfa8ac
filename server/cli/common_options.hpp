#pragma once
// Options several commands share, declared once so their names and help read the same everywhere.

#include <CLI/CLI.hpp>

namespace gapd {

// Frames without Lattice=, pbc= or an i-PI cell are refused (require_periodicity_given) unless this is given.
inline void add_clusters_flag(CLI::App* cmd, bool& clusters) {
    cmd->add_flag("--clusters", clusters,
                  "Compute frames without a cell (no Lattice=, pbc= or i-PI CELL comment) as isolated clusters "
                  "instead of refusing them");
}

}  // namespace gapd
