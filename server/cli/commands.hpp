#pragma once
// The gapd subcommands. Each add_* registers its options on the CLI and sets `exit_code` when it runs.

namespace CLI {
class App;
}

namespace gapd {

void add_serve_command(CLI::App& app, int& exit_code);
void add_predict_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, int& exit_code);
void add_convert_command(CLI::App& app, int& exit_code);
void add_fit_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_select_command(CLI::App& app, int& exit_code);

}  // namespace gapd
