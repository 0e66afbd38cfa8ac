#pragma once
// "Did you mean ...?" for misspelled keys and option names.

#include <string>
#include <vector>

namespace gapd {

// The entry of `names` nearest to `word` in edit distance (case-insensitive, '-' and '_' alike), if it is close
// enough to be a plausible misspelling (at most 2 edits, or a third of the word for long words); else "".
std::string closest_name(const std::string& word, const std::vector<std::string>& names);

// " (did you mean 'x'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& names);

}  // namespace gapd
