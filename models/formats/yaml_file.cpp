#include "models/formats/yaml_file.hpp"

#include "models/core/regular_file.hpp"
#include "models/core/text_excerpt.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace gapd {

namespace {

std::string lowered(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A quoted scalar must close on its own line; yaml-cpp accepts `key: "abc` by reading to the end of the file.
void check_quote_closes(const std::string& path, const std::vector<std::string>& lines, const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0 || static_cast<std::size_t>(mark.line) >= lines.size()) return;
    const std::string& line = lines[static_cast<std::size_t>(mark.line)];
    if (mark.column < 0 || static_cast<std::size_t>(mark.column) >= line.size()) return;
    const char quote = line[static_cast<std::size_t>(mark.column)];
    if (quote != '"' && quote != '\'') return;
    for (std::size_t i = static_cast<std::size_t>(mark.column) + 1; i < line.size(); ++i) {
        if (quote == '"' && line[i] == '\\') {
            ++i;
        } else if (line[i] == quote) {
            if (quote == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
                ++i;  // '' is an escaped single quote
                continue;
            }
            return;
        }
    }
    throw std::runtime_error(yaml_location(path, node) + ": unterminated quote " + std::string(1, quote) +
                             " (a quoted value must end on its own line)");
}

void check_node(const std::string& path, const std::vector<std::string>& lines, const YAML::Node& node) {
    if (node.IsMap()) {
        std::map<std::string, int> seen;  // key -> 1-based line
        for (const auto& kv : node) {
            if (kv.first.IsScalar()) {
                const std::string key = kv.first.Scalar();
                const auto [it, fresh] = seen.emplace(key, kv.first.Mark().line + 1);
                if (!fresh)
                    throw std::runtime_error(yaml_location(path, kv.first) + ": key " + quote_excerpt(key, 40) +
                                             " given twice (first on line " + std::to_string(it->second) + ")");
            }
            check_node(path, lines, kv.second);
        }
    } else if (node.IsSequence()) {
        for (const auto& item : node) check_node(path, lines, item);
    } else if (node.IsScalar() && node.Tag() == "!") {
        check_quote_closes(path, lines, node);
    }
}

}  // namespace

YAML::Node load_yaml_file(const std::string& path) {
    require_regular_file(path, "YAML config file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open config: " + std::strerror(errno));
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        const std::string line = e.mark.line >= 0 ? ": line " + std::to_string(e.mark.line + 1) : "";
        throw std::runtime_error(path + line + ": not valid YAML: " + e.msg);
    }
    std::vector<std::string> lines;
    std::istringstream split(text);
    for (std::string line; std::getline(split, line);) lines.push_back(line);
    check_node(path, lines, root);
    return root;
}

std::string yaml_location(const std::string& path, const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    return mark.line >= 0 ? path + ": line " + std::to_string(mark.line + 1) : path;
}

bool is_yaml_boolean(const YAML::Node& node) {
    if (!node.IsScalar() || node.Tag() == "!") return false;
    const std::string v = lowered(node.Scalar());
    return v == "true" || v == "false" || v == "yes" || v == "no" || v == "on" || v == "off";
}

bool is_yaml_null(const YAML::Node& node) {
    if (node.IsNull()) return true;
    if (!node.IsScalar() || node.Tag() == "!") return false;
    const std::string v = lowered(node.Scalar());
    return v.empty() || v == "~" || v == "null";
}

}  // namespace gapd
