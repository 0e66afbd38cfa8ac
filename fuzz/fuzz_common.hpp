#pragma once
// Shared helpers of the libFuzzer targets (fuzz/README.md). Header-only; every target is one .cpp with
// LLVMFuzzerTestOneInput.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gapd::fuzz {

// A scratch file per process and name, in /dev/shm when available (tmpfs: no disk I/O), for readers that
// take a path. Removed at exit.
class ScratchFile {
public:
    explicit ScratchFile(const char* name) {
        const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        if (const char* env = std::getenv("GAPD_FUZZ_TMPDIR")) dir = env;
        path_ = std::string(dir) + "/gapd_fuzz_" + std::to_string(::getpid()) + "_" + name;
    }
    ~ScratchFile() { ::unlink(path_.c_str()); }

    // Replaces the file's content with data[0, size).
    const std::string& write(const std::uint8_t* data, std::size_t size) const {
        std::FILE* f = std::fopen(path_.c_str(), "wb");
        if (f == nullptr) {
            std::perror(path_.c_str());
            std::abort();
        }
        if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
        std::fclose(f);
        return path_;
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A failed invariant (not an expected, reported error): libFuzzer records the input as a crash.
[[noreturn]] inline void invariant_failed(const char* what) {
    std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
    std::abort();
}

// Longest reader error accepted besides the file name: input is only ever quoted by short excerpts
// (models/core/text_excerpt.hpp), so a 100 MB garbage line must not give a 100 MB message.
inline constexpr std::size_t kMaxErrorChars = 1024;

// Reader errors must be one line of bounded size that starts with the file name, without raw control bytes
// (docs/reliability.md).
inline void check_error_names_file(const std::runtime_error& e, const std::string& path) {
    const std::string what = e.what();
    if (what.rfind(path, 0) != 0) {
        std::fprintf(stderr, "error does not start with the file name: %s\n", e.what());
        invariant_failed("error message without the file name");
    }
    if (what.size() > path.size() + kMaxErrorChars) {
        std::fprintf(stderr, "error of %zu bytes: %.300s...\n", what.size(), e.what());
        invariant_failed("error message of unbounded size (input quoted whole?)");
    }
    for (const char c : what)
        if (static_cast<unsigned char>(c) < 0x20) invariant_failed("raw control byte in an error message");
}

}  // namespace gapd::fuzz
