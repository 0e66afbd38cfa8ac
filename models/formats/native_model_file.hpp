#pragma once
// gapd's own model file: reading and writing whole models. A 24-byte prefix, a JSON header and raw
// little-endian float64 arrays (64-byte aligned, CRC32-checked); loads in milliseconds, straight into the Eigen
// matrices, and is readable from Python with numpy alone (scripts/read_gapd_model.py). Framing:
// native_file_framing.hpp; header schema: native_model_schema.hpp; byte layout and versioning rules:
// docs/model_format.md. Reading any model file (native or librascal, by content): model_file.hpp.

#include "models/dipoles/dipole_model.hpp"
#include "models/gap/gap_model.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace gapd {

// Bumped only for changes that older readers would misread; additions within a version follow the
// rules in docs/model_format.md (optional sections are ignored, meaning changes are listed in the
// header's "required_features").
inline constexpr std::uint32_t kNativeModelFormatVersion = 1;

// What one model file holds: a GAP energy model, an SA-GPR dipole model (header section "dipole"), or both.
struct ModelFileContents {
    std::optional<GapModel> gap;
    std::optional<DipoleModel> dipole;
};

// Writes atomically (temporary file + rename). Throws std::invalid_argument for a model that fails validate()
// ("write_native_model: ..." / "write_native_model: dipole model: ...") or for contents with neither model, and
// std::runtime_error for I/O failures.
void write_native_model(const std::string& path, const ModelFileContents& contents);
void write_native_model(const std::string& path, const GapModel& model);

// Throws std::runtime_error, one line naming the file and the field or array at fault: bad magic, newer
// format version, truncation, checksum mismatch, header fields missing or inconsistent, a model failing
// validate(). With read_dipole false the "dipole" section is skipped unread, as an energy-only reader does.
ModelFileContents read_native_model_contents(const std::string& path, bool read_dipole = true);
// The GAP of a native file (its dipole section unread); throws std::runtime_error if it holds no GAP.
GapModel read_native_model(const std::string& path);

}  // namespace gapd
