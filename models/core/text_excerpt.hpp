#pragma once
// Quoting outside input in an error message: a short, printable excerpt, never the raw bytes. A garbage
// line of 100 MB (or binary) must give a one-line error of bounded size.

#include <cstddef>
#include <string>
#include <string_view>

namespace gapd {

inline constexpr std::size_t kExcerptChars = 80;  // characters of an excerpt at most (escapes included)

// 'text' in single quotes, at most max_chars characters; bytes outside printable ASCII (and the quote and
// backslash) escaped as \xNN, \n, \t, \r, \\, \'. A text that does not fit is cut and followed by
// "... (N bytes in all)". `total`: the length of the whole text when `text` is only its beginning (a line
// too long to be kept). Examples: 'abc', 'a\x00b', 'xxxx...' (104857600 bytes in all).
std::string quote_excerpt(std::string_view text, std::size_t max_chars = kExcerptChars, std::size_t total = 0);
// The same without the quotes, for text that is already a quoted form (e.g. a JSON value's dump()).
std::string excerpt(std::string_view text, std::size_t max_chars = kExcerptChars, std::size_t total = 0);

}  // namespace gapd
