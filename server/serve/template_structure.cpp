#include "server/serve/template_structure.hpp"

#include "models/core/elements.hpp"
#include "models/core/regular_file.hpp"
#include "models/core/text_excerpt.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gapd {

namespace {

// Reads one line into `line`, keeping at most kMaxTemplateLine bytes of it; `length` gets the whole line's
// length (the rest is counted, not stored, so a 100 MB garbage line costs no memory). False at end of file.
bool read_line(std::istream& in, std::string& line, std::size_t& length) {
    line.clear();
    length = 0;
    std::istreambuf_iterator<char> it(in), end;
    if (it == end) return false;
    for (; it != end; ++it) {
        const char c = *it;
        if (c == '\n') {
            ++it;
            break;
        }
        if (length < kMaxTemplateLine) line += c;
        ++length;
    }
    return true;
}

std::string line_error(const std::string& path, long number, const std::string& problem) {
    return path + ": line " + std::to_string(number) + ": " + problem;
}

}  // namespace

std::vector<int> read_template_numbers(const std::string& path) {
    require_regular_file(path, "template structure file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open template structure file: " + std::strerror(errno));
    std::string line;
    std::size_t length = 0;
    long number = 0;
    // Every line read through here: one longer than the limit is an error, quoted by an excerpt.
    auto next = [&]() {
        if (!read_line(in, line, length)) return false;
        ++number;
        if (length > kMaxTemplateLine)
            throw std::runtime_error(line_error(
                path, number,
                "longer than the limit of " + std::to_string(kMaxTemplateLine) + " bytes (not a structure file?): " +
                    quote_excerpt(line, kExcerptChars, length)));
        return true;
    };
    if (!next()) throw std::runtime_error(path + ": template structure file is empty");
    long natoms = -1;
    {
        std::istringstream first(line);
        if (!(first >> natoms) || natoms <= 0 || natoms > 10000000)
            throw std::runtime_error(path + ": line 1 must hold the number of atoms (got " + quote_excerpt(line) + ")");
    }
    next();  // comment line: free text is fine, only the species matter here
    std::vector<int> numbers;
    numbers.reserve(natoms);
    for (long k = 0; k < natoms; ++k) {
        if (!next())
            throw std::runtime_error(path + ": template has " + std::to_string(k) + " atom lines, expected " +
                                     std::to_string(natoms));
        std::istringstream atom(line);
        std::string symbol;
        atom >> symbol;
        try {
            numbers.push_back(atomic_number(symbol));
        } catch (const std::exception&) {
            throw std::runtime_error(line_error(path, number, "unknown chemical symbol " + quote_excerpt(symbol)));
        }
    }
    return numbers;
}

}  // namespace gapd
