#pragma once
// nlohmann::json's parse errors as one bounded line: its "[json.exception.parse_error.101] " prefix dropped,
// and the token it quotes ("last read: '...'", for an unterminated string the rest of the file) cut to a
// short excerpt (models/core/text_excerpt.hpp).

#include <string>

namespace gapd {

std::string json_error_text(const std::string& what);

}  // namespace gapd
