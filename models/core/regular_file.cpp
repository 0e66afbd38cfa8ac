#include "models/core/regular_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace gapd {

namespace {

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    return "not a regular file";
}

}  // namespace

void require_regular_file(const std::string& path, const std::string& what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error(path + ": cannot read " + what + ": it is " + kind_of(st.st_mode) +
                                 ", not a regular file");
}

}  // namespace gapd
