#include "models/formats/extxyz.hpp"

#include "models/core/elements.hpp"

#include "models/core/atomic_file_write.hpp"
#include "models/formats/ipi_xyz_comment.hpp"
#include "models/core/regular_file.hpp"
#include "models/core/text_excerpt.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace gapd {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Splits on whitespace into `out` (reused across lines to avoid allocations).
void split_words(std::string_view line, std::vector<std::string_view>& out) {
    out.clear();
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) ++i;
        const std::size_t start = i;
        while (i < line.size() && !is_space(line[i])) ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
}

bool parse_double(std::string_view s, double& out) {
    const char* b = s.data();
    const char* e = b + s.size();
    // from_chars rejects an explicit plus sign, which Fortran programs write.
    if (b != e && *b == '+') {
        ++b;
        if (b != e && *b == '-') return false;
    }
    if (b == e) return false;
    const auto [p, ec] = std::from_chars(b, e, out);
    return ec == std::errc() && p == e;
}

bool parse_long(std::string_view s, long long& out) {
    const char* b = s.data();
    const char* e = b + s.size();
    if (b != e && *b == '+') {
        ++b;
        if (b != e && *b == '-') return false;
    }
    if (b == e) return false;
    const auto [p, ec] = std::from_chars(b, e, out);
    return ec == std::errc() && p == e;
}

bool parse_bool(std::string_view s, bool& out) {
    if (s == "T" || s == "True" || s == "true") {
        out = true;
        return true;
    }
    if (s == "F" || s == "False" || s == "false") {
        out = false;
        return true;
    }
    return false;
}

