#pragma once
// Full neighbour list with librascal's semantics (see docs/neighbours_and_harmonics.md).
//
// Every atom is a centre. Every periodic image of every atom j with |r_ij|^2 <= cutoff^2 is a separate entry,
// images of the centre itself included (a cell shorter than the cutoff gives an atom several self images);
// only j == i without translation is left out. r_ij = (r_j + T) - r_i, T a lattice translation along the
// periodic directions. Positions need not be wrapped into the cell.

#include "models/core/structure.hpp"

#include <cstddef>
#include <vector>

namespace gapd {

struct NeighbourList {
    // CSR layout: the entries of centre i are [offsets[i], offsets[i+1]).
    std::vector<std::size_t> offsets;  // size N+1
    std::vector<int> neighbour;        // atom index j of each entry (the entry is an image of atom j)
    Matrix3N vectors;                  // r_ij in Å, one row per entry

    std::size_t size() const { return neighbour.size(); }
    // Heap memory held by the list.
    std::size_t memory_bytes() const;
};

// Bounds on the work of one list, checked on an estimate (number density x cutoff sphere) before anything is
// allocated for the entries. A cell of 0.1 Bohr that i-PI can send would otherwise ask for hundreds of GB.
struct NeighbourListLimits {
    double max_pairs = 1e8;             // entries in all (28 bytes each in the list: 1e8 = 2.8 GB); --max-pairs
    double max_pairs_per_atom = 1e4;    // 1e4 = 14 atoms/Å^3 at a 5.5 Å cutoff, 70x the densest solids
};
inline constexpr std::size_t kNeighbourEntryBytes = sizeof(int) + 3 * sizeof(double);

// Largest |fractional coordinate| along a periodic lattice vector: an atom 1e14 cells away has lost all the
// digits that place it within its cell (its energy changes by 0.1 Ha with the image chosen).
inline constexpr double kMaxFractionalCoordinate = 1e6;

// The limits build_neighbour_list(s, cutoff) uses, process-wide (the CLI sets them from --max-pairs once,
// before any list is built; like the OpenMP thread count, not per call).
void set_neighbour_list_limits(const NeighbourListLimits& limits);
NeighbourListLimits neighbour_list_limits();

// Builds the list in O(N) with a cell list; deterministic: centres in index order, and the same input always
// gives the same entries in the same order, whatever the number of OpenMP threads (large systems scan blocks
// of centres in parallel and concatenate them in order).
// Throws std::invalid_argument (naming the offending atoms / values) for: cutoff not finite or <= 0,
// positions.rows() != numbers.size(), non-finite positions or cell, a zero or degenerate (zero-volume)
// lattice along the periodic directions, two atoms (or an atom and an image) closer than 1e-6 Å, and lattices
// so thin for the cutoff that more than 1e7 lattice translations per atom would have to be searched, an
// estimated pair count beyond `limits` (the message names the cell, the estimate and the limit), and an atom
// more than kMaxFractionalCoordinate cells away along a periodic lattice vector.
// A direction with pbc false gets no images; its cell row is ignored (it may be zero).
NeighbourList build_neighbour_list(const Structure& s, double cutoff, const NeighbourListLimits& limits);
NeighbourList build_neighbour_list(const Structure& s, double cutoff);  // with neighbour_list_limits()

}  // namespace gapd
