#pragma once
// Refusing to open something that is not a regular file. Opening a FIFO with no writer blocks forever
// (and a directory or device reads as garbage), so readers of outside files check the kind first, by path,
// without opening it.

#include <string>

namespace gapd {

// Throws std::runtime_error "PATH: cannot read WHAT: it is a FIFO (named pipe), not a regular file" (or a
// directory, socket, character/block device), or "PATH: cannot open: No such file or directory".
// Symbolic links are followed. `what` names the role, e.g. "model file", "template structure file".
void require_regular_file(const std::string& path, const std::string& what);

}  // namespace gapd
