// Fuzz target: the extended XYZ reader (models/formats/extxyz.cpp) and gapd serve's template reader
// (server/serve/template_structure.cpp) on arbitrary file contents. Errors must be std::runtime_error naming the
// file; frames that were read and that write_extxyz accepts must read back with the same structure.

#include "fuzz_common.hpp"
#include "models/formats/extxyz.hpp"
#include "server/serve/template_structure.hpp"

#include <cmath>
#include <cstring>

namespace {

bool same_doubles(const double* a, const double* b, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k)
        if (!(a[k] == b[k] || (std::isnan(a[k]) && std::isnan(b[k])))) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const gapd::fuzz::ScratchFile input("in.extxyz");
    static const gapd::fuzz::ScratchFile output("out.extxyz");
    const std::string& path = input.write(data, size);

    try {
        const std::vector<int> numbers = gapd::read_template_numbers(path);
        if (numbers.empty()) gapd::fuzz::invariant_failed("template without atoms accepted");
    } catch (const std::runtime_error& e) {
        gapd::fuzz::check_error_names_file(e, path);
    }

    std::vector<gapd::ExtxyzFrame> frames;
    try {
        frames = gapd::read_extxyz(path);
    } catch (const std::runtime_error& e) {
        gapd::fuzz::check_error_names_file(e, path);
        return 0;
    }
    try {
        gapd::write_extxyz(output.path(), frames);
    } catch (const std::invalid_argument&) {
        return 0;  // e.g. an info key that cannot be written back
    }
    std::vector<gapd::ExtxyzFrame> again;
    try {
        again = gapd::read_extxyz(output.path());
    } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "written file not readable: %s\n", e.what());
        gapd::fuzz::invariant_failed("write_extxyz output not readable");
    }
    if (again.size() != frames.size()) gapd::fuzz::invariant_failed("frame count changed");
    for (std::size_t f = 0; f < frames.size(); ++f) {
        const gapd::Structure& a = frames[f].structure;
        const gapd::Structure& b = again[f].structure;
        if (a.numbers != b.numbers || a.pbc != b.pbc || a.positions.rows() != b.positions.rows() ||
            !same_doubles(a.cell.data(), b.cell.data(), 9) ||
            !same_doubles(a.positions.data(), b.positions.data(), static_cast<std::size_t>(a.positions.size())))
            gapd::fuzz::invariant_failed("extxyz round trip changed the structure");
        if (frames[f].arrays.size() != again[f].arrays.size()) gapd::fuzz::invariant_failed("arrays changed");
        for (const auto& [name, array] : frames[f].arrays) {
            const auto it = again[f].arrays.find(name);
            if (it == again[f].arrays.end() || it->second.rows() != array.rows() || it->second.cols() != array.cols() ||
                !same_doubles(array.data(), it->second.data(), static_cast<std::size_t>(array.size())))
                gapd::fuzz::invariant_failed("extxyz round trip changed an array");
        }
    }
    return 0;
}
