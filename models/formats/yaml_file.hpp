#pragma once
// Reading YAML configuration files (gapd fit's configuration, every command's --config) so that a mistake is a
// one-line error naming the file, the line and the key, never a silently different reading: yaml-cpp alone
// lets the last of two equal keys win and reads an unterminated quote up to the end of the file.

#include <yaml-cpp/yaml.h>

#include <string>

namespace gapd {

// Loads `path`. Throws std::runtime_error naming the file: not a regular file (require_regular_file: a
// directory, a FIFO without writer would hang the program), cannot be opened (with strerror), YAML
// syntax errors (with the line), a key given twice in one mapping, a quoted value without its closing quote on
// the same line.
YAML::Node load_yaml_file(const std::string& path);

// "PATH: line N" for the line where `node` starts (1-based), or "PATH" when yaml-cpp has no position.
std::string yaml_location(const std::string& path, const YAML::Node& node);

// Plain (unquoted) scalars that YAML reads as a boolean (true/false/yes/no/on/off in any case) or as null
// (empty, ~, null): a text or number option given one of these is a mistake worth naming.
bool is_yaml_boolean(const YAML::Node& node);
bool is_yaml_null(const YAML::Node& node);

}  // namespace gapd
