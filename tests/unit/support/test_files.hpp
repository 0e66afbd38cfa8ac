#pragma once
// Files in the unit tests: a temporary directory, whole-file reads and writes, gzip, and what a reader threw.
// Shared by the reader and bad-file tests (test_extxyz, test_native_model_file, test_librascal_model_reader,
// test_bad_files, test_gap_fit). The protocol tests have their own short-path TempDir (test_protocol_helpers.hpp:
// UNIX socket paths must fit 108 bytes).

#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

namespace gapd::testing {

// A fresh directory /tmp/<prefix>_XXXXXX, removed with everything in it at scope exit.
struct TempDir {
    std::string path;
    explicit TempDir(const std::string& prefix = "gapd_test") {
        std::string pattern = "/tmp/" + prefix + "_XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return path + "/" + name; }
    // Names of every entry, sorted (to find leftovers such as temporary files).
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename());
        std::sort(names.begin(), names.end());
        return names;
    }
};

inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("test: cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    if (!out) throw std::runtime_error("test: cannot write " + path);
}

// gzip (RFC 1952) in memory, as `gzip -6` writes it.
inline std::string gzip(const std::string& text) {
    std::string out(compressBound(static_cast<uLong>(text.size())) + 32, '\0');
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("test: deflateInit2 failed");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int status = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (status != Z_STREAM_END) throw std::runtime_error("test: deflate did not finish");
    return out;
}

// The message of whatever std::exception f threw, "(no error)" if it returned.
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}

// Stricter, for readers of hostile files: "" if f returned; the message of a std::runtime_error;
// "WRONG TYPE ..." for any other exception (readers must only throw std::runtime_error).
template <class F>
std::string failure_of(F&& f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("WRONG TYPE ") + typeid(e).name() + ": " + e.what();
    }
    return "";
}

// A reader's error: one line, starting with the file name.
inline void check_one_line_naming(const std::string& error, const std::string& path) {
    INFO("error: " << error);
    CHECK(!error.empty());
    CHECK(error.rfind(path, 0) == 0);
    CHECK(error.find('\n') == std::string::npos);
}

}  // namespace gapd::testing
