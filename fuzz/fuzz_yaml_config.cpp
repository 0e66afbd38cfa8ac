// Fuzz target: `--config FILE` expansion (server/cli/yaml_config.cpp) on arbitrary file contents (YAML, garbage,
// non-UTF-8). Errors must be std::runtime_error naming the file; on success the subcommand stays in front
// and the real command-line options stay last (they win over the file).

#include "fuzz_common.hpp"
#include "server/cli/yaml_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const gapd::fuzz::ScratchFile input("config.yaml");
    const std::string& path = input.write(data, size);
    const std::vector<std::string> args = {"gapd", "serve", "--config", path, "--verbose"};
    std::vector<std::string> out;
    try {
        out = gapd::expand_yaml_config(args);
    } catch (const std::runtime_error& e) {
        if (std::string(e.what()).find(path) == std::string::npos) {
            std::fprintf(stderr, "error does not name the file: %s\n", e.what());
            gapd::fuzz::invariant_failed("error message without the file name");
        }
        return 0;
    }
    if (out.size() < 3 || out[0] != "gapd" || out[1] != "serve" || out.back() != "--verbose")
        gapd::fuzz::invariant_failed("expanded arguments out of order");
    for (std::size_t k = 2; k + 1 < out.size(); ++k)
        if (out[k].rfind("--", 0) != 0) gapd::fuzz::invariant_failed("config produced a positional argument");
    return 0;
}
