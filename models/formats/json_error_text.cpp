#include "models/formats/json_error_text.hpp"

#include "models/core/text_excerpt.hpp"

namespace gapd {

std::string json_error_text(const std::string& what) {
    std::string text = what;
    const auto close = text.find("] ");
    if (!text.empty() && text.front() == '[' && close != std::string::npos) text.erase(0, close + 2);
    static const std::string kLastRead = "; last read: '";
    const auto at = text.find(kLastRead);
    if (at == std::string::npos) return text;
    std::string token = text.substr(at + kLastRead.size());
    if (!token.empty() && token.back() == '\'') token.pop_back();
    return text.substr(0, at) + "; last read: " + quote_excerpt(token);
}

}  // namespace gapd
