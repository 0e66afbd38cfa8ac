// Issue #18: the template reader on garbage lines and on files that are not regular files.
#include "server/serve/template_structure.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <stdexcept>
#include <string>
#include <tuple>

using gapd::read_template_numbers;
using gapd::testing::TempDir;
using gapd::testing::write_bytes;

namespace {

std::string error_of(const std::string& path) {
    try {
        read_template_numbers(path);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("template: a 20 MB garbage line gives a short error with the line number and its length") {
    TempDir dir("gapd_tmpl");
    const std::string garbage(20'000'000, '\x01');
    for (const auto& [name, text, line] :
         {std::tuple<std::string, std::string, std::string>{"count.xyz", "1" + garbage + "\n", "line 1"},
          {"comment.xyz", "1\n" + garbage + "\nO 0 0 0\n", "line 2"},
          {"atom.xyz", "1\ncomment\nO" + garbage + "\n", "line 3"}}) {
        CAPTURE(name);
        const std::string path = dir.file(name);
        write_bytes(path, text);
        const std::string error = error_of(path);
        CHECK_MESSAGE(error.size() < path.size() + 300, error.substr(0, 300));
        CHECK_MESSAGE(contains(error, path + ": " + line), error);
        CHECK(error.find('\x01') == std::string::npos);
        CHECK_MESSAGE(contains(error, ": longer than the limit of 1048576 bytes"), error);
        CHECK_MESSAGE(contains(error, name == "comment.xyz" ? "...' (20000000 bytes in all)"
                                                            : "...' (20000001 bytes in all)"),
                      error);
    }
    // A long symbol within the limit: an excerpt of it.
    const std::string path = dir.file("symbol.xyz");
    write_bytes(path, "1\ncomment\n" + std::string(500'000, 'X') + " 0 0 0\n");
    const std::string error = error_of(path);
    CHECK_MESSAGE(contains(error, "line 3: unknown chemical symbol 'XXXX"), error);
    CHECK_MESSAGE(contains(error, "(500000 bytes in all)"), error);
}

TEST_CASE("template: a FIFO or a directory is refused without being opened") {
    TempDir dir("gapd_tmpl");
    const std::string fifo = dir.file("init.xyz");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(contains(error_of(fifo), "template structure file: it is a FIFO (named pipe)"));
    CHECK(contains(error_of(dir.path), "template structure file: it is a directory"));
}
