#include "models/core/elements.hpp"

#include "models/core/text_excerpt.hpp"

#include <array>
#include <stdexcept>

namespace gapd {

namespace {

constexpr std::array<const char*, 118> kSymbols = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar",
    "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs",
    "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

}  // namespace

int atomic_number(const std::string& symbol) {
    for (std::size_t k = 0; k < kSymbols.size(); ++k)
        if (symbol == kSymbols[k]) return static_cast<int>(k) + 1;
    throw std::invalid_argument("unknown chemical symbol " + quote_excerpt(symbol));
}

std::string chemical_symbol(int z) {
    if (z < 1 || z > static_cast<int>(kSymbols.size()))
        throw std::invalid_argument("no chemical element with atomic number " + std::to_string(z));
    return kSymbols[static_cast<std::size_t>(z - 1)];
}

}  // namespace gapd
