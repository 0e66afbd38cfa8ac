#pragma once
// The template structure gives the species and atom order of the frames i-PI sends (they are not on the wire).

#include <string>
#include <vector>

namespace gapd {

// Atomic numbers of the first frame of an extxyz/xyz file. Accepts ASE extxyz and plain xyz files whose
// comment line is free text (i-PI's `# CELL(abcABC): ...` xyz files included).
std::vector<int> read_template_numbers(const std::string& path);

}  // namespace gapd
