#pragma once
// Reading a librascal SOAP-GAP potential saved with rascal.utils.dump_obj: a KRR object with a GAP
// Sparse Structure kernel on SphericalInvariants (PowerSpectrum, GTO basis, constant Gaussian density).
// The file may be plain JSON or gzip-compressed (detected from the content, not the name).
// Field mapping: docs/model_format.md ("librascal files").

#include "models/gap/gap_model.hpp"

#include <string>

namespace gapd {

// Throws std::runtime_error with one line naming the file and, for content errors, the JSON field
// (e.g. "m.json: field 'init_params.kernel.init_params.zeta': must be a positive integer, got 2.5").
GapModel read_librascal_model(const std::string& path);

}  // namespace gapd
