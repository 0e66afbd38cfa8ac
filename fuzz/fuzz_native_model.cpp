// Fuzz target: gapd's native model reader (models/formats/native_model_file.cpp) on arbitrary file contents.
// Errors must be std::runtime_error (one line starting with the file name); an accepted model must survive a
// write -> read round trip unchanged.
//
// Two input forms, so that mutations reach the field checks instead of stopping at a checksum:
//  * a whole file (anything not starting with '{'): written as is, except that the header CRC-32 (bytes
//    20..23) is recomputed from the header bytes the prefix announces;
//  * a JSON header (starting with '{'): the harness builds the file around it: prefix, the header padded to
//    kDataStart, then kBlobSize bytes of finite float64 values; the "crc32" of every directory entry that
//    lies inside the file is recomputed (offsets are absolute, so the arrays start at kDataStart).
// The checksum checks themselves are covered by tests/unit/test_native_model_file.cpp and test_bad_files.cpp.

#include "fuzz_common.hpp"
#include "model_compare.hpp"
#include "models/formats/native_model_file.hpp"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <vector>

namespace {

constexpr std::size_t kDataStart = 65536;
constexpr std::size_t kBlobSize = 65536;

std::uint32_t crc_of(const std::uint8_t* p, std::size_t n) { return static_cast<std::uint32_t>(crc32_z(0L, p, n)); }

void put_le(std::uint8_t* out, std::uint64_t v, int n) {
    for (int k = 0; k < n; ++k) out[k] = static_cast<std::uint8_t>(v >> (8 * k));
}

const std::vector<std::uint8_t>& blob() {
    static const std::vector<std::uint8_t> bytes = [] {
        std::vector<std::uint8_t> b(kBlobSize);
        for (std::size_t k = 0; k < kBlobSize / 8; ++k) {
            const double x = 1.0 / static_cast<double>(k + 1) - 0.25;
            std::memcpy(b.data() + 8 * k, &x, 8);
        }
        return b;
    }();
    return bytes;
}

std::vector<std::uint8_t> file_from_header(const std::uint8_t* data, std::size_t size) {
    std::string header(reinterpret_cast<const char*>(data), size);
    try {
        nlohmann::json h = nlohmann::json::parse(header);
        if (h.is_object() && h.contains("arrays") && h["arrays"].is_array()) {
            for (auto& a : h["arrays"]) {
                if (!a.is_object() || !a.contains("offset") || !a.contains("nbytes") ||
                    !a["offset"].is_number_unsigned() || !a["nbytes"].is_number_unsigned())
                    continue;
                const auto offset = a["offset"].get<std::uint64_t>();
                const auto nbytes = a["nbytes"].get<std::uint64_t>();
                if (offset >= kDataStart && nbytes <= kBlobSize && offset - kDataStart <= kBlobSize - nbytes)
                    a["crc32"] = crc_of(blob().data() + (offset - kDataStart), nbytes);
            }
            header = h.dump();
        }
    } catch (const nlohmann::json::exception&) {
        // not JSON: the reader must say so
    }
    if (header.size() + 24 + 1 > kDataStart) return {};
    header.resize(kDataStart - 24, ' ');
    std::vector<std::uint8_t> file(24);
    std::memcpy(file.data(), "GAPDMODL", 8);
    put_le(file.data() + 8, 1, 4);
    put_le(file.data() + 12, header.size(), 8);
    put_le(file.data() + 20, crc_of(reinterpret_cast<const std::uint8_t*>(header.data()), header.size()), 4);
    file.insert(file.end(), header.begin(), header.end());
    file.insert(file.end(), blob().begin(), blob().end());
    return file;
}

std::vector<std::uint8_t> file_with_fixed_crc(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint8_t> bytes(data, data + size);
    if (size >= 24) {
        std::uint64_t header_size = 0;
        for (int k = 0; k < 8; ++k) header_size |= static_cast<std::uint64_t>(data[12 + k]) << (8 * k);
        if (header_size <= size - 24) put_le(bytes.data() + 20, crc_of(data + 24, header_size), 4);
    }
    return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const gapd::fuzz::ScratchFile input("native_in.gapd");
    static const gapd::fuzz::ScratchFile output("native_out.gapd");
    const std::vector<std::uint8_t> bytes =
        size > 0 && data[0] == '{' ? file_from_header(data, size) : file_with_fixed_crc(data, size);
    if (bytes.empty()) return 0;
    const std::string& path = input.write(bytes.data(), bytes.size());
    gapd::GapModel model;
    try {
        model = gapd::read_native_model(path);
    } catch (const std::runtime_error& e) {
        gapd::fuzz::check_error_names_file(e, path);
        return 0;
    }
    gapd::fuzz::check_native_round_trip(model, output.path());
    return 0;
}