// The comment line as an ordered list of (key, value); flags get "T". Quotes ("..." or '...'), braces
// and brackets group text containing spaces; a backslash takes the next character literally. As in ASE,
// spaces around '=' are allowed.
std::vector<std::pair<std::string, std::string>> parse_comment_line(std::string_view line) {
    struct Word {
        std::string text;
        bool equals;  // a bare '=' rather than a word
    };
    std::vector<Word> words;
    std::size_t i = 0;
    while (i < line.size()) {
        if (is_space(line[i])) {
            ++i;
            continue;
        }
        if (line[i] == '=') {
            words.push_back({"", true});
            ++i;
            continue;
        }
        std::string text;
        while (i < line.size() && !is_space(line[i]) && line[i] != '=') {
            const char c = line[i];
            if (c == '\\') {
                if (i + 1 == line.size()) throw std::invalid_argument("backslash at end of comment line");
                text += line[i + 1];
                i += 2;
            } else if (c == '"' || c == '\'' || c == '{' || c == '[') {
                const char close = c == '{' ? '}' : c == '[' ? ']' : c;
                ++i;
                while (true) {
                    if (i == line.size())
                        throw std::invalid_argument(std::string("unterminated ") + c + " in comment line");
                    if (line[i] == close) break;
                    if (line[i] == '\\' && i + 1 < line.size()) ++i;
                    text += line[i++];
                }
                ++i;
            } else {
                text += c;
                ++i;
            }
        }
        words.push_back({std::move(text), false});
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    for (std::size_t w = 0; w < words.size();) {
        if (words[w].equals) throw std::invalid_argument("'=' without a key in comment line");
        if (words[w].text.empty()) throw std::invalid_argument("empty key in comment line");
        if (w + 1 < words.size() && words[w + 1].equals) {
            if (w + 2 >= words.size() || words[w + 2].equals)
                throw std::invalid_argument("key " + quote_excerpt(words[w].text) + " has '=' but no value");
            pairs.emplace_back(std::move(words[w].text), std::move(words[w + 2].text));
            w += 3;
        } else {
            pairs.emplace_back(std::move(words[w].text), "T");
            w += 1;
        }
    }
    return pairs;
}

struct Column {
    std::string name;
    char type;  // S, R, I, L
    int count;
};

std::vector<Column> parse_properties(const std::string& text) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    while (true) {
        const auto colon = text.find(':', start);
        fields.push_back(text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    if (fields.size() % 3 != 0)
        throw std::invalid_argument("Properties=" + quote_excerpt(text) + " is not a list of name:type:count triples");
    std::vector<Column> columns;
    for (std::size_t k = 0; k < fields.size(); k += 3) {
        const std::string& type = fields[k + 1];
        long long count = 0;
        if (fields[k].empty() || type.size() != 1 || std::string_view("SRIL").find(type[0]) == std::string_view::npos ||
            !parse_long(fields[k + 2], count) || count < 1 || count > 1000000)
            throw std::invalid_argument("bad Properties entry " + quote_excerpt(fields[k] + ":" + type + ":" + fields[k + 2]) +
                                        " (want name:S|R|I|L:count)");
        for (const Column& c : columns)
            if (c.name == fields[k]) throw std::invalid_argument("Properties lists " + quote_excerpt(fields[k]) + " twice");
        columns.push_back({fields[k], type[0], static_cast<int>(count)});
    }
    return columns;
}

// Walks the lines of an in-memory file, counting them for error messages.
class LineReader {
public:
    explicit LineReader(std::string_view text) : text_(text) {}
    bool next(std::string_view& line) {
        if (pos_ >= text_.size()) return false;
        const auto nl = text_.find('\n', pos_);
        const std::size_t end = nl == std::string_view::npos ? text_.size() : nl;
        line = text_.substr(pos_, end - pos_);
        pos_ = end + 1;
        ++line_number_;
        return true;
    }
    bool only_whitespace_left() const { return trim(text_.substr(std::min(pos_, text_.size()))).empty(); }
    std::size_t bytes_left() const { return text_.size() - std::min(pos_, text_.size()); }
    std::size_t line_number() const { return line_number_; }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_number_ = 0;
};

std::string read_whole_file(const std::string& path) {
    require_regular_file(path, "structure file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const auto size = in.tellg();
    in.seekg(0, std::ios::beg);
    std::string text(static_cast<std::size_t>(size), '\0');
    if (!in.read(text.data(), size)) throw std::runtime_error(path + ": read error");
    return text;
}

// Parses one frame; throws std::invalid_argument with the problem only (the caller adds file and frame).
class FrameParser {
public:
    FrameParser(LineReader& lines, std::size_t natoms) : lines_(lines), natoms_(natoms) {}

    ExtxyzFrame parse(std::string_view comment) {
        ExtxyzFrame frame;
        std::string properties = "species:S:1:pos:R:3";
        // An i-PI xyz comment is not key=value text: its cell and length units replace Lattice and Å.
        if (const std::optional<IpiXyzComment> ipi = parse_ipi_xyz_comment(comment)) {
            frame.structure.cell = ipi->cell;
            frame.structure.pbc = {{true, true, true}};
            frame.periodicity_given = true;
            read_atoms(parse_properties(properties), frame);
            frame.structure.positions *= ipi->position_scale;
            return frame;
        }
        bool have_lattice = false, have_pbc = false;
        for (auto& [key, value] : parse_comment_line(comment)) {
            if (key == "Lattice") {
                frame.structure.cell = parse_lattice(value);
                have_lattice = true;
            } else if (key == "Properties") {
                properties = value;
            } else if (key == "pbc") {
                frame.structure.pbc = parse_pbc(value);
                have_pbc = true;
            } else {
                frame.info[key] = std::move(value);
            }
        }
        if (!have_pbc) frame.structure.pbc = {{have_lattice, have_lattice, have_lattice}};
        frame.periodicity_given = have_lattice || have_pbc;
        read_atoms(parse_properties(properties), frame);
        return frame;
    }

private:
    static Eigen::Matrix3d parse_lattice(const std::string& value) {
        std::vector<std::string_view> words;
        split_words(value, words);
        if (words.size() != 9)
            throw std::invalid_argument("Lattice needs 9 numbers, got " + std::to_string(words.size()));
        Eigen::Matrix3d cell;
        for (int k = 0; k < 9; ++k) {
            double x = 0;
            if (!parse_double(words[k], x)) throw std::invalid_argument("bad number " + quote_excerpt(words[k]) + " in Lattice");
            if (!std::isfinite(x)) throw std::invalid_argument("non-finite number " + quote_excerpt(words[k]) + " in Lattice");
            cell(k / 3, k % 3) = x;  // row-major: row k/3 is lattice vector k/3
        }
        return cell;
    }

    static std::array<bool, 3> parse_pbc(const std::string& value) {
        std::vector<std::string_view> words;
        split_words(value, words);
        std::array<bool, 3> pbc{};
        if (words.size() != 3 || !parse_bool(words[0], pbc[0]) || !parse_bool(words[1], pbc[1]) ||
            !parse_bool(words[2], pbc[2]))
            throw std::invalid_argument("pbc=" + quote_excerpt(value) + " is not three of T/F");
        return pbc;
    }

    [[noreturn]] void fail_at_line(const std::string& problem) const {
        throw std::invalid_argument("line " + std::to_string(lines_.line_number()) + ": " + problem);
    }

    void read_atoms(const std::vector<Column>& columns, ExtxyzFrame& frame) {
        const Column* species = nullptr;
        const Column* pos = nullptr;
        const Column* z = nullptr;
        std::size_t ncolumns = 0;
        for (const Column& c : columns) {
            if (c.name == "species") {
                if (c.type != 'S' || c.count != 1) throw std::invalid_argument("Properties: species must be S:1");
                species = &c;
            } else if (c.name == "pos") {
                if (c.type != 'R' || c.count != 3) throw std::invalid_argument("Properties: pos must be R:3");
                pos = &c;
            } else if (c.name == "Z") {
                if (c.type != 'I' || c.count != 1) throw std::invalid_argument("Properties: Z must be I:1");
                z = &c;
            }
            ncolumns += static_cast<std::size_t>(c.count);
        }
        if (pos == nullptr) throw std::invalid_argument("missing 'pos' in Properties");
        if (species == nullptr && z == nullptr) throw std::invalid_argument("Properties has neither species nor Z");

        // Every value takes at least a byte: refuse column counts the rest of the file cannot hold before
        // allocating for them (the allocations then stay below 8 x the file size).
        if (natoms_ > 0 && ncolumns > lines_.bytes_left() / natoms_)
            throw std::invalid_argument("truncated frame: " + std::to_string(natoms_) + " atoms x " +
                                        std::to_string(ncolumns) + " columns (Properties) announced, only " +
                                        std::to_string(lines_.bytes_left()) + " bytes left in the file");
        const auto n = static_cast<Eigen::Index>(natoms_);
        Structure& s = frame.structure;
        s.positions.resize(n, 3);
        s.numbers.resize(natoms_);
        frame.symbols.resize(natoms_);
        for (const Column& c : columns)
            if ((c.type == 'R' || c.type == 'I') && &c != pos && &c != z) frame.arrays[c.name].resize(n, c.count);

        std::vector<long long> z_values(z != nullptr ? natoms_ : 0);
        std::vector<std::string_view> words;
        std::string_view line;
        for (std::size_t i = 0; i < natoms_; ++i) {
            if (!lines_.next(line))
                throw std::invalid_argument("truncated frame: file ends after " + std::to_string(i) + " of " +
                                            std::to_string(natoms_) + " atom lines");
            split_words(line, words);
            if (words.size() != ncolumns)
                fail_at_line("expected " + std::to_string(ncolumns) + " columns (Properties), found " +
                             std::to_string(words.size()));
            std::size_t w = 0;
            for (const Column& c : columns) {
                if (&c == species) {
                    frame.symbols[i] = std::string(words[w]);
                    try {
                        s.numbers[i] = atomic_number(frame.symbols[i]);
                    } catch (const std::invalid_argument& e) {
                        fail_at_line(e.what());
                    }
                } else if (&c == z) {
                    if (!parse_long(words[w], z_values[i]))
                        fail_at_line("bad integer " + quote_excerpt(words[w]) + " in column 'Z'");
                } else if (c.type == 'R' || c.type == 'I') {
                    double* row = &c == pos ? s.positions.row(static_cast<Eigen::Index>(i)).data()
                                            : frame.arrays[c.name].row(static_cast<Eigen::Index>(i)).data();
                    for (int k = 0; k < c.count; ++k) {
                        const std::string_view word = words[w + static_cast<std::size_t>(k)];
                        if (c.type == 'R') {
                            if (!parse_double(word, row[k]))
                                fail_at_line("bad number " + quote_excerpt(word) + " in column " + quote_excerpt(c.name));
                        } else {
                            long long v = 0;
                            if (!parse_long(word, v))
                                fail_at_line("bad integer " + quote_excerpt(word) + " in column " + quote_excerpt(c.name));
                            row[k] = static_cast<double>(v);
                        }
                        if (&c == pos && !std::isfinite(row[k]))
                            fail_at_line("non-finite position " + quote_excerpt(word));
                    }
                } else {
                    for (int k = 0; k < c.count; ++k) {
                        bool b = false;
                        if (c.type == 'L' && !parse_bool(words[w + static_cast<std::size_t>(k)], b))
                            fail_at_line("bad logical " + quote_excerpt(words[w + static_cast<std::size_t>(k)]) +
                                         " in column " + quote_excerpt(c.name));
                    }
                }
                w += static_cast<std::size_t>(c.count);
            }
        }
        if (z == nullptr) return;
        for (std::size_t i = 0; i < natoms_; ++i) {
            if (species == nullptr) {
                try {
                    frame.symbols[i] = chemical_symbol(static_cast<int>(std::clamp<long long>(z_values[i], 0, 1000)));
                } catch (const std::invalid_argument& e) {
                    throw std::invalid_argument("atom " + std::to_string(i) + ": " + e.what());
                }
                s.numbers[i] = static_cast<int>(z_values[i]);
            } else if (z_values[i] != s.numbers[i]) {
                throw std::invalid_argument("atom " + std::to_string(i) + ": Z=" + std::to_string(z_values[i]) +
                                            " disagrees with species " + quote_excerpt(frame.symbols[i]));
            }
        }
    }

    LineReader& lines_;
    std::size_t natoms_;
};

// Shortest text that reads back as the same double ("4", "0.1", "-1.2345678901234567e-05").
void append_number(std::string& out, double x) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
    (void)ec;  // 32 characters always suffice for a double
    out.append(buf, end);
}

bool needs_quotes(const std::string& s) {
    for (char c : s)
        if (is_space(c) || c == '=' || c == '"' || c == '\'' || c == '\\' || c == '{' || c == '[' || c == '}' || c == ']')
            return true;
    return false;
}

void append_value(std::string& out, const std::string& value) {
    if (!needs_quotes(value)) {
        out += value;
        return;
    }
    out += '"';
    for (char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

void check_writable(const ExtxyzFrame& frame, std::size_t index) {
    const std::string where = "write_extxyz: frame " + std::to_string(index) + " (0-based): ";
    const Structure& s = frame.structure;
    const auto n = static_cast<Eigen::Index>(s.numbers.size());
    if (s.positions.rows() != n)
        throw std::invalid_argument(where + std::to_string(s.positions.rows()) + " positions for " +
                                    std::to_string(n) + " atomic numbers");
    if (!s.positions.allFinite() || !s.cell.allFinite())
        throw std::invalid_argument(where + "non-finite position or cell");
    for (const auto& [key, value] : frame.info) {
        if (key.empty() || needs_quotes(key) || key == "Lattice" || key == "Properties" || key == "pbc")
            throw std::invalid_argument(where + "info key '" + key + "' cannot be written");
        // ASE's reader cannot parse key="" followed by more pairs.
        if (value.empty()) throw std::invalid_argument(where + "info key '" + key + "' has an empty value");
        for (char c : value)
            if (c == '\n' || c == '\r') throw std::invalid_argument(where + "info key '" + key + "' contains a newline");
    }
    for (const auto& [name, array] : frame.arrays) {
        if (name.empty() || needs_quotes(name) || name.find(':') != std::string::npos || name == "species" ||
            name == "pos" || name == "Z")
            throw std::invalid_argument(where + "array name '" + name + "' cannot be written");
        if (array.rows() != n || array.cols() < 1)
            throw std::invalid_argument(where + "array '" + name + "' is " + std::to_string(array.rows()) + " x " +
                                        std::to_string(array.cols()) + " for " + std::to_string(n) + " atoms");
    }
}

}  // namespace

std::vector<ExtxyzFrame> read_extxyz(const std::string& path) {
    const std::string text = read_whole_file(path);
    LineReader lines(text);
    std::vector<ExtxyzFrame> frames;
    std::string_view line;
    while (lines.next(line)) {
        const std::size_t index = frames.size();
        const std::string where = path + ": frame " + std::to_string(index) + " (0-based), ";
        const std::string_view count_text = trim(line);
        if (count_text.empty()) {
            if (lines.only_whitespace_left()) break;
            throw std::runtime_error(where + "line " + std::to_string(lines.line_number()) +
                                     ": empty line where the atom count should be");
        }
        long long natoms = -1;
        if (!parse_long(count_text, natoms) || natoms < 0)
            throw std::runtime_error(where + "line " + std::to_string(lines.line_number()) + ": bad atom count " +
                                     quote_excerpt(count_text));
        std::string_view comment;
        if (!lines.next(comment)) throw std::runtime_error(where + "truncated frame: file ends before the comment line");
        // Every atom line takes at least 2 bytes: refuse absurd counts before allocating for them.
        if (static_cast<unsigned long long>(natoms) > lines.bytes_left() / 2)
            throw std::runtime_error(where + "truncated frame: " + std::to_string(natoms) + " atoms announced, only " +
                                     std::to_string(lines.bytes_left()) + " bytes left in the file");
        try {
            FrameParser parser(lines, static_cast<std::size_t>(natoms));
            frames.push_back(parser.parse(comment));
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(where + e.what());
        }
    }
    return frames;
}

void require_periodicity_given(const std::vector<ExtxyzFrame>& frames, const std::string& path) {
    for (std::size_t f = 0; f < frames.size(); ++f)
        if (!frames[f].periodicity_given)
            throw std::runtime_error(path + ": frame " + std::to_string(f) +
                                     " (0-based) has no cell (no Lattice=, pbc= or i-PI CELL comment) and would be "
                                     "computed as an isolated cluster; add its Lattice=, or mark a cluster with "
                                     "pbc=\"F F F\" (or the command's --clusters)");
}

void write_extxyz(const std::string& path, const std::vector<ExtxyzFrame>& frames) {
    for (std::size_t f = 0; f < frames.size(); ++f) check_writable(frames[f], f);
    write_file_atomically(path, [&](std::ostream& out) {
        std::string text;
        for (const ExtxyzFrame& frame : frames) {
            const Structure& s = frame.structure;
            text.clear();
            text += std::to_string(s.numbers.size());
            text += '\n';
            if (!s.cell.isZero(0.0) || s.any_periodic()) {
                text += "Lattice=\"";
                for (int k = 0; k < 9; ++k) {
                    if (k > 0) text += ' ';
                    append_number(text, s.cell(k / 3, k % 3));
                }
                text += "\" ";
            }
            text += "Properties=species:S:1:pos:R:3";
            for (const auto& [name, array] : frame.arrays) text += ":" + name + ":R:" + std::to_string(array.cols());
            for (const auto& [key, value] : frame.info) {
                text += ' ';
                text += key;
                text += '=';
                append_value(text, value);
            }
            text += " pbc=\"";
            text += s.pbc[0] ? 'T' : 'F';
            text += s.pbc[1] ? " T" : " F";
            text += s.pbc[2] ? " T" : " F";
            text += "\"\n";
            for (std::size_t i = 0; i < s.numbers.size(); ++i) {
                const auto row = static_cast<Eigen::Index>(i);
                text += chemical_symbol(s.numbers[i]);
                for (int k = 0; k < 3; ++k) {
                    text += ' ';
                    append_number(text, s.positions(row, k));
                }
                for (const auto& entry : frame.arrays)
                    for (Eigen::Index k = 0; k < entry.second.cols(); ++k) {
                        text += ' ';
                        append_number(text, entry.second(row, k));
                    }
                text += '\n';
            }
            out << text;
        }
    });
}

double info_double(const ExtxyzFrame& frame, const std::string& key, const std::string& path,
                   std::size_t frame_index) {
    const std::vector<double> values = info_doubles(frame, key, path, frame_index);
    if (values.size() != 1)
        throw std::runtime_error(path + ": frame " + std::to_string(frame_index) + " (0-based): info key '" + key +
                                 "' should be one number, has " + std::to_string(values.size()));
    return values[0];
}

std::vector<double> info_doubles(const ExtxyzFrame& frame, const std::string& key, const std::string& path,
                                 std::size_t frame_index) {
    const std::string where = path + ": frame " + std::to_string(frame_index) + " (0-based): ";
    const auto it = frame.info.find(key);
    if (it == frame.info.end()) throw std::runtime_error(where + "missing info key '" + key + "'");
    std::vector<std::string_view> words;
    split_words(it->second, words);
    std::vector<double> values(words.size());
    for (std::size_t k = 0; k < words.size(); ++k)
        if (!parse_double(words[k], values[k]) || !std::isfinite(values[k]))
            throw std::runtime_error(where + "info key '" + key + "' is not a finite number: " + quote_excerpt(it->second));
    return values;
}

std::string format_info_numbers(const double* values, int n) {
    std::string out;
    char buf[32];
    for (int k = 0; k < n; ++k) {
        std::snprintf(buf, sizeof buf, "%.17g", values[k]);
        if (k) out += ' ';
        out += buf;
    }
    return out;
}

}  // namespace gapd
