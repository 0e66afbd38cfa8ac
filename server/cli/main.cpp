// gapd: a SOAP-GAP force server for i-PI. See README.md and `gapd --help`.

#include "server/cli/commands.hpp"
#include "server/cli/yaml_config.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"gapd " GAPD_VERSION ": SOAP-GAP energies, forces and virial for i-PI (and anything that reads "
                 "extxyz).\nRun 'gapd COMMAND --help' for the options of each command."};
    app.set_version_flag("--version", GAPD_VERSION);
    app.require_subcommand(1);
    int exit_code = 0;
    gapd::add_serve_command(app, exit_code);
    gapd::add_predict_command(app, exit_code);
    gapd::add_bench_command(app, exit_code);
    gapd::add_convert_command(app, exit_code);
    gapd::add_fit_command(app, exit_code);
    gapd::add_eval_command(app, exit_code);
    gapd::add_select_command(app, exit_code);
    try {
        std::vector<std::string> args(argv, argv + argc);
        args = gapd::expand_yaml_config(app, args);
        std::vector<const char*> cargs;
        for (const auto& a : args) cargs.push_back(a.c_str());
        try {
            app.parse(static_cast<int>(cargs.size()), cargs.data());
        } catch (const CLI::ParseError& e) {
            return app.exit(e);
        }
    } catch (const std::exception& e) {
        std::cerr << "gapd: error: " << e.what() << "\n";
        return 1;
    }
    return exit_code;
}
