#pragma once
// --max-pairs, shared by every command that builds neighbour lists of outside structures (serve, predict,
// eval, select): the bound on one structure's neighbour pairs (models/descriptors/neighbour_list.hpp).

namespace CLI {
class App;
}

namespace gapd {

// Registers --max-pairs on `cmd`; the option sets the process-wide neighbour-list limit when parsed.
void add_max_pairs_option(CLI::App* cmd);

}  // namespace gapd
