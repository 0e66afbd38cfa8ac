#pragma once
// `--config FILE.yaml`: a YAML mapping whose keys are the long option names of the subcommand
// (e.g. `model: m.gapd`, `address: batio3`, `unix: true`, `threads: 2`). It is turned into command-line
// arguments placed before the real ones, so that options given on the command line win.

#include <string>
#include <vector>

namespace gapd {

// Returns argv with every `--config FILE` / `--config=FILE` replaced by the options the file holds.
// Throws std::runtime_error naming the file and key on unreadable YAML or a non-scalar value.
std::vector<std::string> expand_yaml_config(const std::vector<std::string>& args);

}  // namespace gapd
