#include "models/core/text_excerpt.hpp"

namespace gapd {

namespace {

// The escaped form of the beginning of `text`, at most max_chars characters of it; `used` gets the number of
// input bytes it shows.
std::string escaped(std::string_view text, std::size_t max_chars, std::size_t& used) {
    static const char* const kHex = "0123456789abcdef";
    std::string out;
    used = 0;
    for (; used < text.size(); ++used) {
        const auto c = static_cast<unsigned char>(text[used]);
        std::string one;
        switch (c) {
            case '\n': one = "\\n"; break;
            case '\t': one = "\\t"; break;
            case '\r': one = "\\r"; break;
            case '\\': one = "\\\\"; break;
            case '\'': one = "\\'"; break;
            default:
                if (c >= 0x20 && c < 0x7f) {
                    one = static_cast<char>(c);
                } else {
                    one = "\\x";
                    one += kHex[c >> 4];
                    one += kHex[c & 15];
                }
        }
        if (out.size() + one.size() > max_chars) break;
        out += one;
    }
    return out;
}

std::string cut_note(std::size_t total) { return " (" + std::to_string(total) + " bytes in all)"; }

}  // namespace

std::string excerpt(std::string_view text, std::size_t max_chars, std::size_t total) {
    if (total < text.size()) total = text.size();
    std::size_t used = 0;
    const std::string shown = escaped(text, max_chars, used);
    return used < total ? shown + "..." + cut_note(total) : shown;
}

std::string quote_excerpt(std::string_view text, std::size_t max_chars, std::size_t total) {
    if (total < text.size()) total = text.size();
    std::size_t used = 0;
    const std::string shown = escaped(text, max_chars, used);
    return used < total ? "'" + shown + "...'" + cut_note(total) : "'" + shown + "'";
}

}  // namespace gapd
