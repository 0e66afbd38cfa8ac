// gapd convert: any model file gapd reads -> gapd's native format (fast to load, readable with numpy).

#include "models/native_model_file.hpp"
#include "server/commands.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace gapd {

void add_convert_command(CLI::App& app, int& exit_code) {
    struct Options {
        std::string input, output;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand(
        "convert", "Convert a librascal model (dump_obj JSON, .json or .json.gz) or a gapd model to gapd's "
                   "native single-file format (docs/model_format.md). Numbers are copied bit for bit.");
    cmd->add_option("input", o->input, "Model file to read")->required()->check(CLI::ExistingFile);
    cmd->add_option("output", o->output, "Native model file to write (atomically)")->required();
    cmd->callback([o, &exit_code]() {
        std::cerr << "gapd: reading " << o->input << "\n";
        GapModel model = read_model_file(o->input);
        write_native_model(o->output, model);
        std::size_t points = 0;
        for (const auto& s : model.sparse) points += s.points.rows();
        std::cerr << "gapd: wrote " << o->output << " (" << points << " sparse environments, zeta " << model.zeta
                  << ")\n";
        exit_code = 0;
    });
}

}  // namespace gapd
