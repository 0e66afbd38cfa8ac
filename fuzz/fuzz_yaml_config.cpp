// Fuzz target: `--config FILE` expansion (server/cli/yaml_config.cpp) on arbitrary file contents (YAML, garbage,
// non-UTF-8). Errors must be std::runtime_error naming the file; on success the subcommand stays in front, the
// real command-line options are kept, and the file adds only `--name[=value]` options (never a positional).

#include "fuzz_common.hpp"
#include "server/cli/yaml_config.hpp"

#include <CLI/CLI.hpp>

namespace {

// A command with every kind of option the real ones have (text, integer, number, flag, list, positional with
// a name), so that the fuzzer needs no model code.
CLI::App& command_tree() {
    static CLI::App app;
    static bool built = false;
    static std::string model, address, input;
    static int threads = 0;
    static double timeout = 0;
    static bool unix_socket = false, verbose = false;
    static std::vector<std::string> extras;
    if (!built) {
        CLI::App* serve = app.add_subcommand("serve");
        serve->add_option("-m,--model", model);
        serve->add_option("input,--input", input);
        serve->add_option("-a,--address", address);
        serve->add_option("--threads", threads);
        serve->add_option("--connect-timeout", timeout);
        serve->add_option("--extras", extras);
        serve->add_flag("-u,--unix", unix_socket);
        serve->add_flag("-v,--verbose", verbose);
        gapd::add_config_option(serve);
        built = true;
    }
    return app;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const gapd::fuzz::ScratchFile input("config.yaml");
    const std::string& path = input.write(data, size);
    const std::vector<std::string> args = {"gapd", "serve", "--config", path, "--verbose"};
    std::vector<std::string> out;
    try {
        out = gapd::expand_yaml_config(command_tree(), args);
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).find(path) == std::string::npos) {
            std::fprintf(stderr, "error does not name the file: %s\n", e.what());
            gapd::fuzz::invariant_failed("error message without the file name");
        }
        return 0;
    }
    if (out.size() < 3 || out[0] != "gapd" || out[1] != "serve" || out[2] != "--verbose")
        gapd::fuzz::invariant_failed("expanded arguments out of order");
    for (std::size_t k = 2; k < out.size(); ++k)
        if (out[k].rfind("--", 0) != 0) gapd::fuzz::invariant_failed("config produced a positional argument");
    return 0;
}
