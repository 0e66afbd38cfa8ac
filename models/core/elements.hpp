#pragma once
// The periodic table, H (1) to Og (118): chemical symbols <-> atomic numbers. Symbols are case-sensitive
// ("Ba", not "BA").

#include <string>

namespace gapd {

int atomic_number(const std::string& symbol);  // throws std::invalid_argument for unknown symbols
std::string chemical_symbol(int z);            // throws std::invalid_argument outside 1..118

}  // namespace gapd
