#pragma once
// What the header of a native model file says about the models it holds (docs/model_format.md): the "soap"
// hypers and the "potential" section of a GAP, the "dipole" section of an SA-GPR dipole model, and which arrays
// hold their sparse points and weights. Framing (prefix, directory, checksums): native_file_framing.hpp.

#include "models/formats/native_file_framing.hpp"
#include "models/formats/native_model_file.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace gapd {

// Header extensions this reader understands when a file lists them in "required_features".
const std::vector<std::string>& native_model_features();

// The header sections of `contents` ("required_features", "description", "soap", "potential", "dipole"; the
// framing adds "format", "writer" and "arrays") and the arrays they name, pointing into `contents`.
nlohmann::json native_model_header(const ModelFileContents& contents);
std::vector<NativeArray> native_model_arrays(const ModelFileContents& contents);

// The models of an opened file: a GAP iff the header has "potential", a dipole model iff it has "dipole" (read
// only with read_dipole). Throws std::runtime_error naming the file and the field or array at fault; the
// models' own consistency (validate) is checked by the caller.
ModelFileContents read_native_model_sections(NativeFileReader& file, bool read_dipole);

}  // namespace gapd
