#pragma once
// `--config FILE.yaml`: a YAML mapping whose keys are the long option names of the subcommand, snake_case or
// hyphenated (`model: m.gapd`, `address: batio3`, `unix: true`, `threads: 2`, `sockets_prefix: /tmp/ipi_`,
// lists for options taking several values). It is turned into command-line arguments placed before the real
// ones, so that options given on the command line win. `gapd fit --config F` is gapd fit's own configuration
// (docs/fitting.md), read by the fit command itself.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace gapd {

// Returns argv with every `--config FILE` / `--config=FILE` replaced by the options the file holds. Throws
// std::runtime_error with one line naming the file, the line and the key: unknown key (with "did you mean"),
// a key given twice, a value of the wrong type (a boolean or nothing for a text option, text for a number,
// a list for a single-valued option, anything but true/false for a flag), YAML errors.
std::vector<std::string> expand_yaml_config(const CLI::App& app, const std::vector<std::string>& args);

// Adds the (documentation-only) `--config` option to a subcommand's --help: expand_yaml_config consumes it
// before CLI11 parses.
void add_config_option(CLI::App* cmd);

}  // namespace gapd
