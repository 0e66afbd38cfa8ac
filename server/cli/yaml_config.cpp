#include "server/cli/yaml_config.hpp"

#include "models/core/closest_name.hpp"
#include "models/core/text_excerpt.hpp"
#include "models/formats/yaml_file.hpp"
#include "server/cli/option_checks.hpp"

#include <cerrno>
#include <stdexcept>

namespace gapd {

namespace {

std::string hyphenated(std::string key) {
    for (char& c : key)
        if (c == '_') c = '-';
    return key;
}

// What a value of this option must look like, from CLI11's type name ("INT", "UINT", "FLOAT", "TEXT", ...).
enum class ValueKind { Integer, Number, Text };

ValueKind value_kind(const CLI::Option& option) {
    const std::string type = option.get_type_name();
    if (type.rfind("INT", 0) == 0 || type.rfind("UINT", 0) == 0) return ValueKind::Integer;
    if (type.rfind("FLOAT", 0) == 0 || type.rfind("NUMBER", 0) == 0) return ValueKind::Number;
    return ValueKind::Text;
}

// One option from a config: "--name" and its values (none for a flag that is on).
struct ConfigEntry {
    std::string option;
    std::vector<std::string> values;
};

class ConfigReader {
public:
    ConfigReader(const std::string& path, const CLI::App& command, const std::string& command_name)
        : path_(path), command_(command), command_name_(command_name) {}

    std::vector<ConfigEntry> options() const {
        const YAML::Node root = load_yaml_file(path_);
        if (is_yaml_null(root)) return {};
        if (!root.IsMap())
            throw std::runtime_error(path_ + ": a config file must be a YAML mapping of option: value");
        std::vector<ConfigEntry> out;
        for (const auto& kv : root) {
            if (!kv.first.IsScalar())
                throw std::runtime_error(yaml_location(path_, kv.first) +
                                         ": keys must be option names, not lists or mappings");
            append(kv.first.Scalar(), kv.first, kv.second, out);
        }
        return out;
    }

private:
    [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& what) const {
        throw std::runtime_error(yaml_location(path_, at) + ": key " + quote_excerpt(key, 40) + ": " + what);
    }

    std::vector<std::string> long_names() const {
        std::vector<std::string> names;
        for (const CLI::Option* o : command_.get_options())
            for (const std::string& n : o->get_lnames())
                if (n != "help" && n != "config") names.push_back(n);
        return names;
    }

    void append(const std::string& key, const YAML::Node& key_node, const YAML::Node& value,
                std::vector<ConfigEntry>& out) const {
        const std::string name = hyphenated(key);
        const CLI::Option* option = name == "help" || name == "config" ? nullptr : command_.get_option_no_throw("--" + name);
        if (option == nullptr)
            fail(key_node, key, "not an option of gapd " + command_name_ + did_you_mean(name.substr(0, 100), long_names()) +
                                    "; 'gapd " + command_name_ + " --help' lists them");
        if (is_yaml_null(value)) fail(key_node, key, "has no value");
        if (option->get_expected_max() == 0) {  // a flag
            if (!is_yaml_boolean(value))
                fail(value, key, "is a flag: expects true or false, got " + text_of(value));
            const std::string v = value.Scalar();
            const std::string lower = CLI::detail::to_lower(v);
            if (lower == "true" || lower == "yes" || lower == "on") out.push_back({"--" + name, {}});
            return;
        }
        std::vector<YAML::Node> items;
        if (value.IsSequence()) {
            if (option->get_items_expected_max() <= 1)
                fail(value, key, "takes a single value, got a list");
            for (const auto& item : value) items.push_back(item);
            if (items.empty()) fail(value, key, "has an empty list");
        } else if (value.IsMap()) {
            fail(value, key, "takes " + expected(*option) + ", got a mapping");
        } else {
            items.push_back(value);
        }
        ConfigEntry entry{"--" + name, {}};
        for (const YAML::Node& item : items) {
            if (!item.IsScalar()) fail(item, key, "takes " + expected(*option) + ", got a nested list or mapping");
            if (is_yaml_boolean(item))
                fail(item, key, "takes " + expected(*option) + ", got the boolean " + quote_excerpt(item.Scalar()) +
                                    " (quote it if the text is meant)");
            if (is_yaml_null(item)) fail(item, key, "has an empty value");
            const std::string v = item.Scalar();
            const ValueKind kind = value_kind(*option);
            long long integer = 0;
            double number = 0;
            if ((kind == ValueKind::Integer && !parse_integer(v, integer)) ||
                (kind == ValueKind::Number && !parse_number(v, number)))
                fail(item, key, "takes " + expected(*option) + ", got " + quote_excerpt(v));
            entry.values.push_back(v);
        }
        out.push_back(std::move(entry));
    }

