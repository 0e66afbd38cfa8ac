#include "models/formats/model_file.hpp"

#include "models/formats/librascal_model_reader.hpp"
#include "models/formats/native_file_framing.hpp"
#include "models/core/regular_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace gapd {

bool is_native_model_file(const std::string& path) {
    // A missing file is simply not a native model (the reader that follows says so); a FIFO must not be opened.
    std::error_code error;
    if (std::filesystem::exists(path, error)) require_regular_file(path, "model file");
    return has_native_magic(path);
}

GapModel read_model_file(const std::string& path) {
    if (is_native_model_file(path)) return read_native_model(path);
    return read_model_file_contents(path).gap.value();
}

ModelFileContents read_model_file_contents(const std::string& path) {
    if (is_native_model_file(path)) return read_native_model_contents(path);
    // librascal files are JSON ('{' after optional white space) or gzip (1f 8b); anything else is not a model.
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open model file: " + std::strerror(errno));
    int c = in.get();
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t') c = in.get();
    const bool gzip = c == 0x1f && in.get() == 0x8b;
    if (c != '{' && !gzip)
        throw std::runtime_error(path + ": not a model file: neither gapd's native format (magic GAPDMODL) nor a "
                                        "librascal dump_obj JSON (.json or .json.gz)");
    ModelFileContents contents;
    contents.gap = read_librascal_model(path);
    return contents;
}

}  // namespace gapd
