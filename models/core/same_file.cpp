#include "models/core/same_file.hpp"

#include <sys/stat.h>

#include <stdexcept>

namespace gapd {

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa {}, sb {};
    if (a.empty() || b.empty() || ::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void refuse_output_over_input(const std::string& output, const std::vector<std::string>& inputs) {
    for (const std::string& input : inputs) {
        if (same_file(output, input))
            throw std::runtime_error(output + ": refusing to write over the input file " + input +
                                     " (the same file; choose another output path)");
    }
}

}  // namespace gapd
