#include "server/serve/template_structure.hpp"

#include "models/core/elements.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gapd {

std::vector<int> read_template_numbers(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot open template structure file: " + std::strerror(errno));
    std::string line;
    if (!std::getline(in, line)) throw std::runtime_error(path + ": template structure file is empty");
    long natoms = -1;
    {
        std::istringstream first(line);
        if (!(first >> natoms) || natoms <= 0 || natoms > 10000000)
            throw std::runtime_error(path + ": line 1 must hold the number of atoms (got '" + line + "')");
    }
    std::getline(in, line);  // comment line: free text is fine, only the species matter here
    std::vector<int> numbers;
    numbers.reserve(natoms);
    for (long k = 0; k < natoms; ++k) {
        if (!std::getline(in, line))
            throw std::runtime_error(path + ": template has " + std::to_string(k) + " atom lines, expected " +
                                     std::to_string(natoms));
        std::istringstream atom(line);
        std::string symbol;
        atom >> symbol;
        try {
            numbers.push_back(atomic_number(symbol));
        } catch (const std::exception&) {
            throw std::runtime_error(path + ": line " + std::to_string(k + 3) + ": unknown chemical symbol '" +
                                     symbol + "'");
        }
    }
    return numbers;
}

}  // namespace gapd
