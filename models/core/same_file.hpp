#pragma once
// An output must never be one of the command's inputs: `gapd predict IN -o IN` would replace labelled data
// with predictions. "The same file" is decided by device and inode, so other spellings of a path
// (../dir/./IN), symbolic links and hard links are all caught.

#include <string>
#include <vector>

namespace gapd {

// True when both paths exist and name the same file (same device and inode, links followed).
bool same_file(const std::string& a, const std::string& b);

// Throws std::runtime_error "OUTPUT: refusing to write over the input file INPUT (the same file; choose
// another output path)" if `output` exists and is the same file as one of `inputs`. A missing output (or
// input) is never the same file. Empty paths are ignored.
void refuse_output_over_input(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace gapd
