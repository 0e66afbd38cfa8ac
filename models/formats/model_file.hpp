#pragma once
// Loading any model file, whatever its format, recognised by its content (not its name): gapd's native file
// (magic bytes GAPDMODL; native_model_file.hpp) or a librascal dump_obj JSON, plain or gzip-compressed
// (librascal_model_reader.hpp, GAP only).

#include "models/formats/native_model_file.hpp"

#include <string>

namespace gapd {

// True if the file starts with the native magic bytes; false for other or unreadable files.
bool is_native_model_file(const std::string& path);

// A native file (by magic bytes) or else a librascal dump_obj JSON (.json or .json.gz, GAP only). Throws
// std::runtime_error naming the file for anything else and for the readers' errors.
ModelFileContents read_model_file_contents(const std::string& path);
// Its GAP; throws std::runtime_error if the file holds only a dipole model.
GapModel read_model_file(const std::string& path);

}  // namespace gapd
