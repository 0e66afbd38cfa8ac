#pragma once
// What i-PI 3.3 does with the extras string of FORCEREADY (ipi/interfaces/utils.py, parse_extra): decode as
// UTF-8, json.loads it, and keep it as {"raw": text} if that fails. Some strings kill i-PI's polling
// thread instead, and the simulation then hangs forever; gapd refuses to send those.

#include <string>

namespace gapd {

// Throws std::runtime_error unless `extras` is valid UTF-8 and, if it parses as JSON in Python's dialect
// (which also accepts NaN, Infinity, -Infinity), is an object without a top-level key "raw".
// Plain non-JSON text is accepted: i-PI keeps it under "raw".
void check_extras_for_ipi(const std::string& extras);

}  // namespace gapd
