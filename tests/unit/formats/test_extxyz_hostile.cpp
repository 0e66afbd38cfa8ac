// Issue #18: the extxyz reader quotes garbage by short excerpts only, and refuses non-regular files.
#include "models/formats/extxyz.hpp"
#include "test_files.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <stdexcept>
#include <string>
#include <tuple>

using gapd::read_extxyz;
using gapd::testing::TempDir;
using gapd::testing::write_bytes;

namespace {

std::string error_of(const std::string& path) {
    try {
        read_extxyz(path);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("extxyz: garbage of 20 MB in any field is quoted by an excerpt with its length") {
    TempDir dir("gapd_xyz");
    const std::string garbage(20'000'000, '\xff');
    const std::string lattice = "Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:q:L:1";
    for (const auto& [name, text, mention] :
         {std::tuple<std::string, std::string, std::string>{"count", garbage + "\n", "bad atom count '\\xff\\xff"},
          {"number", "1\n" + lattice + "\nO 0 " + garbage + " 0 T\n", "bad number '\\xff"},
          {"species", "1\n" + lattice + "\n" + garbage + " 0 0 0 T\n", "unknown chemical symbol '\\xff"},
          {"logical", "1\n" + lattice + "\nO 0 0 0 " + garbage + "\n", "bad logical '\\xff"},
          {"lattice", "1\nLattice=\"" + garbage + " 0 0 0 4 0 0 0 4\"\nO 0 0 0\n", "bad number '\\xff"},
          {"pbc", "1\npbc=\"" + garbage + "\"\nO 0 0 0\n", "pbc='\\xff"},
          {"properties", "1\nProperties=" + garbage + "\nO 0 0 0\n", "Properties='\\xff"}}) {
        CAPTURE(name);
        const std::string path = dir.file(name + ".extxyz");
        write_bytes(path, text);
        const std::string error = error_of(path);
        CHECK_MESSAGE(error.size() < path.size() + 400, error.substr(0, 400));
        CHECK_MESSAGE(contains(error, mention), error.substr(0, 400));
        CHECK_MESSAGE(contains(error, " bytes in all)"), error.substr(0, 400));
        CHECK(error.find('\xff') == std::string::npos);
    }
}

TEST_CASE("extxyz: a FIFO or a directory is refused without being opened") {
    TempDir dir("gapd_xyz");
    const std::string fifo = dir.file("frames.extxyz");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(contains(error_of(fifo), fifo + ": cannot read structure file: it is a FIFO (named pipe)"));
    CHECK(contains(error_of(dir.path), "cannot read structure file: it is a directory"));
}