    static std::string text_of(const YAML::Node& n) { return n.IsScalar() ? quote_excerpt(n.Scalar()) : "a list or mapping"; }

    static std::string expected(const CLI::Option& option) {
        switch (value_kind(option)) {
            case ValueKind::Integer: return "an integer";
            case ValueKind::Number: return "a number";
            case ValueKind::Text: break;
        }
        return "text (a file name or word)";
    }

    const std::string& path_;
    const CLI::App& command_;
    const std::string& command_name_;
};

}  // namespace

void add_config_option(CLI::App* cmd) {
    // Never set: expand_yaml_config removes --config before CLI11 parses; this only documents it in --help.
    static std::string unused;
    cmd->add_option("--config", unused,
                    "YAML file of option: value pairs for this command (long names, snake_case or hyphenated; "
                    "lists for repeated options); the command line wins over it (docs/cli.md)");
}

std::vector<std::string> expand_yaml_config(const CLI::App& app, const std::vector<std::string>& args) {
    // argv[0], the subcommand, then the rest; `gapd fit --config` is the fit configuration, not CLI options.
    const std::string command_name = args.size() > 1 ? args[1] : "";
    const CLI::App* command = nullptr;
    for (const CLI::App* sub : app.get_subcommands({}))
        if (sub->get_name() == command_name) command = sub;
    if (command_name == "fit") return args;
    std::vector<std::string> rest, paths;
    for (std::size_t k = 0; k < args.size(); ++k) {
        const std::string& a = args[k];
        if (a == "--config") {
            if (k + 1 >= args.size()) throw std::runtime_error("--config needs a file name");
            paths.push_back(args[++k]);
        } else if (a.rfind("--config=", 0) == 0) {
            paths.push_back(a.substr(9));
        } else {
            rest.push_back(a);
        }
    }
    if (paths.empty()) return rest;
    if (command == nullptr) throw std::runtime_error("--config must follow a command (gapd COMMAND --config FILE)");
    // Options the command line gives win: their config entries are dropped. The rest go after the command line
    // as `--name=value` (a list option placed before a positional argument would swallow it).
    auto on_command_line = [&](const std::string& name) {
        const CLI::Option* option = command->get_option_no_throw(name);
        for (std::size_t k = 2; k < rest.size(); ++k) {
            const std::string& a = rest[k];
            if (a == "--") break;
            if (a.rfind("--", 0) == 0) {
                if (option->check_lname(a.substr(2, a.find('=') - 2))) return true;
            } else if (a.size() >= 2 && a[0] == '-' && option->check_sname(a.substr(1, 1))) {
                return true;
            }
        }
        return false;
    };
    std::vector<std::string> out = rest;
    for (const std::string& path : paths) {
        for (const ConfigEntry& e : ConfigReader(path, *command, command_name).options()) {
            if (on_command_line(e.option)) continue;
            if (e.values.empty()) out.push_back(e.option);
            for (const std::string& v : e.values) out.push_back(e.option + "=" + v);
        }
    }
    return out;
}

}  // namespace gapd
