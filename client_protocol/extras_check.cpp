#include "client_protocol/extras_check.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <stdexcept>

namespace gapd {

namespace {

// Strict UTF-8 as Python decodes it: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n;
        unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the first continuation byte
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0) lo = 0xa0;  // overlong
            if (c == 0xed) hi = 0x9f;  // surrogates
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0) lo = 0x90;  // overlong
            if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;  // truncated sequence
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xbf)) return false;
        }
        i += n + 1;
    }
    return true;
}

// Python's json also reads the bare tokens NaN, Infinity and -Infinity: turn them into 0 outside strings
// (same length, padded with spaces), so that a standard JSON parser sees what Python would accept.
std::string neutralise_python_literals(const std::string& s) {
    std::string out = s;
    bool in_string = false;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (in_string) {
            if (out[i] == '\\') {
                ++i;
            } else if (out[i] == '"') {
                in_string = false;
            }
        } else if (out[i] == '"') {
            in_string = true;
        } else {
            for (const char* token : {"NaN", "Infinity"}) {
                const std::string t(token);
                if (out.compare(i, t.size(), t) == 0) {
                    out.replace(i, t.size(), "0" + std::string(t.size() - 1, ' '));
                    i += t.size() - 1;
                    break;
                }
            }
        }
    }
    return out;
}

}  // namespace

void check_extras_for_ipi(const std::string& extras) {
    if (!is_valid_utf8(extras)) {
        throw std::runtime_error("force engine extras are not valid UTF-8 (i-PI 3.3 would hang)");
    }
    const auto json = nlohmann::json::parse(neutralise_python_literals(extras), nullptr, false);
    if (json.is_discarded()) return;  // plain text: i-PI keeps it as "raw"
    if (!json.is_object()) {
        throw std::runtime_error("force engine extras parse as a JSON " + std::string(json.type_name()) +
                                 "; i-PI 3.3 hangs on anything but a JSON object: " + extras.substr(0, 200));
    }
    if (json.contains("raw")) {
        throw std::runtime_error("force engine extras must not have a key \"raw\" (reserved by i-PI)");
    }
}

}  // namespace gapd
