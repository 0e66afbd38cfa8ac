#pragma once
// The framing of gapd's native model file, whatever models it holds: a 24-byte prefix (magic "GAPDMODL", u32
// format version, u64 header length, u32 header CRC-32), a JSON header (padded with spaces to a 64-byte boundary)
// whose "arrays" directory lists every array, then the raw little-endian float64 arrays, each 64-byte aligned and
// CRC-32 checked. What the header's model sections mean: models/formats/native_model_schema.hpp. Byte layout and
// versioning rules: docs/model_format.md.

#include "models/formats/native_header_fields.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gapd {

// One float64 array to write: a row-major block of prod(shape) values.
struct NativeArray {
    std::string name;
    std::vector<std::uint64_t> shape;
    const double* data = nullptr;
};

// Writes the file atomically (temporary file + rename): the prefix with `version`, `header` with "format",
// "writer" and the "arrays" directory added, then the arrays. Throws std::runtime_error for I/O failures.
void write_native_file(const std::string& path, std::uint32_t version, nlohmann::json header,
                       const std::vector<NativeArray>& arrays);

// True if the file starts with the magic bytes; false for other or unreadable files.
bool has_native_magic(const std::string& path);

// An opened native file: prefix, header and array directory checked, arrays read on demand. Every error is one
// std::runtime_error line naming the file and the field or array at fault.
class NativeFileReader {
public:
    // Checks: magic, 1 <= version <= max_version, truncation, header checksum, valid JSON object, "format",
    // "required_features" (every name must be in `supported_features`), and every directory entry (fields,
    // shape x 8 = nbytes, 64-byte alignment, within the file, unique names).
    NativeFileReader(const std::string& path, std::uint32_t max_version,
                     const std::vector<std::string>& supported_features);

    const nlohmann::json& header() const { return header_; }
    const HeaderFields& fields() const { return fields_; }

    // The shape of the array named `name`, or nullptr if the directory has no such array.
    const std::vector<std::uint64_t>* shape_of(const std::string& name) const;

    // Reads the float64 array named by the header field `name_field` (header path `field`) after checking that it
    // is in the directory with dtype "<f8" and exactly `shape`; `allocate` sizes the destination (called only
    // after those checks) and returns where to write. The checksum is verified and every value must be finite.
    void load(const nlohmann::json& name_field, const std::string& field, const std::vector<std::uint64_t>& shape,
              const std::function<double*()>& allocate);

private:
    struct Entry {
        std::vector<std::uint64_t> shape;
        std::string dtype;
        std::uint64_t offset = 0, nbytes = 0;
        std::uint32_t crc = 0;
    };
    void read_bytes(std::uint64_t offset, void* out, std::uint64_t n);

    std::string path_;
    std::ifstream in_;
    std::uint64_t size_ = 0;
    nlohmann::json header_;
    HeaderFields fields_;
    std::map<std::string, Entry> directory_;
};

}  // namespace gapd
