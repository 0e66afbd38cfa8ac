#include "models/formats/ipi_xyz_comment.hpp"

#include "models/core/text_excerpt.hpp"
#include "models/core/units.hpp"

#include <Eigen/LU>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace gapd {

namespace {

constexpr double kPi = 3.14159265358979323846;

bool is_bracket_open(char c) { return c == '(' || c == '[' || c == '{'; }
bool is_bracket_close(char c) { return c == ')' || c == ']' || c == '}'; }

enum class CellKind { Abc, H, GenH };

// Position of the numbers after `CELL(<kind>):`, or npos.
std::size_t find_cell_marker(std::string_view comment, CellKind& kind) {
    for (std::size_t at = comment.find("CELL"); at != std::string_view::npos; at = comment.find("CELL", at + 1)) {
        std::size_t i = at + 4;
        if (i >= comment.size() || !is_bracket_open(comment[i])) continue;
        ++i;
        const std::size_t name_start = i;
        while (i < comment.size() && !is_bracket_close(comment[i])) ++i;
        if (i + 1 >= comment.size() || comment[i + 1] != ':') continue;
        const std::string_view name = comment.substr(name_start, i - name_start);
        if (name == "abcABC") kind = CellKind::Abc;
        else if (name == "H") kind = CellKind::H;
        else if (name == "GENH") kind = CellKind::GenH;
        else throw std::invalid_argument("i-PI comment: unknown cell format CELL(" + excerpt(name, 20) + ")");
        return i + 2;
    }
    return std::string_view::npos;
}

std::vector<double> leading_numbers(std::string_view text, std::size_t want) {
    std::vector<double> out;
    std::size_t i = 0;
    while (out.size() < want) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        std::size_t end = i;
        while (end < text.size() && text[end] != ' ' && text[end] != '\t' && text[end] != '\r') ++end;
        if (end == i) break;
        const char* b = text.data() + i;
        if (*b == '+') ++b;
        double x = 0;
        const auto [p, ec] = std::from_chars(b, text.data() + end, x);
        if (ec != std::errc() || p != text.data() + end || !std::isfinite(x)) break;
        out.push_back(x);
        i = end;
    }
    return out;
}

// Å per unit of an i-PI length unit name (ipi/utils/units.py, the ones that occur in practice).
double angstrom_per(std::string_view unit, const char* what) {
    if (unit == "angstrom") return 1.0;
    if (unit == "atomic_unit" || unit.empty()) return units::kBohrInAngstrom;
    if (unit == "nanometer") return 10.0;
    if (unit == "picometer") return 0.01;
    throw std::invalid_argument(std::string("i-PI comment: ") + what + "{" + excerpt(unit, 20) +
                                "}: unknown length unit (angstrom, atomic_unit, nanometer, picometer)");
}

// The unit in `key{unit}`, or nullopt when the comment has no such hint.
std::optional<std::string_view> unit_hint(std::string_view comment, std::string_view key) {
    for (std::size_t at = comment.find(key); at != std::string_view::npos; at = comment.find(key, at + 1)) {
        const bool word_start = at == 0 || comment[at - 1] == ' ' || comment[at - 1] == '\t';
        const std::size_t open = at + key.size();
        if (!word_start || open >= comment.size() || comment[open] != '{') continue;
        const std::size_t close = comment.find('}', open);
        if (close == std::string_view::npos) continue;
        return comment.substr(open + 1, close - open - 1);
    }
    return std::nullopt;
}

Eigen::Matrix3d cell_from_abc(const std::vector<double>& p) {
    const double a = p[0], b = p[1], c = p[2];
    // Right angles exactly (cos(pi/2) in floating point is 6e-17): an orthorhombic cell stays diagonal.
    auto cos_deg = [](double deg) { return deg == 90.0 ? 0.0 : std::cos(deg * kPi / 180.0); };
    auto sin_deg = [](double deg) { return deg == 90.0 ? 1.0 : std::sin(deg * kPi / 180.0); };
    // i-PI's abc2h (upper-triangular h, lattice vectors as columns); Structure keeps them as rows.
    Eigen::Matrix3d h = Eigen::Matrix3d::Zero();
    h(0, 0) = a;
    h(0, 1) = b * cos_deg(p[5]);
    h(0, 2) = c * cos_deg(p[4]);
    h(1, 1) = b * sin_deg(p[5]);
    h(1, 2) = (b * c * cos_deg(p[3]) - h(0, 1) * h(0, 2)) / h(1, 1);
    h(2, 2) = std::sqrt(c * c - h(0, 2) * h(0, 2) - h(1, 2) * h(1, 2));
    return h.transpose();
}

}  // namespace

std::optional<IpiXyzComment> parse_ipi_xyz_comment(std::string_view comment) {
    CellKind kind = CellKind::Abc;
    const std::size_t numbers_at = find_cell_marker(comment, kind);
    if (numbers_at == std::string_view::npos) return std::nullopt;
    const std::size_t want = kind == CellKind::Abc ? 6 : 9;
    const std::vector<double> p = leading_numbers(comment.substr(numbers_at), want);
    const char* name = kind == CellKind::Abc ? "CELL(abcABC)" : kind == CellKind::H ? "CELL(H)" : "CELL(GENH)";
    if (p.size() != want)
        throw std::invalid_argument(std::string("i-PI comment: ") + name + " needs " + std::to_string(want) +
                                    " numbers, found " + std::to_string(p.size()));
    Eigen::Matrix3d cell;
    if (kind == CellKind::Abc) {
        cell = cell_from_abc(p);
    } else {
        Eigen::Matrix3d m;
        for (int k = 0; k < 9; ++k) m(k / 3, k % 3) = p[k];
        // CELL(H) is i-PI's h (lattice vectors as columns); CELL(GENH) lists them as rows (io_xyz.py: u = s . genh).
        cell = kind == CellKind::H ? Eigen::Matrix3d(m.transpose()) : m;
    }
    if (!cell.allFinite() || !(std::abs(cell.determinant()) > 0))
        throw std::invalid_argument(std::string("i-PI comment: ") + name + " describes a cell without volume");
    const auto cell_unit = unit_hint(comment, "cell");
    cell *= angstrom_per(cell_unit.value_or("atomic_unit"), "cell");
    // Positions: i-PI writes `positions{unit}` (or `x_centroid{unit}` for centroid trajectories). Its other
    // xyz trajectories (forces{...}, velocities{...}, ...) have the same layout but hold no structure.
    for (std::size_t open = comment.find('{'); open != std::string_view::npos; open = comment.find('{', open + 1)) {
        std::size_t start = open;
        while (start > 0 && comment[start - 1] != ' ' && comment[start - 1] != '\t') --start;
        const std::string_view key = comment.substr(start, open - start);
        if (!key.empty() && key != "cell" && key != "positions" && key != "x_centroid")
            throw std::invalid_argument("i-PI comment: this is an i-PI '" + excerpt(key, 20) +
                                        "' trajectory, not positions");
    }
    auto position_unit = unit_hint(comment, "positions");
    if (!position_unit) position_unit = unit_hint(comment, "x_centroid");
    const double scale = angstrom_per(position_unit.value_or("atomic_unit"), "positions");
    return IpiXyzComment{cell, scale};
}

}  // namespace gapd
