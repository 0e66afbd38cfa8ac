#include "models/core/closest_name.hpp"

#include <algorithm>
#include <cctype>

namespace gapd {

namespace {

std::string folded(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string closest_name(const std::string& word, const std::vector<std::string>& names) {
    const std::string w = folded(word);
    const std::size_t limit = std::max<std::size_t>(2, w.size() / 3);
    std::string best;
    std::size_t best_distance = limit + 1;
    for (const std::string& name : names) {
        const std::size_t d = edit_distance(w, folded(name));
        if (d < best_distance) {
            best_distance = d;
            best = name;
        }
    }
    return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& names) {
    const std::string best = closest_name(word, names);
    return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

}  // namespace gapd
