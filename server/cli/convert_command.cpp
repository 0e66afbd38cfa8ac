// gapd convert: any model file gapd reads -> gapd's native format (fast to load, readable with numpy),
// optionally merging in the dipole model of another file (one file with both sections).

#include "models/core/same_file.hpp"
#include "models/formats/model_file.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/yaml_config.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <stdexcept>

namespace gapd {

void add_convert_command(CLI::App& app, int& exit_code) {
    struct Options {
        std::string input, output, dipole_model;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand(
        "convert", "Convert a librascal model (dump_obj JSON, .json or .json.gz) or a gapd model to gapd's "
                   "native single-file format (docs/model_format.md). Numbers are copied bit for bit.");
    cmd->add_option("-m,--model", o->input, "Model file to read")->required()->check(CLI::ExistingFile);
    cmd->add_option("-o,--output", o->output, "Native model file to write (atomically)")->required();
    cmd->add_option("--dipole-model", o->dipole_model,
                    "Native file whose dipole model is written into the output too (replacing any of the input)")
        ->check(CLI::ExistingFile);
    add_config_option(cmd);
    cmd->callback([o, &exit_code]() {
        refuse_output_over_input(o->output, {o->input, o->dipole_model});
        std::cerr << "gapd: reading " << o->input << "\n";
        ModelFileContents contents = read_model_file_contents(o->input);
        if (!o->dipole_model.empty()) {
            ModelFileContents dipole = read_model_file_contents(o->dipole_model);
            if (!dipole.dipole) throw std::runtime_error(o->dipole_model + ": holds no dipole model");
            contents.dipole = std::move(dipole.dipole);
        }
        write_native_model(o->output, contents);
        std::cerr << "gapd: wrote " << o->output << " (";
        if (contents.gap) {
            std::size_t points = 0;
            for (const auto& s : contents.gap->sparse) points += s.points.rows();
            std::cerr << "GAP: " << points << " sparse environments, zeta " << contents.gap->zeta;
        }
        if (contents.dipole) {
            std::size_t points = 0;
            for (const auto& s : contents.dipole->sparse) points += s.points.rows();
            std::cerr << (contents.gap ? "; " : "") << "dipoles: " << points << " sparse environments";
        }
        std::cerr << ")\n";
        exit_code = 0;
    });
}

}  // namespace gapd
