#pragma once
// The template structure gives the species and atom order of the frames i-PI sends (they are not on the wire).

#include <cstddef>
#include <string>
#include <vector>

namespace gapd {

// Longest template line accepted (bytes): far above any real xyz/extxyz line, far below a garbage file.
inline constexpr std::size_t kMaxTemplateLine = 1u << 20;

// Atomic numbers of the first frame of an extxyz/xyz file. Accepts ASE extxyz and plain xyz files whose
// comment line is free text (i-PI's `# CELL(abcABC): ...` xyz files included).
// Errors are one line naming the file and line, quoting at most a short excerpt of it; non-regular files
// (FIFO, directory) are refused before opening.
std::vector<int> read_template_numbers(const std::string& path);

}  // namespace gapd
