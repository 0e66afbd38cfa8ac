#pragma once
// ASE's extended XYZ format: reading every frame of a file and writing frames that ASE reads back.
//
// Per frame: a line with the atom count, a comment line of key=value pairs, one line per atom whose
// columns are described by Properties=name:type:count:... (types S string, R real, I integer, L logical;
// default "species:S:1:pos:R:3"). Lattice="a1x a1y a1z a2x ... a3z" lists the lattice vectors (rows of
// Structure::cell). Values may be quoted with "..." (backslash escapes), {...} or [...]; a key without
// value is a flag and reads as "T", as in ASE.

#include "models/core/elements.hpp"
#include "models/core/matrix.hpp"
#include "models/core/structure.hpp"

#include <map>
#include <string>
#include <vector>

namespace gapd {

struct ExtxyzFrame {
    // cell from Lattice (rows = lattice vectors, zero without Lattice); pbc from pbc="T T T", default:
    // periodic along all three vectors if Lattice is given, else not periodic. An i-PI xyz comment
    // (`# CELL(abcABC): ...`, ipi_xyz_comment.hpp) gives a periodic cell, positions converted to Å.
    Structure structure;
    // False when the frame says nothing about periodicity (no Lattice, no pbc, no i-PI cell): ASE reads such
    // a frame as a cluster, which for a crystal is a silently wrong answer; commands refuse it
    // (require_periodicity_given) unless asked for clusters.
    bool periodicity_given = false;
    // Every key=value of the comment line, raw text with quotes removed, except Lattice, Properties, pbc.
    std::map<std::string, std::string> info;
    // Per-atom R and I columns other than species, pos and Z, each N x count (e.g. "forces": N x 3).
    // S columns other than species and L columns are checked while reading but not kept.
    std::map<std::string, RowMatrix> arrays;
    // Chemical symbols as read (from species, or from Z if there is no species column). Not used by
    // write_extxyz, which writes the symbols of structure.numbers.
    std::vector<std::string> symbols;
};

// All frames of `path`. Errors (std::runtime_error) are one line naming the file, the 0-based frame index
// and the problem: truncated frame, bad number, unknown species, missing pos, NaN/inf in positions or cell.
std::vector<ExtxyzFrame> read_extxyz(const std::string& path);

// Writes all frames atomically (temporary file + rename), numbers in shortest round-trip form so that
// reading gives back the same doubles. Arrays are written as R columns; info values are quoted when needed.
void write_extxyz(const std::string& path, const std::vector<ExtxyzFrame>& frames);

// Throws std::runtime_error naming `path` and the first frame without Lattice, pbc or an i-PI cell: commands
// that compute crystals call it unless the user asked for isolated clusters (--clusters, or pbc="F F F" in the file).
void require_periodicity_given(const std::vector<ExtxyzFrame>& frames, const std::string& path);
// n numbers as an info value ("%.17g", space-separated: reads back as the same doubles).
std::string format_info_numbers(const double* values, int n);

// Typed access to ExtxyzFrame::info for callers that know which file and frame they are reading;
// errors are one line naming the file, the 0-based frame index and the key.
double info_double(const ExtxyzFrame& frame, const std::string& key, const std::string& path,
                   std::size_t frame_index);
// A whitespace-separated list of numbers, e.g. stress="s11 s12 ... s33".
std::vector<double> info_doubles(const ExtxyzFrame& frame, const std::string& key, const std::string& path,
                                 std::size_t frame_index);

}  // namespace gapd
