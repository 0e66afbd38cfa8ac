#include "server/cli/pair_limit_option.hpp"

#include "models/descriptors/neighbour_list.hpp"

#include <CLI/CLI.hpp>

#include <sstream>

namespace gapd {

void add_max_pairs_option(CLI::App* cmd) {
    const NeighbourListLimits defaults;
    std::ostringstream help;
    help << "Most neighbour pairs one structure may have, estimated from its density before anything is allocated ("
         << kNeighbourEntryBytes << " bytes each in the list, more in the descriptors). Default " << defaults.max_pairs
         << " (" << defaults.max_pairs * kNeighbourEntryBytes / 1e9
         << " GB; ~2 million BaTiO3 atoms at a 5.5 Å cutoff). Independently, more than "
         << defaults.max_pairs_per_atom << " neighbours per atom is always refused (a cell far too small: wrong "
         << "units or garbage)";
    cmd->add_option_function<double>(
           "--max-pairs",
           [](double max_pairs) {
               NeighbourListLimits limits = neighbour_list_limits();
               limits.max_pairs = max_pairs;
               set_neighbour_list_limits(limits);
           },
           help.str())
        ->check(CLI::PositiveNumber);
}

}  // namespace gapd
