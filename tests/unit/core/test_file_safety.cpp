// Issue #18: outputs that are inputs, file modes on replacement, non-regular input files, bounded quoting.
#include "models/core/atomic_file_write.hpp"
#include "models/core/regular_file.hpp"
#include "models/core/same_file.hpp"
#include "models/core/text_excerpt.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

using namespace gapd;
using gapd::testing::TempDir;
using gapd::testing::read_bytes;
using gapd::testing::write_bytes;

namespace {

mode_t mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void write_text(const std::string& path, const std::string& text) {
    write_file_atomically(path, [&](std::ostream& out) { out << text; });
}

}  // namespace

TEST_CASE("same_file: other spellings, symbolic and hard links of one file are the same file") {
    TempDir dir("gapd_same");
    std::filesystem::create_directory(dir.file("sub"));
    const std::string in = dir.file("in.xyz");
    write_bytes(in, "labels");
    std::filesystem::create_symlink(in, dir.file("link.xyz"));
    std::filesystem::create_hard_link(in, dir.file("hard.xyz"));
    write_bytes(dir.file("other.xyz"), "labels");

    CHECK(same_file(in, in));
    CHECK(same_file(in, dir.file("sub/../in.xyz")));
    CHECK(same_file(in, dir.path + "/./in.xyz"));
    CHECK(same_file(in, dir.file("link.xyz")));
    CHECK(same_file(in, dir.file("hard.xyz")));
    CHECK_FALSE(same_file(in, dir.file("other.xyz")));  // same content, another file
    CHECK_FALSE(same_file(in, dir.file("missing.xyz")));
    CHECK_FALSE(same_file(in, ""));

    const std::string refusal = "refusing to write over the input file " + in;
    for (const char* spelling : {"in.xyz", "sub/../in.xyz", "link.xyz", "hard.xyz"}) {
        CAPTURE(spelling);
        CHECK_THROWS_WITH_AS(refuse_output_over_input(dir.file(spelling), {"", in}),
                             doctest::Contains(refusal.c_str()), std::runtime_error);
    }
    CHECK_NOTHROW(refuse_output_over_input(dir.file("other.xyz"), {in}));
    CHECK_NOTHROW(refuse_output_over_input(dir.file("new.xyz"), {in}));
    CHECK(read_bytes(in) == "labels");
}

TEST_CASE("write_file_atomically: a replaced file keeps its mode; a read-only file is not replaced") {
    TempDir dir("gapd_mode");
    const std::string path = dir.file("out.txt");
    write_bytes(path, "old");

    SUBCASE("0600 stays 0600") {
        REQUIRE(::chmod(path.c_str(), 0600) == 0);
        write_text(path, "new");
        CHECK(read_bytes(path) == "new");
        CHECK(mode_of(path) == 0600);
    }
    SUBCASE("0640 stays 0640") {
        REQUIRE(::chmod(path.c_str(), 0640) == 0);
        write_text(path, "new");
        CHECK(mode_of(path) == 0640);
    }
    SUBCASE("0444 is refused (even for root), untouched, no temporary file left") {
        REQUIRE(::chmod(path.c_str(), 0444) == 0);
        CHECK_THROWS_WITH_AS(write_text(path, "new"), doctest::Contains("read-only (mode 0444)"), std::runtime_error);
        CHECK(read_bytes(path) == "old");
        CHECK(mode_of(path) == 0444);
        CHECK(dir.listing() == std::vector<std::string>{"out.txt"});
    }
    SUBCASE("a directory is not replaced") {
        CHECK_THROWS_WITH_AS(write_text(dir.path, "new"), doctest::Contains("is a directory"), std::runtime_error);
    }
}

TEST_CASE("require_regular_file: FIFO, directory and missing files are named, never opened") {
    TempDir dir("gapd_kind");
    const std::string fifo = dir.file("model.fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // Opening a FIFO with no writer would block this test for ever: the check must not open it.
    const std::string fifo_error = fifo + ": cannot read model file: it is a FIFO (named pipe)";
    CHECK_THROWS_WITH_AS(require_regular_file(fifo, "model file"), doctest::Contains(fifo_error.c_str()),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(require_regular_file(dir.path, "template structure file"),
                         doctest::Contains("it is a directory, not a regular file"), std::runtime_error);
    CHECK_THROWS_WITH_AS(require_regular_file(dir.file("missing"), "model file"),
                         doctest::Contains("No such file or directory"), std::runtime_error);
    write_bytes(dir.file("ok"), "x");
    CHECK_NOTHROW(require_regular_file(dir.file("ok"), "model file"));
    std::filesystem::create_symlink(dir.file("ok"), dir.file("ok_link"));
    CHECK_NOTHROW(require_regular_file(dir.file("ok_link"), "model file"));
}

TEST_CASE("quote_excerpt: short, printable, with the total length of what was cut") {
    CHECK(quote_excerpt("abc") == "'abc'");
    CHECK(quote_excerpt(std::string("a\0b\n\t'\\\xff", 8)) == "'a\\x00b\\n\\t\\'\\\\\\xff'");
    const std::string huge(100'000'000, 'x');
    const std::string q = quote_excerpt(huge);
    CHECK(q.size() < 200);
    CHECK(q == "'" + std::string(kExcerptChars, 'x') + "...' (100000000 bytes in all)");
    const std::string binary(1000, '\x01');
    const std::string qb = quote_excerpt(binary);
    CHECK(qb.find('\x01') == std::string::npos);
    std::string twenty_escapes;  // 80 characters: 20 bytes shown as \x01
    for (int k = 0; k < 20; ++k) twenty_escapes += "\\x01";
    CHECK(qb == "'" + twenty_escapes + "...' (1000 bytes in all)");
    // Only the beginning of a line was kept: the total is what the caller says.
    CHECK(quote_excerpt("abc", kExcerptChars, 5000) == "'abc...' (5000 bytes in all)");
    CHECK(excerpt("[1, 2]") == "[1, 2]");
}
