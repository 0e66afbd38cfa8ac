#include "server/cli/yaml_config.hpp"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

namespace gapd {

namespace {

std::vector<std::string> options_from_yaml(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw std::runtime_error(path + ": cannot read YAML config: " + e.what());
    }
    if (root.IsNull()) return {};
    if (!root.IsMap()) throw std::runtime_error(path + ": a config file must be a YAML mapping of option: value");
    std::vector<std::string> out;
    for (const auto& kv : root) {
        // A non-scalar key (`? [a, b] : c`) would otherwise escape as yaml-cpp's bare "bad conversion".
        if (!kv.first.IsScalar())
            throw std::runtime_error(path + ": line " + std::to_string(kv.first.Mark().line + 1) +
                                     ": keys must be option names, not lists or mappings");
        const std::string key = kv.first.as<std::string>();
        const YAML::Node& value = kv.second;
        if (!value.IsScalar())
            throw std::runtime_error(path + ": key '" + key + "' must have a single value (string, number or bool)");
        const std::string text = value.as<std::string>();
        if (text == "true" || text == "false") {  // flags: `unix: true` -> --unix, false -> nothing
            if (text == "true") out.push_back("--" + key);
        } else {
            out.push_back("--" + key + "=" + text);
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> expand_yaml_config(const std::vector<std::string>& args) {
    std::vector<std::string> from_files, rest;
    for (std::size_t k = 0; k < args.size(); ++k) {
        const std::string& a = args[k];
        std::string path;
        if (a == "--config") {
            if (k + 1 >= args.size()) throw std::runtime_error("--config needs a file name");
            path = args[++k];
        } else if (a.rfind("--config=", 0) == 0) {
            path = a.substr(9);
        } else {
            rest.push_back(a);
            continue;
        }
        for (auto& o : options_from_yaml(path)) from_files.push_back(std::move(o));
    }
    // Keep argv[0] and the subcommand name first, then config options, then the command line.
    std::vector<std::string> out;
    std::size_t head = std::min<std::size_t>(rest.size(), 2);
    out.insert(out.end(), rest.begin(), rest.begin() + head);
    out.insert(out.end(), from_files.begin(), from_files.end());
    out.insert(out.end(), rest.begin() + head, rest.end());
    return out;
}

}  // namespace gapd
