#include "models/formats/native_model_file.hpp"

#include "models/formats/native_file_framing.hpp"
#include "models/formats/native_model_schema.hpp"

#include <stdexcept>

namespace gapd {

void write_native_model(const std::string& path, const GapModel& model) {
    ModelFileContents contents;
    contents.gap = model;
    write_native_model(path, contents);
}

void write_native_model(const std::string& path, const ModelFileContents& contents) {
    if (!contents.gap && !contents.dipole)
        throw std::invalid_argument("write_native_model: neither a GAP nor a dipole model to write");
    // A file gapd writes always loads: the reader checks the same rules.
    if (contents.gap) validate(*contents.gap, "write_native_model");
    if (contents.dipole) validate(*contents.dipole, "write_native_model: dipole model");
    write_native_file(path, kNativeModelFormatVersion, native_model_header(contents), native_model_arrays(contents));
}

ModelFileContents read_native_model_contents(const std::string& path, bool read_dipole) {
    NativeFileReader file(path, kNativeModelFormatVersion, native_model_features());
    ModelFileContents contents = read_native_model_sections(file, read_dipole);
    try {
        if (contents.gap) validate(*contents.gap);
        if (contents.dipole) validate(*contents.dipole);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    return contents;
}

GapModel read_native_model(const std::string& path) {
    ModelFileContents contents = read_native_model_contents(path, /*read_dipole=*/false);
    if (!contents.gap)
        throw std::runtime_error(path + ": holds only a dipole model, no GAP (header field 'potential' is absent)");
    return std::move(*contents.gap);
}

}  // namespace gapd
