#pragma once
// Writing a file so that readers (a server reloading a model, a script tailing results) never see it
// half-written: the content goes to a temporary file next to the target, which is flushed to disk and
// then renamed over the target (rename is atomic within one file system).

#include <functional>
#include <ostream>
#include <string>

namespace gapd {

// Calls `write` with a stream on a temporary file in the directory of `path`, then fsyncs it and renames
// it to `path`. If `write` throws or any I/O fails, the temporary file is removed, `path` is left
// untouched, and the exception propagates (I/O failures: std::runtime_error naming `path`).
// A new file gets the usual permissions (0666 minus the umask); a replaced file keeps its mode. An existing
// file whose mode bits deny the caller writing (e.g. 0444; also for root) is not replaced: std::runtime_error.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace gapd
