// gapd's command line as a user meets it: --config files (every mistake a one-line error naming file, line and
// key), option validators that say what they want, and the same option names across commands.

#include "models/core/closest_name.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/option_checks.hpp"
#include "server/cli/yaml_config.hpp"
#include "test_files.hpp"

#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include <sys/stat.h>

using namespace gapd;
using namespace gapd::testing;

namespace {

// The real gapd command tree (every subcommand), as main() builds it.
struct GapdApp {
    CLI::App app;
    int exit_code = 0;
    GapdApp() {
        add_serve_command(app, exit_code);
        add_predict_command(app, exit_code);
        add_bench_command(app, exit_code);
        add_convert_command(app, exit_code);
        add_fit_command(app, exit_code);
        add_eval_command(app, exit_code);
        add_select_command(app, exit_code);
    }
    std::vector<std::string> expand(const std::vector<std::string>& args) { return expand_yaml_config(app, args); }
};

std::string config_error(const std::string& command, const std::string& text, TempDir& dir) {
    const std::string path = dir.file("c.yaml");
    write_bytes(path, text);
    GapdApp gapd;
    return failure_of([&] { gapd.expand({"gapd", command, "--config", path}); });
}

}  // namespace

TEST_CASE("config files: every misreading the YAML parser allows is a one-line error naming file, line and key") {
    TempDir dir;
    struct Case {
        std::string command, text, wanted;
    };
    const std::vector<Case> cases = {
        {"serve", "address: a\naddress: b\n", "line 2: key 'address' given twice (first on line 1)"},
        {"serve", "address: false\n", "line 1: key 'address': takes text (a file name or word), got the boolean 'false'"},
        {"serve", "model: true\n", "key 'model': takes text (a file name or word), got the boolean 'true'"},
        {"serve", "address: \"batio3 \nthreads: 2\n", "line 1: unterminated quote \""},
        {"serve", "threads: abc\n", "key 'threads': takes an integer, got 'abc'"},
        {"serve", "port: 3.5\n", "key 'port': takes an integer, got '3.5'"},
        {"serve", "modle: m.gapd\n", "key 'modle': not an option of gapd serve (did you mean 'model'?)"},
        {"serve", "unix: maybe\n", "key 'unix': is a flag: expects true or false, got 'maybe'"},
        {"serve", "model: [a, b]\n", "key 'model': takes a single value, got a list"},
        {"serve", "address:\n", "key 'address': has no value"},
        {"eval", "key_prefx: x_\n", "(did you mean 'key-prefix'?)"},
    };
    for (const Case& c : cases) {
        const std::string e = config_error(c.command, c.text, dir);
        INFO(c.text << " -> " << e);
        CHECK(e.find(dir.file("c.yaml")) == 0);
        CHECK(e.find(c.wanted) != std::string::npos);
        CHECK(e.find('\n') == std::string::npos);
    }
    // A directory and a FIFO are refused before opening (a FIFO without writer would block forever).
    GapdApp gapd;
    std::string e = failure_of([&] { gapd.expand({"gapd", "serve", "--config", dir.path}); });
    CHECK(e.rfind(dir.path + ": cannot read YAML config file: it is a directory", 0) == 0);
    REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
    e = failure_of([&] { gapd.expand({"gapd", "serve", "--config", dir.file("fifo")}); });
    CHECK(e.find("it is a FIFO") != std::string::npos);
    e = failure_of([&] { gapd.expand({"gapd", "serve", "--config", dir.file("missing.yaml")}); });
    CHECK(e == dir.file("missing.yaml") + ": cannot open: No such file or directory");
}

TEST_CASE("config files: snake_case or hyphenated keys, lists, positionals by name, and the command line wins") {
    TempDir dir;
    const std::string path = dir.file("c.yaml");
    write_bytes(path, "model: m.gapd\nsockets_prefix: /tmp/x_\nunix: true\nverbose: false\nthreads: 2\n");
    GapdApp gapd;
    std::vector<std::string> args = gapd.expand({"gapd", "serve", "--config", path, "--threads", "4", "-m", "other.gapd"});
    const std::vector<std::string> want = {"gapd", "serve", "--threads", "4", "-m", "other.gapd",
                                           "--sockets-prefix=/tmp/x_", "--unix"};
    CHECK(args == want);

    // gapd eval reads its model and data from a config too (the model was positional before).
    write_bytes(path, "model: m.gapd\ndata: test.extxyz\nkey_prefix: p_\n");
    args = gapd.expand({"gapd", "eval", "--config", path});
    CHECK(args == std::vector<std::string>{"gapd", "eval", "--model=m.gapd", "--data=test.extxyz", "--key-prefix=p_"});

    // A list option after the command line does not swallow positional arguments.
    write_bytes(path, "reference: [train.extxyz, test.extxyz]\ncount: 5\n");
    args = gapd.expand({"gapd", "select", "pool.extxyz", "--config", path, "-m", "m.gapd", "-o", "s.extxyz"});
    CHECK(args == std::vector<std::string>{"gapd", "select", "pool.extxyz", "-m", "m.gapd", "-o", "s.extxyz",
                                           "--reference=train.extxyz", "--reference=test.extxyz", "--count=5"});

    // gapd fit --config is fit's own nested configuration, passed through untouched.
    args = gapd.expand({"gapd", "fit", "--config", path});
    CHECK(args == std::vector<std::string>{"gapd", "fit", "--config", path});
}

TEST_CASE("every command takes the model as -m/--model and lists --config in its help") {
    GapdApp gapd;
    for (const char* name : {"serve", "predict", "bench", "convert", "eval", "select"}) {
        const CLI::App* cmd = gapd.app.get_subcommand(name);
        INFO(name);
        CHECK(cmd->get_option_no_throw("--model") != nullptr);
        CHECK(cmd->get_option_no_throw("-m") != nullptr);
        CHECK(cmd->get_option_no_throw("--config") != nullptr);
    }
    CHECK(gapd.app.get_subcommand("fit")->get_option_no_throw("--config") != nullptr);
    // The prediction key prefix has one name.
    CHECK(gapd.app.get_subcommand("predict")->get_option_no_throw("--key-prefix") != nullptr);
    CHECK(gapd.app.get_subcommand("eval")->get_option_no_throw("--key-prefix") != nullptr);
}

TEST_CASE("numeric option checks say what they want in a few words") {
    std::string text = "abc";
    CHECK(non_negative_integer()(text) == "expects an integer >= 0, got 'abc'");
    text = "-1";
    CHECK(positive_integer()(text) == "expects an integer >= 1, got '-1'");
    text = "3";
    CHECK(non_negative_integer()(text).empty());
    text = "2.5";
    CHECK(non_negative_number()(text).empty());
    text = "1e400";
    CHECK(!non_negative_number()(text).empty());
}

TEST_CASE("closest_name suggests plausible misspellings only") {
    CHECK(closest_name("modle", {"model", "threads"}) == "model");
    CHECK(closest_name("sockets_prefix", {"sockets-prefix", "port"}) == "sockets-prefix");
    CHECK(closest_name("zzzzzz", {"model", "threads"}).empty());
    CHECK(did_you_mean("thread", {"threads"}) == " (did you mean 'threads'?)");
}
